"""Episode bookkeeping shared by every source of episode events (buttons, services, the simulator).

Event kinds and sources mirror residual_rl_ros/msg/EpisodeEvent.msg (a ROS-tier test keeps them equal).
SUCCESS and FAILURE terminate an episode (no bootstrapping past it); ABORT and TIMEOUT truncate it.
"""
from __future__ import annotations

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


class EpisodeTracker:
    """Numbers episodes and checks that events arrive in a valid order (idle -> running -> ended)."""

    def __init__(self, first_episode_id: int = 1) -> None:
        self._next_id = first_episode_id
        self.current: int | None = None   # id of the running episode, None when idle
        self.last_ended: int | None = None

    @property
    def running(self) -> bool:
        return self.current is not None

    def start(self, source: EventSource, note: str = '') -> EpisodeEvent:
        """Begin a new episode; ValueError while one is running."""
        if self.current is not None:
            raise ValueError(f'episode {self.current} is still running: label or abort it first')
        self.current, self._next_id = self._next_id, self._next_id + 1
        return EpisodeEvent(EventKind.START, source, self.current, note)

    def end(self, kind: EventKind, source: EventSource, episode_id: int = 0, note: str = '') -> EpisodeEvent:
        """End the running episode with `kind` (success/failure/abort/timeout); ValueError if invalid.

        `episode_id` 0 means the running episode; another id must name the running episode.
        """
        if kind not in ENDING:
            raise ValueError(f'{kind.name} does not end an episode (expected one of '
                             f'{sorted(k.name for k in ENDING)})')
        if self.current is None:
            raise ValueError(f'no episode is running: cannot record {kind.name}')
        if episode_id not in (0, self.current):
            raise ValueError(f'episode {episode_id} is not the running episode ({self.current})')
        ended, self.current, self.last_ended = self.current, None, self.current
        return EpisodeEvent(kind, source, ended, note)
