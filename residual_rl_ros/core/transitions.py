"""Rebuild learning transitions from what the graph publishes: observations, action records, events.

The same assembler serves live topics (trainer node) and recorded bags, so the two never drift apart.
Inputs arrive in any interleaving; each action record names the observation it was computed from
(by stamp) and its episode. A transition t is emitted when record t+1 of the same episode is known
(its observation is t's next observation, its base action and phase t's next ones), or when the
episode's end event is finalized:

* SUCCESS -> last transition has reward 1 and terminated; FAILURE -> reward 0, terminated;
* TIMEOUT / ABORT -> truncated: the last record has no successor to bootstrap from, so it is dropped
  (counted in `stats['dropped_truncated_tail']`).

End events are finalized after `grace_s` (records still in flight may arrive after the event) or as
soon as a later episode starts, but never sooner than `relabel_window_s` after the episode's last end
event: until then a later ending event for the same id replaces the end (a late label, or the corrected
label that follows an UNDO; "last one wins"), and an UNDO alone leaves the episode truncated (ABORT).
Labels for an episode already finalized are counted in `stats['late_labels_dropped']`. A record repeating
the episode's previous one (same tick and observation stamp, e.g. published twice) is dropped and counted
in `stats['duplicate_records']`: kept, it would pair a step with itself.

Each record's base and executed actions are normalized once, when the record meets its observation:
transition t's `next_base_action` is the very array that is transition t+1's `base_action`, and its
`next_observation` the very object that is t+1's `observation` (the replay buffer relies on this to see
at no cost that t+1 continues t's episode). Arrays handed in are treated as immutable.
"""
from __future__ import annotations

import dataclasses
from collections import OrderedDict
from typing import Callable

import numpy as np

from residual_rl_ros.core.episodes import ENDING, EpisodeEvent, EventKind, TERMINATING
from residual_rl_ros.core.types import Observation, Transition

Normalize = Callable[[np.ndarray], np.ndarray]


@dataclasses.dataclass(slots=True)
class ActionRecord:
    """One control tick as decided and executed (robot units; mirrors msg/PolicyActionRecord). Treated as
    immutable; not frozen only because a frozen dataclass costs twice as much to build, once per tick."""

    episode_id: int
    tick: int
    observation_stamp_ns: int
    base_action: np.ndarray
    executed_action: np.ndarray
    chunk_phase: int
    chunk_length: int
    policy_version: int = 0
    intervention: bool = False


@dataclasses.dataclass(slots=True)
class _Step:
    record: ActionRecord
    observation: Observation
    base_action: np.ndarray          # normalized
    executed_action: np.ndarray      # normalized


@dataclasses.dataclass(slots=True)
class _Episode:
    steps: list[_Step] = dataclasses.field(default_factory=list)
    end: EpisodeEvent | None = None
    end_time_s: float = 0.0
    emitted: int = 0


class TransitionAssembler:
    """Turns the three input streams into Transitions with normalized actions.

    `normalize_action` works elementwise along the last axis (robot units -> normalized, clipped); it is
    called once per record with the base and executed actions stacked, shape (2, A).
    """

    def __init__(self, normalize_action: Normalize, grace_s: float = 0.5, max_pending: int = 10_000,
                 relabel_window_s: float = 0.0) -> None:
        self.normalize_action = normalize_action
        self.grace_s = grace_s
        self.relabel_window_s = relabel_window_s
        self.max_pending = max_pending
        self._observations: OrderedDict[int, Observation] = OrderedDict()
        self._waiting: list[ActionRecord] = []     # records whose observation has not arrived yet
        self._episodes: dict[int, _Episode] = {}
        self._finished: set[int] = set()
        self._evaluation: set[int] = set()         # episodes whose START said evaluation
        self.ended: list[EpisodeEvent] = []        # finalized episodes' end events (evaluation = as started)
        self.stats = {'transitions': 0, 'episodes': 0, 'successes': 0, 'dropped_truncated_tail': 0,
                      'late_records': 0, 'unmatched_records': 0, 'relabels': 0, 'undos': 0,
                      'late_labels_dropped': 0, 'duplicate_records': 0}

    @property
    def records_waiting(self) -> int:
        """Records held until their observation arrives."""
        return len(self._waiting)

    def add_observation(self, stamp_ns: int, observation: Observation) -> list[Transition]:
        observations = self._observations
        observations[stamp_ns] = observation
        if len(observations) > self.max_pending:
            observations.popitem(last=False)
        out: list[Transition] = []
        if self._waiting:
            waiting, self._waiting = self._waiting, []
            for record in waiting:
                out += self.add_record(record)
        return out

    def add_record(self, record: ActionRecord) -> list[Transition]:
        if record.episode_id in self._finished:
            self.stats['late_records'] += 1
            return []
        observation = self._observations.get(record.observation_stamp_ns)
        if observation is None:
            self._waiting.append(record)
            if len(self._waiting) > self.max_pending:
                self._waiting.pop(0)
                self.stats['unmatched_records'] += 1
            return []
        episode = self._episodes.get(record.episode_id)
        if episode is None:
            episode = self._episodes[record.episode_id] = _Episode()
        elif episode.steps and (episode.steps[-1].record.tick == record.tick
                                and episode.steps[-1].record.observation_stamp_ns == record.observation_stamp_ns):
            self.stats['duplicate_records'] += 1        # the same tick again: it would make a zero-step transition
            return []
        base, executed = self.normalize_action(np.array((record.base_action, record.executed_action), np.float64))
        episode.steps.append(_Step(record, observation, base, executed))
        return self._emit_ready(episode) if len(episode.steps) > episode.emitted + 1 else []

    def add_event(self, event: EpisodeEvent, now_s: float) -> list[Transition]:
        """Record an episode event; a START finalizes every earlier ended episode at once."""
        out: list[Transition] = []
        if event.kind in ENDING or event.kind == EventKind.UNDO:
            if event.episode_id in self._finished:
                self.stats['late_labels_dropped'] += 1
                return out
            episode = self._episodes.setdefault(event.episode_id, _Episode())
            if event.kind == EventKind.UNDO:
                self.stats['undos'] += 1
                event = EpisodeEvent(EventKind.ABORT, event.source, event.episode_id, event.note)
            elif episode.end is not None:
                self.stats['relabels'] += 1
            episode.end, episode.end_time_s = event, now_s
        elif event.kind == EventKind.START:
            if event.evaluation:
                self._evaluation.add(event.episode_id)
            for episode_id in sorted(self._episodes):
                episode = self._episodes[episode_id]
                if (episode_id < event.episode_id and episode.end is not None
                        and now_s - episode.end_time_s >= self.relabel_window_s):
                    out += self._finalize(episode_id)
        return out

    def flush(self, now_s: float, force: bool = False) -> list[Transition]:
        """Finalize ended episodes whose grace period has passed (all of them when `force`)."""
        out: list[Transition] = []
        for episode_id, episode in sorted(self._episodes.items()):
            wait_s = max(self.grace_s, self.relabel_window_s)
            if episode.end is not None and (force or now_s - episode.end_time_s >= wait_s):
                out += self._finalize(episode_id)
        return out

    def _emit_ready(self, episode: _Episode) -> list[Transition]:
        out, steps = [], episode.steps
        while episode.emitted + 1 < len(steps):
            out.append(self._transition(steps[episode.emitted], steps[episode.emitted + 1], 0.0, False))
            episode.emitted += 1
        return out

    def _finalize(self, episode_id: int) -> list[Transition]:
        episode = self._episodes.pop(episode_id)
        self._finished.add(episode_id)
        evaluation = episode_id in self._evaluation
        self._evaluation.discard(episode_id)
        self.ended.append(dataclasses.replace(episode.end, evaluation=evaluation))
        out = self._emit_ready(episode)
        self.stats['episodes'] += 1
        if not episode.steps or episode.emitted >= len(episode.steps):
            return out
        if episode.end.kind in TERMINATING:
            success = episode.end.kind == EventKind.SUCCESS
            self.stats['successes'] += int(success)
            out.append(self._transition(episode.steps[-1], episode.steps[-1], float(success), True))
        else:
            self.stats['dropped_truncated_tail'] += 1
        return out

    def _transition(self, step: _Step, nxt: _Step, reward: float, terminated: bool) -> Transition:
        """Transition from `step` to `nxt` (the same step for a terminal transition)."""
        self.stats['transitions'] += 1
        record = step.record
        return Transition(observation=step.observation, base_action=step.base_action, chunk_phase=record.chunk_phase,
                          action=step.executed_action, reward=reward, next_observation=nxt.observation,
                          next_base_action=nxt.base_action, next_chunk_phase=nxt.record.chunk_phase,
                          terminated=terminated, truncated=False, intervention=record.intervention,
                          source=(record.episode_id, record.tick, record.observation_stamp_ns))
