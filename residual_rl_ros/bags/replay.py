"""Recorded bags -> transitions, with the core's one TransitionAssembler, into a LiveTrainer.

Observations, action records and episode events are fed in receive-time order; bag time is the
assembler's clock (so `grace_s` and the relabel window mean what they meant live), and every ended
episode is finalized at the end. `LiveTrainer.add` skips transitions whose (episode_id, tick, stamp) is
stored already, so feeding the whole recording to a trainer resumed from its checkpoint adds exactly the
transitions stored since that checkpoint.

Each recording session (the splits `<prefix>_NNNN` of one recorder run) gets its own assembler, in name
order: a restarted graph numbers episodes from 1 again, which one assembler would take for late records.
"""
from __future__ import annotations

import dataclasses
import itertools
import re
import time
from pathlib import Path
from typing import Callable, Iterable, Iterator

import numpy as np

from residual_rl_ros.bags.decode import (ACTION_RECORD, EPISODE_EVENT, OBSERVATION, decode_event,
                                         decode_observation, decode_record)
from residual_rl_ros.bags.reader import BagMessage, BagReadError, read_messages, storage_files
from residual_rl_ros.core.episodes import EventKind
from residual_rl_ros.core.live_trainer import LiveTrainer
from residual_rl_ros.core.transitions import TransitionAssembler
from residual_rl_ros.core.types import Transition

TRANSITION_TYPES = (OBSERVATION, ACTION_RECORD, EPISODE_EVENT)
_FLUSH_EVERY_NS = 100_000_000          # finalize ended episodes at most every 0.1 s of bag time
_BATCH = 64                            # transitions handed on at once (fewer generator round trips)


@dataclasses.dataclass
class IngestStats:
    messages: int = 0
    transitions: int = 0         # rebuilt by the assembler
    added: int = 0               # stored (not already in the trainer)
    episodes: int = 0
    seconds: float = 0.0

    @property
    def transitions_per_s(self) -> float:
        return self.transitions / self.seconds if self.seconds else 0.0


def assembler_for(trainer: LiveTrainer, relabel_window_s: float = 0.0) -> TransitionAssembler:
    """The assembler the trainer node uses: actions normalized with the learner's normalizer, clipped."""
    normalizer = trainer.learner.action_normalizer

    def normalize(action: np.ndarray) -> np.ndarray:    # = normalizer.normalize(action).clip(-1, 1), in place
        x = np.subtract(action, normalizer.center, dtype=np.float64)
        np.divide(x, normalizer.half_range, out=x)
        np.maximum(x, -1.0, out=x)
        return np.minimum(x, 1.0, out=x)
    return TransitionAssembler(normalize, relabel_window_s=relabel_window_s)


def transitions(messages: Iterable[BagMessage], assembler: TransitionAssembler,
                stats: IngestStats | None = None) -> Iterator[list[Transition]]:
    """Feed messages to `assembler`; yield the transitions in order, in batches that end at every step
    that ended an episode (drain `assembler.ended` before the next batch, as the trainer node does). Observations with
    stale sensors are skipped, as the trainer does. A bag that ends in a truncated (or still open) split
    raises BagReadError after the episodes that ended in its readable part are finished and yielded."""
    stats = stats if stats is not None else IngestStats()
    try:
        yield from _transitions(messages, assembler, stats)
    except BagReadError:
        out = assembler.flush(0.0, force=True)   # what was read is intact: finish its ended episodes
        if out or assembler.ended:
            stats.transitions += len(out)
            yield out
        raise


def _transitions(messages: Iterable[BagMessage], assembler: TransitionAssembler,
                 stats: IngestStats) -> Iterator[list[Transition]]:
    last_flush_ns = now_ns = 0
    pending: list[Transition] = []     # yielded in batches: at most _BATCH, and whenever an episode ended
    try:
        for message in messages:
            stats.messages += 1
            now_ns, msgtype = message.stamp_ns, message.msgtype
            if msgtype == OBSERVATION:
                stamp, observation, stale = decode_observation(message.data)
                if not stale:
                    pending += assembler.add_observation(stamp, observation)
            elif msgtype == ACTION_RECORD:
                pending += assembler.add_record(decode_record(message.data))
            elif msgtype == EPISODE_EVENT:
                pending += assembler.add_event(decode_event(message.data), now_ns * 1e-9)
            else:
                continue
            if now_ns - last_flush_ns >= _FLUSH_EVERY_NS:
                pending += assembler.flush(now_ns * 1e-9)
                last_flush_ns = now_ns
            if assembler.ended or len(pending) >= _BATCH:   # episodes end before any later transition
                stats.transitions += len(pending)
                yield pending
                pending = []
    except BagReadError:
        if pending:                     # what was read before the broken part is handed on first
            stats.transitions += len(pending)
            yield pending
        raise
    pending += assembler.flush(now_ns * 1e-9, force=True)
    if pending or assembler.ended:
        stats.transitions += len(pending)
        yield pending


def feed_trainer(trainer: LiveTrainer, paths: Iterable[str | Path], after_add: Callable[[], None] | None = None,
                 progress: Callable[[IngestStats], None] | None = None,
                 progress_period_s: float = 0.5, relabel_window_s: float = 0.0) -> IngestStats:
    """Store every transition recorded in the bags under `paths` that `trainer` does not hold yet.

    `after_add` runs after each stored transition (an offline trainer pays its owed updates there);
    `progress` gets the running stats about every `progress_period_s`. Episodes end in the trainer (its
    episodes.jsonl, success window) only when at least one of their transitions was newly stored.
    """
    stats = IngestStats()
    start = next_report = time.monotonic()
    for files in sessions(paths):
        assembler = assembler_for(trainer, relabel_window_s)
        touched: set[int] = set()
        for batch in transitions(read_messages(files, TRANSITION_TYPES), assembler, stats):
            if after_add is None:                    # no update between steps: store the batch at once
                stored = trainer.add_many(batch)
            else:
                stored = []
                for transition in batch:
                    if trainer.add(transition):
                        stored.append(transition)
                        after_add()
            stats.added += len(stored)
            touched.update(t.source[0] for t in stored)
            for end in assembler.ended:
                stats.episodes += 1
                if end.episode_id in touched:
                    aborted = end.kind in (EventKind.ABORT, EventKind.TIMEOUT)
                    success = None if aborted else end.kind == EventKind.SUCCESS
                    trainer.end_episode(end.episode_id, success, end.evaluation)
            assembler.ended.clear()
            if progress is not None and time.monotonic() >= next_report:
                stats.seconds = time.monotonic() - start
                progress(stats)
                next_report = time.monotonic() + progress_period_s
    stats.seconds = time.monotonic() - start
    return stats


def sessions(paths: Iterable[str | Path]) -> list[list[Path]]:
    """Storage files grouped by recording session (split folder or file name without `_NNNN`), in order."""
    def session(path: Path) -> str:
        name = path.parent.name if path.parent.joinpath('metadata.yaml').exists() else path.stem
        return re.sub(r'_\d{4}$', '', name)
    files = sorted(storage_files(paths), key=lambda f: (session(f), str(f)))
    return [list(group) for _, group in itertools.groupby(files, key=session)]
