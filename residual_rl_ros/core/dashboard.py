"""What the operator page shows, folded from the graph's messages (ROS-free; the operator_ui node feeds it).

Episodes are keyed by id, so a late label or an UNDO + corrected label lands on the right row; the
success rate counts the last `window` labelled (success/failure) episodes; the intervention rate is the
share of intervention steps over the last `window` episodes. Thread-safe: the node's executor writes,
the web server's threads read `snapshot()`.
"""
from __future__ import annotations

import collections
import math
import threading
import time
from typing import Any

from residual_rl_ros.core.episodes import ENDING, TERMINATING, EventKind

OPERATOR_KEYS = {'s': 'start', 'y': 'success', 'n': 'failure', 'a': 'abort', 'u': 'undo', 'e': 'estop',
                 'p': 'pause', 'r': 'resume'}
ACTIONS = ('start', 'success', 'failure', 'abort', 'undo', 'estop', 'reset_estop', 'pause', 'resume', 'pin')


def parse_button_map(entries: list[str]) -> dict[int, str]:
    """["0:success", "1:failure"] -> {0: 'success', 1: 'failure'}; ValueError naming a bad entry."""
    mapping: dict[int, str] = {}
    for entry in entries:
        index, _, action = entry.partition(':')
        if not index.strip().isdigit() or action.strip() not in ACTIONS or action.strip() == 'pin':
            raise ValueError(f'joy_buttons entry {entry!r}: expected "index:action" with action one of '
                             f'{[a for a in ACTIONS if a != "pin"]}')
        mapping[int(index)] = action.strip()
    return mapping


def _finite(value: float) -> float | None:
    return float(value) if value is not None and math.isfinite(value) else None


class Dashboard:
    """Operator-facing state: episodes, labels, training curves, buffers, safety, action log."""

    def __init__(self, window: int = 20, history: int = 50, curve_points: int = 300) -> None:
        self.window = window
        self._lock = threading.Lock()
        self.episodes: collections.OrderedDict[int, dict[str, Any]] = collections.OrderedDict()
        self.history = history
        self.current: int | None = None
        self.phase = 'idle'
        self.trainer: dict[str, Any] = {}
        self.curves: collections.deque[dict[str, Any]] = collections.deque(maxlen=curve_points)
        self.safety: dict[str, Any] = {}
        self.health: dict[str, dict[str, Any]] = {}     # diagnostic status name -> level, message, behaviour
        self.log: collections.deque[str] = collections.deque(maxlen=30)
        self.acting_version = 0
        self.revision = 0

    def _episode(self, episode_id: int, now_s: float) -> dict[str, Any]:
        if episode_id not in self.episodes:
            self.episodes[episode_id] = {'id': episode_id, 'start_s': now_s, 'end_s': None, 'outcome': None,
                                         'steps': 0, 'interventions': 0, 'labels': []}
            while len(self.episodes) > self.history:
                self.episodes.popitem(last=False)
        return self.episodes[episode_id]

    def on_event(self, kind: EventKind, episode_id: int, now_s: float | None = None) -> None:
        now_s = time.time() if now_s is None else now_s
        with self._lock:
            self.revision += 1
            if kind == EventKind.START:
                self._episode(episode_id, now_s)
                self.current, self.phase = episode_id, 'running'
            elif kind == EventKind.RESET:
                self.phase = 'resetting'
            elif episode_id and (kind in ENDING or kind == EventKind.UNDO):
                episode = self._episode(episode_id, now_s)
                episode['labels'].append(kind.name)
                if kind in ENDING:
                    episode['outcome'] = kind.name
                if episode['end_s'] is None:
                    episode['end_s'] = now_s
                if self.current == episode_id:
                    self.current, self.phase = None, 'idle'

    def on_record(self, episode_id: int, intervention: bool, policy_version: int) -> None:
        with self._lock:
            episode = self.episodes.get(episode_id)
            if episode is not None:
                episode['steps'] += 1
                episode['interventions'] += int(intervention)
            self.acting_version = policy_version
            self.revision += 1

    def on_trainer(self, fields: dict[str, Any], now_s: float | None = None) -> None:
        now_s = time.time() if now_s is None else now_s
        with self._lock:
            self.trainer = dict(fields)
            self.curves.append({'t': now_s, 'critic_loss': _finite(fields.get('critic_loss')),
                                'q_mean': _finite(fields.get('q_mean')),
                                'critic_updates': fields.get('critic_updates', 0),
                                'policy_version': fields.get('policy_version', 0)})
            self.revision += 1

    def on_safety(self, fields: dict[str, Any]) -> None:
        with self._lock:
            if fields != self.safety:
                self.safety = dict(fields)
                self.revision += 1

    def on_health(self, name: str, level: int, message: str, behaviour: str = '',
                  now_s: float | None = None) -> None:
        """One diagnostics status (a watchdog's verdict); a change of level is also noted in the log."""
        now_s = time.time() if now_s is None else now_s
        entry = {'name': name, 'level': int(level), 'message': message, 'behaviour': behaviour}
        with self._lock:
            previous = self.health.get(name)
            self.health[name] = dict(entry, t=now_s)
            if previous is None or previous['level'] != entry['level']:
                word = ('OK', 'WARN', 'ERROR', 'STALE')[min(max(entry['level'], 0), 3)]
                self.log.appendleft(f'{time.strftime("%H:%M:%S")} {name}: {word} {message}')
            if previous is None or {k: previous[k] for k in entry} != entry:
                self.revision += 1

    def note(self, message: str) -> None:
        with self._lock:
            self.log.appendleft(f'{time.strftime("%H:%M:%S")} {message}')
            self.revision += 1

    def success_rate(self) -> float | None:
        labelled = [e['outcome'] for e in self.episodes.values() if e['outcome'] in {k.name for k in TERMINATING}]
        recent = labelled[-self.window:]
        return sum(o == EventKind.SUCCESS.name for o in recent) / len(recent) if recent else None

    def intervention_rate(self) -> float | None:
        recent = list(self.episodes.values())[-self.window:]
        steps = sum(e['steps'] for e in recent)
        return sum(e['interventions'] for e in recent) / steps if steps else None

    def snapshot(self) -> dict[str, Any]:
        """Everything the page shows, JSON-ready (times are wall-clock seconds; the page ticks elapsed time)."""
        with self._lock:
            current = self.episodes.get(self.current) if self.current is not None else None
            return {
                'revision': self.revision, 'phase': self.phase, 'window': self.window,
                'current': None if current is None else {
                    'id': current['id'], 'steps': current['steps'], 'interventions': current['interventions'],
                    'start_s': current['start_s']},
                'episodes': [dict(e) for e in reversed(list(self.episodes.values())[-12:])],
                'success_rate': self.success_rate(), 'intervention_rate': self.intervention_rate(),
                'trainer': dict(self.trainer), 'curves': list(self.curves), 'safety': dict(self.safety),
                'health': sorted((dict(h) for h in self.health.values()), key=lambda h: (-h['level'], h['name'])),
                'acting_version': self.acting_version, 'log': list(self.log)}
