"""Learn in a background thread, so that handling the robot's messages never waits on learning.

A single-threaded ROS executor takes one message per subscription per round; if learning ran in the same
rounds, a busy learner would read the robot's topics slower than they arrive and fall behind without
bound. Here the executor thread only assembles transitions and `submit`s them (a lock-free append); this
thread stores them, in order, and trains in short slices (torch releases the GIL in its kernels). Anything
else that touches the trainer from another thread does so inside `locked()`, which this thread yields to.
"""
from __future__ import annotations

import collections
import contextlib
import threading
import time
from typing import Callable, Iterator

from residual_rl_ros.core.live_trainer import LiveTrainer
from residual_rl_ros.core.types import Transition

EpisodeEnd = tuple[int, 'bool | None', bool]            # episode id, success (None: no label), evaluation
OnEpisodeEnd = Callable[[int, 'bool | None', bool], None]


class BackgroundTrainer:
    def __init__(self, core: LiveTrainer, on_episode_end: OnEpisodeEnd | None = None, slice_s: float = 0.01,
                 idle_s: float = 0.002) -> None:
        self.core = core
        self.on_episode_end = on_episode_end
        self.slice_s, self.idle_s = slice_s, idle_s
        self.error: BaseException | None = None
        self._lock = threading.RLock()
        self._waiting = 0
        self._inbox: collections.deque[Transition | EpisodeEnd] = collections.deque()
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, name='residual-trainer-updates', daemon=True)

    def start(self) -> None:
        self._thread.start()

    def stop(self, timeout_s: float = 10.0) -> None:
        self._stop.set()
        if self._thread.is_alive():
            self._thread.join(timeout_s)
        self.drain()

    @property
    def alive(self) -> bool:
        return self._thread.is_alive()

    @property
    def pending(self) -> int:
        return len(self._inbox)

    def submit(self, transition: Transition) -> None:
        self._inbox.append(transition)

    def submit_episode_end(self, episode_id: int, success: bool | None, evaluation: bool = False) -> None:
        """Ends the episode after every transition submitted before it has been stored."""
        self._inbox.append((episode_id, success, evaluation))

    @contextlib.contextmanager
    def locked(self) -> Iterator[LiveTrainer]:
        """Exclusive access to the trainer (the learning thread pauses between two slices)."""
        self._waiting += 1
        with self._lock:
            self._waiting -= 1
            yield self.core

    def drain(self) -> int:
        """Store everything submitted so far (in order); returns how many items were handled."""
        handled = 0
        with self._lock:
            while self._inbox:
                item = self._inbox.popleft()
                handled += 1
                if isinstance(item, tuple):
                    self.core.end_episode(*item)
                    if self.on_episode_end is not None:
                        self.on_episode_end(*item)
                else:
                    self.core.add(item)
        return handled

    def _run(self) -> None:
        try:
            while not self._stop.is_set():
                handled = self.drain()
                with self._lock:
                    trained = self.core.train_for(self.slice_s)
                if self._waiting:
                    time.sleep(0.0005)       # let a waiting thread take the lock
                elif not (handled or trained):
                    self._stop.wait(self.idle_s)
        except BaseException as exc:        # surfaced by the owner (the node stops with it)
            self.error = exc
