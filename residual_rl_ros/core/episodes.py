"""Episode bookkeeping shared by every source of episode events (buttons, services, the simulator).

Event kinds and sources mirror residual_rl_ros/msg/EpisodeEvent.msg (a ROS-tier test keeps them equal).
SUCCESS and FAILURE terminate an episode (no bootstrapping past it); ABORT and TIMEOUT truncate it.

Lifecycle (EpisodeLifecycle): idle -> running -> ended (labelled: success/failure, or truncated:
timeout/abort) -> resetting -> idle. Within `label_window_s` of an episode's last change:

* a late label (success/failure after a timeout or abort, even while resetting or while the next episode
  runs) is attached to that episode by id;
* the same label twice is ignored with a message (double click); a different label needs an undo first;
* undo of the most recent label publishes UNDO and then the corrected outcome (the outcome before that
  label, or ABORT when the label itself ended the episode), so a consumer that applies "last ending event
  wins" per episode id stays right.
"""
from __future__ import annotations

import collections
import dataclasses
import enum


class EventKind(enum.IntEnum):
    START = 0
    SUCCESS = 1
    FAILURE = 2
    ABORT = 3
    TIMEOUT = 4
    RESET = 5
    UNDO = 6


class EventSource(enum.IntEnum):
    OPERATOR = 0
    AUTO = 1
    SIM = 2


TERMINATING = frozenset({EventKind.SUCCESS, EventKind.FAILURE})
TRUNCATING = frozenset({EventKind.ABORT, EventKind.TIMEOUT})
ENDING = TERMINATING | TRUNCATING


@dataclasses.dataclass(frozen=True)
class EpisodeEvent:
    kind: EventKind
    source: EventSource
    episode_id: int
    note: str = ''
    evaluation: bool = False        # START of an evaluation episode (no exploration)


class Phase(enum.Enum):
    IDLE = 'idle'
    RUNNING = 'running'
    RESETTING = 'resetting'


@dataclasses.dataclass
class EpisodeRecord:
    """One episode as the authority sees it: its outcome history (last entry = current outcome)."""

    episode_id: int
    start_s: float
    end_s: float | None = None
    changed_s: float = 0.0                  # time of the last end / label / undo
    outcomes: list[EventKind] = dataclasses.field(default_factory=list)

    @property
    def outcome(self) -> EventKind | None:
        return self.outcomes[-1] if self.outcomes else None


@dataclasses.dataclass(frozen=True)
class Decision:
    """What a request led to: events to publish (in order), whether it was accepted, and why."""

    accepted: bool
    message: str
    events: tuple[EpisodeEvent, ...] = ()


class EpisodeLifecycle:
    """The episode authority's state machine (see the module docstring). Times are seconds, monotonic."""

    def __init__(self, first_episode_id: int = 1, label_window_s: float = 3.0, history: int = 100) -> None:
        if label_window_s < 0:
            raise ValueError(f'label_window_s must be >= 0, got {label_window_s}')
        self._next_id = first_episode_id
        self.label_window_s = label_window_s
        self.phase = Phase.IDLE
        self.episodes: collections.OrderedDict[int, EpisodeRecord] = collections.OrderedDict()
        self.history = history
        self.current: int | None = None          # the running episode
        self.last_ended: int | None = None
        self._last_label: tuple[int, float] | None = None   # (episode id, time) of the newest label

    @property
    def running(self) -> bool:
        return self.phase == Phase.RUNNING

    def start(self, source: EventSource, now_s: float, note: str = '', evaluation: bool = False) -> Decision:
        if self.phase == Phase.RUNNING:
            return Decision(False, f'episode {self.current} is still running: label or abort it first')
        if self.phase == Phase.RESETTING:
            return Decision(False, 'resetting: wait until the reset is done')
        episode_id, self._next_id = self._next_id, self._next_id + 1
        self.current, self.phase = episode_id, Phase.RUNNING
        self.episodes[episode_id] = EpisodeRecord(episode_id, now_s, changed_s=now_s)
        while len(self.episodes) > self.history:
            self.episodes.popitem(last=False)
        return Decision(True, f'episode {episode_id}: START',
                        (EpisodeEvent(EventKind.START, source, episode_id, note, evaluation),))

    def end(self, kind: EventKind, source: EventSource, now_s: float, episode_id: int = 0,
            note: str = '') -> Decision:
        """End the running episode, or label a recently ended one (late label); see the module docstring.

        `episode_id` 0 means the running episode, else the most recently ended one.
        """
        if kind not in ENDING:
            raise ValueError(f'{kind.name} does not end an episode (expected one of '
                             f'{sorted(k.name for k in ENDING)})')
        if episode_id == 0:
            episode_id = self.current if self.current is not None else (self.last_ended or 0)
        record = self.episodes.get(episode_id)
        if record is None:
            return Decision(False, f'no episode is running or recently ended: cannot record {kind.name}'
                            if episode_id == 0 else
                            f'episode {episode_id} is unknown or too old to label')
        if episode_id == self.current:
            record.end_s = record.changed_s = now_s
            record.outcomes.append(kind)
            self.current, self.last_ended, self.phase = None, episode_id, Phase.IDLE
            if kind in TERMINATING:
                self._last_label = (episode_id, now_s)
            return Decision(True, f'episode {episode_id}: {kind.name}', (EpisodeEvent(kind, source, episode_id, note),))
        return self._relabel(record, kind, source, now_s, note)

    def _relabel(self, record: EpisodeRecord, kind: EventKind, source: EventSource, now_s: float,
                 note: str) -> Decision:
        name, outcome = f'episode {record.episode_id}', record.outcome
        if outcome == kind:
            return Decision(True, f'{name} is already {kind.name}: ignored (double click)')
        if now_s - record.changed_s > self.label_window_s:
            return Decision(False, f'{name} ended {now_s - record.changed_s:.1f} s ago: too late to label '
                            f'(label_window_s {self.label_window_s})')
        if outcome in TERMINATING:
            return Decision(False, f'{name} is already labelled {outcome.name}: undo it first')
        if kind in TRUNCATING:
            return Decision(True, f'{name} already ended ({outcome.name}): {kind.name} ignored')
        record.outcomes.append(kind)
        record.changed_s = now_s
        self._last_label = (record.episode_id, now_s)
        return Decision(True, f'{name}: late {kind.name} (after {outcome.name})',
                        (EpisodeEvent(kind, source, record.episode_id, note or f'late label after {outcome.name}'),))

    def undo(self, source: EventSource, now_s: float) -> Decision:
        """Take back the most recent success/failure label within label_window_s."""
        if self._last_label is None:
            return Decision(False, 'nothing to undo')
        episode_id, labelled_s = self._last_label
        record = self.episodes.get(episode_id)
        if record is None or now_s - labelled_s > self.label_window_s:
            return Decision(False, f'the last label (episode {episode_id}) is older than '
                            f'label_window_s {self.label_window_s}: too late to undo')
        undone = record.outcomes.pop()
        corrected = record.outcomes[-1] if record.outcomes else EventKind.ABORT
        if not record.outcomes:
            record.outcomes.append(corrected)
        record.changed_s, self._last_label = now_s, None
        return Decision(True, f'episode {episode_id}: {undone.name} undone, now {corrected.name}', (
            EpisodeEvent(EventKind.UNDO, source, episode_id, f'undo {undone.name}'),
            EpisodeEvent(corrected, source, episode_id, f'corrected after undo of {undone.name}')))

    def begin_reset(self, source: EventSource, note: str = '') -> Decision:
        """Enter the reset phase (the robot returns to its reset pose); refused while an episode runs."""
        if self.phase == Phase.RUNNING:
            return Decision(False, f'episode {self.current} is running: end it before resetting')
        self.phase = Phase.RESETTING
        return Decision(True, 'resetting', (EpisodeEvent(EventKind.RESET, source, self.last_ended or 0, note),))

    def finish_reset(self) -> None:
        if self.phase == Phase.RESETTING:
            self.phase = Phase.IDLE
