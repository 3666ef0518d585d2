"""The safety contract between the policy and the robot, as pure functions plus a small state holder.

Order of precedence: e-stop (latched) and stale or non-finite input -> hold the previous command;
otherwise hard position limits > velocity limits > acceleration limits, all relative to the previous
*command* with an explicit dt (as ros2_control's joint_limits helpers do), then the optional workspace box
(core/workspace.py) where the task provides forward kinematics. Every hold and every clamp is
explained in the result. The node supplies time and converts messages; nothing here raises on bad data.
"""
from __future__ import annotations

import dataclasses

import numpy as np

from residual_rl_ros.core.joint_limits import LimitArrays
from residual_rl_ros.core.workspace import WorkspaceBox, workspace_step


@dataclasses.dataclass(frozen=True)
class SafetyResult:
    command: np.ndarray          # what the robot receives (always within position limits)
    held: bool                   # True when the previous command was repeated instead of the proposal
    reasons: tuple[str, ...]     # why it was held or clamped; empty when the proposal passed unchanged


def limit_step(proposed: np.ndarray, previous: np.ndarray | None, previous_velocity: np.ndarray | None,
               dt: float, limits: LimitArrays) -> tuple[np.ndarray, list[str]]:
    """Bound a finite proposal by velocity/acceleration (from the previous command) and position limits."""
    reasons: list[str] = []
    command = proposed.astype(np.float64, copy=True)
    if previous is not None and dt <= 0.0:
        # no time: a joint with a velocity or an acceleration limit cannot move at all
        limited = np.isfinite(limits.max_velocity) | np.isfinite(limits.max_acceleration)
        frozen = limited & (command != previous)
        if np.any(frozen):
            reasons.append(_joints('no time elapsed since the previous command', limits, frozen))
        command = np.where(limited, previous, command)
    elif previous is not None:
        with np.errstate(over='ignore', invalid='ignore'):
            velocity = (command - previous) / dt
        v_low, v_high = -limits.max_velocity, limits.max_velocity
        if previous_velocity is not None:     # only joints with an acceleration limit (inf - inf is NaN)
            accel = np.isfinite(limits.max_acceleration)
            speed = np.where(np.isfinite(previous_velocity), previous_velocity, 0.0)
            with np.errstate(over='ignore', invalid='ignore'):
                low_a, high_a = speed - limits.max_acceleration * dt, speed + limits.max_acceleration * dt
            v_low = np.where(accel, np.minimum(np.maximum(v_low, low_a), 0.0), v_low)    # stopping is always
            v_high = np.where(accel, np.maximum(np.minimum(v_high, high_a), 0.0), v_high)  # allowed
        bounded = np.clip(velocity, v_low, v_high)
        slowed = bounded != velocity
        if np.any(slowed):
            reasons.append(_joints('velocity/acceleration limit', limits, slowed))
        command = np.where(slowed, previous + bounded * dt, command)   # unslowed joints keep their exact value
    clipped = np.clip(command, limits.min_position, limits.max_position)
    if np.any(clipped != command):
        reasons.append(_joints('position limit', limits, clipped != command))
    return clipped, reasons


def _joints(what: str, limits: LimitArrays, mask: np.ndarray) -> str:
    names = [n for n, m in zip(limits.joint_names, mask) if m]
    return f'{what}: {", ".join(names[:6])}{" ..." if len(names) > 6 else ""}'


class SafetyFilter:
    """Holds the previous command, the e-stop latch and the time of the last proposal."""

    def __init__(self, limits: LimitArrays, command_timeout_s: float, hold_command: np.ndarray | None = None,
                 workspace: WorkspaceBox | None = None):
        self.limits = limits
        self.workspace = workspace
        self.command_timeout_s = command_timeout_s
        self.previous: np.ndarray | None = None
        self.previous_velocity: np.ndarray | None = None
        self.last_proposal_time_s: float | None = None
        self.last_output_time_s: float | None = None
        self.estopped = False
        self.estop_reason = ''
        if hold_command is not None:      # the robot rests there: its first motion is acceleration-limited too
            self.previous = np.clip(np.asarray(hold_command, np.float64), limits.min_position, limits.max_position)
            self.previous_velocity = np.zeros_like(self.previous)

    def estop(self, reason: str) -> None:
        """Latch the e-stop: every later step holds until `reset_estop()`."""
        self.estopped, self.estop_reason = True, reason

    def reset_estop(self) -> None:
        self.estopped, self.estop_reason = False, ''

    def propose(self, proposed: np.ndarray, now_s: float) -> SafetyResult:
        """Filter one proposal arriving at `now_s` (seconds, monotonic)."""
        proposed = np.asarray(proposed, np.float64)
        if self.estopped:
            return self._hold(now_s, f'e-stop latched ({self.estop_reason})')
        if proposed.shape != self.limits.min_position.shape:
            return self._hold(now_s, f'proposal has {proposed.size} values, expected {self.limits.min_position.size}')
        if not np.all(np.isfinite(proposed)):
            return self._hold(now_s, _joints('non-finite proposal', self.limits, ~np.isfinite(proposed)))
        last = self.last_proposal_time_s
        self.last_proposal_time_s = now_s if last is None else max(now_s, last)
        dt = 0.0 if self.last_output_time_s is None else now_s - self.last_output_time_s
        command, reasons = limit_step(proposed, self.previous, self.previous_velocity, dt, self.limits)
        if not np.all(np.isfinite(command)):     # never expected: fail closed rather than send it
            return self._hold(now_s, _joints('internal error: non-finite limited command', self.limits,
                                             ~np.isfinite(command)))
        if self.workspace is not None:       # last: scaling a step back keeps the limits it met
            scaled, why = workspace_step(command, self.previous, self.workspace)
            if scaled is None:
                return self._hold(now_s, why)
            if why:
                reasons.append(_joints(why, self.limits, scaled != command))
                command = np.clip(scaled, self.limits.min_position, self.limits.max_position)
        self._emit(command, now_s, dt)
        return SafetyResult(command.copy(), False, tuple(reasons))

    def hold(self, now_s: float, reason: str) -> SafetyResult:
        """Repeat the previous command (e.g. the operator's teleop command went stale)."""
        return self._hold(now_s, reason)

    def check_timeout_due(self, now_s: float) -> bool:
        """True when proposals have stopped for longer than the timeout (the filter is holding)."""
        return self.last_proposal_time_s is not None and now_s - self.last_proposal_time_s > self.command_timeout_s

    def check_timeout(self, now_s: float) -> SafetyResult | None:
        """A hold when no proposal arrived within command_timeout_s (None while fresh or before any)."""
        if self.estopped and self.previous is not None:
            return self._hold(now_s, f'e-stop latched ({self.estop_reason})')
        if not self.check_timeout_due(now_s):
            return None
        age = now_s - self.last_proposal_time_s
        return self._hold(now_s, f'no proposal for {age:.3f} s (timeout {self.command_timeout_s} s)')

    def _hold(self, now_s: float, reason: str) -> SafetyResult:
        if self.previous is None:
            return SafetyResult(np.empty(0), True, (reason, 'no previous command to hold: nothing sent'))
        self._emit(self.previous, now_s, dt=0.0)
        self.previous_velocity = np.zeros_like(self.previous)
        return SafetyResult(self.previous.copy(), True, (reason,))

    def _emit(self, command: np.ndarray, now_s: float, dt: float) -> None:
        if self.previous is not None and dt > 0.0:
            with np.errstate(over='ignore'):       # a tiny dt: inf, ignored where no acceleration limit applies
                self.previous_velocity = (command - self.previous) / dt
        elif self.previous_velocity is None:          # the first command: later motion starts from rest
            self.previous_velocity = np.zeros_like(command)
        self.previous = command.copy()
        # a clock that steps back (NTP, a replayed stamp) must not widen the next step's allowance
        self.last_output_time_s = now_s if self.last_output_time_s is None else max(self.last_output_time_s, now_s)
