"""Pay a LiveTrainer's owed updates in a background thread, so message handling never waits on learning.

A single-threaded ROS executor takes one message per subscription per round; if learning ran in the same
rounds, a busy learner would read the robot's topics slower than they arrive and fall behind without
bound. Here the executor thread only stores transitions; this thread trains (torch releases the GIL in
its kernels). Every access to the trainer from either side holds `lock`.
"""
from __future__ import annotations

import threading

from residual_rl_ros.core.live_trainer import LiveTrainer


class BackgroundTrainer:
    def __init__(self, core: LiveTrainer, slice_s: float = 0.02, idle_s: float = 0.002) -> None:
        self.core = core
        self.slice_s, self.idle_s = slice_s, idle_s
        self.lock = threading.RLock()
        self.error: BaseException | None = None
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, name='residual-trainer-updates', daemon=True)

    def start(self) -> None:
        self._thread.start()

    def stop(self, timeout_s: float = 10.0) -> None:
        self._stop.set()
        if self._thread.is_alive():
            self._thread.join(timeout_s)

    @property
    def alive(self) -> bool:
        return self._thread.is_alive()

    def _run(self) -> None:
        try:
            while not self._stop.is_set():
                with self.lock:
                    done = self.core.train_for(self.slice_s)
                if not done:
                    self._stop.wait(self.idle_s)
        except BaseException as exc:        # surfaced by the owner (the node stops with it)
            self.error = exc
