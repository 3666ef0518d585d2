"""An independent statement of the safety contract, to check SafetyFilter against (used by the hypothesis
properties and bench/safety_fuzz.py). It tracks what the robot received and checks every output:

* finite, inside the position limits of each joint *by name* (read from the YAML mapping, not the arrays);
* no faster than max_velocity from the previous output over the elapsed time (the newest time seen: a
  clock stepping back allows no motion); a joint with a velocity or acceleration limit does not move
  when no time elapsed;
* velocity within max_acceleration * dt of the previous output's velocity (zero after the first output,
  from a hold pose and after a hold), or closer to zero (stopping is always allowed);
* a hold happens exactly when the e-stop is latched, the proposal is mis-sized or non-finite, or (timeout
  check) no proposal came for longer than the timeout; it repeats the previous output and its first reason
  names the cause (the non-finite joints by name); every clamped joint is named in a reason.
"""
from __future__ import annotations

import math
from typing import Any, Mapping, Sequence

import numpy as np

from residual_rl_ros.core.safety import SafetyResult

TOL = 1e-9


class SafetyOracle:
    def __init__(self, config: Mapping[str, Mapping[str, Any]], joint_names: Sequence[str], timeout_s: float,
                 hold_command: np.ndarray | None) -> None:
        def get(name: str, flag: str, key: str, default: float) -> float:
            entry = config[name]
            return float(entry[key]) if entry.get(flag) else default
        self.names = list(joint_names)
        self.low = np.array([get(n, 'has_position_limits', 'min_position', -math.inf) for n in self.names])
        self.high = np.array([get(n, 'has_position_limits', 'max_position', math.inf) for n in self.names])
        self.vmax = np.array([get(n, 'has_velocity_limits', 'max_velocity', math.inf) for n in self.names])
        self.amax = np.array([get(n, 'has_acceleration_limits', 'max_acceleration', math.inf) for n in self.names])
        self.timeout_s = timeout_s
        self.previous = None if hold_command is None else np.clip(hold_command, self.low, self.high)
        self.velocity = None if hold_command is None else np.zeros(len(self.names))
        self.time: float | None = None
        self.last_proposal: float | None = None
        self.estopped = False
        self.checked = self.holds = 0

    def check_propose(self, proposal: np.ndarray, now_s: float, result: SafetyResult) -> list[str]:
        """Problems with `result` as the answer to `proposal` at `now_s` (empty when it obeys the contract)."""
        self.checked += 1
        cause = None
        if self.estopped:
            cause = 'e-stop latched'
        elif proposal.shape != (len(self.names),):
            cause = f'proposal has {proposal.size} values, expected {len(self.names)}'
        elif not np.all(np.isfinite(proposal)):
            bad = [n for n, v in zip(self.names, proposal) if not np.isfinite(v)]
            cause = f'non-finite proposal: {", ".join(bad[:6])}'
        if cause is not None:
            return self._check_hold(result, cause, now_s)
        problems = [] if not result.held else [f'held without cause: {result.reasons}']
        self.last_proposal = now_s if self.last_proposal is None else max(self.last_proposal, now_s)
        problems += self._check_motion(result.command, now_s)
        clamped = [n for n, c, p in zip(self.names, result.command, proposal) if c != p]
        text = ' '.join(result.reasons)
        problems += [f'clamp of {n} not explained: {result.reasons}' for n in clamped
                     if n not in text and '...' not in text]
        return problems

    def check_timeout(self, now_s: float, result: SafetyResult | None) -> list[str]:
        self.checked += 1
        if self.estopped and self.previous is not None:
            return self._check_hold(result, 'e-stop latched', now_s)
        if self.last_proposal is not None and now_s - self.last_proposal > self.timeout_s:
            return self._check_hold(result, 'no proposal for', now_s)
        return [] if result is None else [f'timeout check held while fresh: {result.reasons}']

    def _check_hold(self, result: SafetyResult | None, cause: str, now_s: float) -> list[str]:
        self.holds += 1
        if result is None or not result.held:
            return [f'not held although {cause}']
        problems = [] if result.reasons and result.reasons[0].startswith(cause) else \
            [f'hold explained as {result.reasons}, expected {cause!r}']
        if self.previous is None:
            return problems + ([] if result.command.size == 0 else ['sent a command with nothing to hold'])
        if not np.array_equal(result.command, self.previous):
            problems.append(f'hold sent {result.command}, not the previous {self.previous}')
        self._advance(self.previous, now_s, held=True)
        return problems

    def _check_motion(self, command: np.ndarray, now_s: float) -> list[str]:
        problems = []
        if command.shape != self.low.shape or not np.all(np.isfinite(command)):
            return [f'command {command} is not {len(self.names)} finite values']
        outside = (command < self.low) | (command > self.high)
        problems += [f'{n}={c} outside [{lo}, {hi}]' for n, c, lo, hi, o in
                     zip(self.names, command, self.low, self.high, outside) if o]
        if self.previous is not None:
            dt = 0.0 if self.time is None else now_s - self.time
            step = command - self.previous
            if dt <= 0.0:
                limited = np.isfinite(self.vmax) | np.isfinite(self.amax)
                problems += [f'{n} moved by {s} with no time elapsed' for n, s, m in
                             zip(self.names, step, limited) if m and s != 0.0]
            else:
                with np.errstate(over='ignore'):            # a subnormal dt: infinite, and judged as such
                    velocity = step / dt
                fast = np.abs(step) > self.vmax * dt + TOL
                problems += [f'{n} velocity {v} > {vm}'
                             for n, v, vm, f in zip(self.names, velocity, self.vmax, fast) if f]
                if self.velocity is not None:
                    with np.errstate(invalid='ignore'):
                        low = np.minimum(self.velocity - self.amax * dt, 0.0)
                        high = np.maximum(self.velocity + self.amax * dt, 0.0)
                    slack = 1e-6 * (1.0 + np.abs(self.velocity)) + TOL / dt
                    jerk = (velocity < low - slack) | (velocity > high + slack)
                    problems += [f'{n} velocity {v} outside [{lo}, {hi}] (acceleration limit)' for n, v, lo, hi, j
                                 in zip(self.names, velocity, low, high, jerk) if j]
        self._advance(command, now_s, held=False)
        return problems

    def _advance(self, command: np.ndarray, now_s: float, held: bool) -> None:
        dt = 0.0 if self.time is None else now_s - self.time
        if held:
            self.velocity = np.zeros(len(self.names))
        elif self.previous is not None and dt > 0.0:
            with np.errstate(over='ignore'):
                self.velocity = (command - self.previous) / dt
        elif self.velocity is None:
            self.velocity = np.zeros(len(self.names))        # from rest: the first motion is limited too
        self.previous = command.copy()
        self.time = now_s if self.time is None else max(self.time, now_s)

    def estop(self) -> None:
        self.estopped = True

    def reset_estop(self) -> None:
        self.estopped = False
