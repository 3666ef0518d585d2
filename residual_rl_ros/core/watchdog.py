"""Watchdogs of the graph: who went silent, how bad it is, and what the graph does about it (pure timing).

Each watch turns arrival times into a `Check` (a diagnostic_msgs level, a message naming the input and
its age, and the behaviour the graph applies). Nodes feed arrivals and the time, and publish the checks as
diagnostic_msgs/DiagnosticStatus; nothing here reads a clock or raises on late data.

| watch     | input                                         | level             | behaviour                          |
|-----------|-----------------------------------------------|-------------------|------------------------------------|
| sensors   | ticks flagged with stale sensors (ingestion)  | WARN (ERROR when  | base gives no action: the safety   |
|           | or no joint state at all                      | nothing arrives)  | node holds the previous command    |
| base      | `base_action` silent while observations flow  | ERROR             | no proposal: safety holds          |
| residual  | `action_proposal` silent while episodes run   | ERROR             | safety holds (command timeout)     |
| trainer   | `trainer_status` silent, or its env steps     | WARN, then ERROR  | the residual keeps running its     |
|           | frozen while records are executed             |                   | current weights; nothing is lost:  |
|           |                                               |                   | a restarted trainer backfills bags |
"""
from __future__ import annotations

import dataclasses

OK, WARN, ERROR, STALE = 0, 1, 2, 3           # diagnostic_msgs/DiagnosticStatus levels

HOLD = 'safety holds the previous command'
KEEP_WEIGHTS = 'the residual keeps running its current weights'


@dataclasses.dataclass(frozen=True)
class Check:
    """One watch's verdict, ready to become a DiagnosticStatus."""

    name: str
    level: int
    message: str
    behaviour: str = ''


def silence(name: str, last_s: float | None, now_s: float, timeout_s: float, expected: bool,
            what: str, behaviour: str, level: int = ERROR) -> Check:
    """`level` when `what` has not arrived for more than `timeout_s` while it is `expected`, else OK.

    Before the first arrival (`last_s` None) an expected input is reported as never seen."""
    if not expected:
        return Check(name, OK, f'{what}: not expected now')
    if last_s is None:
        return Check(name, level, f'{what}: never received', behaviour)
    age = now_s - last_s
    if age > timeout_s:
        return Check(name, level, f'{what}: silent for {age:.2f} s (timeout {timeout_s:g} s)', behaviour)
    return Check(name, OK, f'{what}: {age:.2f} s ago')


class SensorWatch:
    """Counts observation ticks flagged with stale sensors and the time since the last joint state."""

    def __init__(self, joint_timeout_s: float) -> None:
        self.joint_timeout_s = joint_timeout_s
        self.last_joint_s: float | None = None
        self.stale_ticks: dict[str, int] = {}     # sensor -> ticks it was stale in, since the last report
        self.ticks = 0

    def on_joint_state(self, now_s: float) -> None:
        self.last_joint_s = now_s

    def on_tick(self, stale_sensors: list[str]) -> None:
        self.ticks += 1
        for sensor in stale_sensors:
            self.stale_ticks[sensor] = self.stale_ticks.get(sensor, 0) + 1

    def check(self, now_s: float) -> Check:
        """This period's verdict; the per-period counts restart."""
        joints = silence('sensors', self.last_joint_s, now_s, self.joint_timeout_s, True, 'joint_states', HOLD)
        stale, ticks = dict(self.stale_ticks), self.ticks
        self.stale_ticks, self.ticks = {}, 0
        if joints.level != OK:
            return joints
        if stale:
            listed = ', '.join(f'{s} in {n}/{ticks} ticks' for s, n in sorted(stale.items()))
            return Check('sensors', WARN, f'stale sensors: {listed}', 'no base action on a stale tick: ' + HOLD)
        return Check('sensors', OK, f'{ticks} ticks, all sensors fresh')


class UpstreamWatch:
    """The command chain seen from the safety node: base actions always, proposals while an episode runs."""

    def __init__(self, base_timeout_s: float, proposal_timeout_s: float) -> None:
        self.base_timeout_s = base_timeout_s
        self.proposal_timeout_s = proposal_timeout_s
        self.last_base_s: float | None = None
        self.last_proposal_s: float | None = None
        self.episode_started_s: float | None = None     # set while an episode runs

    def on_base_action(self, now_s: float) -> None:
        self.last_base_s = now_s

    def on_proposal(self, now_s: float) -> None:
        self.last_proposal_s = now_s

    def on_episode(self, running: bool, now_s: float) -> None:
        self.episode_started_s = now_s if running else None

    def checks(self, now_s: float) -> list[Check]:
        running = self.episode_started_s is not None
        base = silence('base_policy', self.last_base_s, now_s, self.base_timeout_s, self.last_base_s is not None
                       or running, 'base_action (base_policy, or the observations it answers)',
                       'no proposal: ' + HOLD)
        # a proposal is owed once the episode has run longer than the timeout
        last = self.last_proposal_s
        if running and (last is None or last < self.episode_started_s):
            last = self.episode_started_s
        residual = silence('residual_policy', last, now_s, self.proposal_timeout_s, running,
                           'action_proposal (residual_policy)', HOLD)
        return [base, residual]


class TrainerWatch:
    """A trainer is stuck when its status stops arriving, or its env steps stop growing while executed
    records flow (the learner stores nothing). Only judged while episodes run: idle trainers are fine."""

    def __init__(self, warn_after_s: float, error_after_s: float) -> None:
        if not 0.0 < warn_after_s <= error_after_s:
            raise ValueError(f'trainer watchdog: need 0 < warn_after_s ({warn_after_s}) <= error_after_s '
                             f'({error_after_s})')
        self.warn_after_s = warn_after_s
        self.error_after_s = error_after_s
        self.last_status_s: float | None = None
        self.env_steps = -1
        self.progress_s: float | None = None      # when env_steps last grew (or the first status came)
        self.records_since_progress = 0
        self.last_record_s: float | None = None
        self.policy_version = 0

    def on_status(self, env_steps: int, policy_version: int, now_s: float) -> None:
        self.last_status_s = now_s
        self.policy_version = policy_version
        if env_steps != self.env_steps:
            self.env_steps, self.progress_s, self.records_since_progress = env_steps, now_s, 0

    def on_record(self, now_s: float) -> None:
        self.last_record_s = now_s
        self.records_since_progress += 1

    def check(self, now_s: float) -> Check:
        active = self.last_record_s is not None and now_s - self.last_record_s <= self.warn_after_s
        if self.last_status_s is None:
            return Check('trainer', OK, 'no trainer heard (evaluation or deploy)') if not active else \
                Check('trainer', WARN, 'records flow but no trainer_status was ever received', KEEP_WEIGHTS)
        keep = f'{KEEP_WEIGHTS} (v{self.policy_version})'
        age = now_s - self.last_status_s
        if active and age > self.warn_after_s:
            level = ERROR if age > self.error_after_s else WARN
            return Check('trainer', level, f'trainer_status silent for {age:.1f} s while episodes run', keep)
        stuck = now_s - self.progress_s if self.progress_s is not None else 0.0
        if active and self.records_since_progress and stuck > self.warn_after_s:
            level = ERROR if stuck > self.error_after_s else WARN
            return Check('trainer', level, f'trainer env_steps stuck at {self.env_steps} for {stuck:.1f} s while '
                         f'{self.records_since_progress} records were executed', keep)
        return Check('trainer', OK, f'env_steps {self.env_steps}, status {age:.1f} s ago')
