"""Push a million random and adversarial proposals and stamps through the safety filter; count violations.

    python bench/safety_fuzz.py --commands 1000000 --seed 0

Each trial draws a random limit set (some joints without velocity/acceleration limits), then feeds
proposals mixing plain values, huge values, NaN/inf, wrong sizes, and stamps that jump, stall or go
backwards. Every output is checked: finite, inside the position limits, and (for joints with a velocity
limit) no faster than the limit from the previous command over the elapsed time; every hold has a reason.
Prints the counts and the checks' throughput against a bare loop over the same inputs (baseline).
"""
from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from residual_rl_ros.core.joint_limits import parse_joint_limits  # noqa: E402
from residual_rl_ros.core.safety import SafetyFilter  # noqa: E402


def random_limits(rng: np.random.Generator, joints: int) -> dict:
    config = {}
    for j in range(joints):
        low = rng.uniform(-3, 0)
        entry = {'has_position_limits': True, 'min_position': low, 'max_position': low + rng.uniform(0.01, 4)}
        if rng.random() < 0.7:
            entry.update(has_velocity_limits=True, max_velocity=float(rng.uniform(0.01, 5)))
        if rng.random() < 0.5:
            entry.update(has_acceleration_limits=True, max_acceleration=float(rng.uniform(0.1, 50)))
        config[f'j{j}'] = entry
    return config


def adversarial(rng: np.random.Generator, joints: int) -> np.ndarray:
    kind = rng.integers(0, 6)
    if kind == 0:
        return rng.normal(0, 1, joints)
    if kind == 1:
        return rng.normal(0, 1e6, joints)
    if kind == 2:
        value = rng.normal(0, 1, joints)
        value[rng.integers(0, joints)] = rng.choice([np.nan, np.inf, -np.inf])
        return value
    if kind == 3:
        return rng.normal(0, 1, joints + rng.choice([-1, 1]))
    if kind == 4:
        return np.full(joints, rng.choice([1e308, -1e308, 0.0]))
    return rng.uniform(-5, 5, joints)


def run(commands: int, seed: int) -> dict:
    rng = np.random.default_rng(seed)
    stats = {'commands': 0, 'holds': 0, 'unexplained_holds': 0, 'violations': 0, 'trials': 0}
    start = time.perf_counter()
    while stats['commands'] < commands:
        joints = int(rng.integers(1, 8))
        limits = parse_joint_limits(random_limits(rng, joints))
        flt = SafetyFilter(limits, command_timeout_s=0.1,
                           hold_command=rng.uniform(limits.min_position, limits.max_position))
        now, previous, previous_time = 0.0, flt.previous.copy(), None     # the hold pose has no time yet
        stats['trials'] += 1
        for _ in range(200):
            now += float(rng.choice([0.0, 0.001, 0.01, 0.05, -0.02, 1.0]))     # stalls, jumps, time going back
            result = flt.propose(adversarial(rng, joints), now) if rng.random() < 0.95 else flt.check_timeout(now)
            stats['commands'] += 1
            if result is None:
                continue
            cmd = result.command
            elapsed = 0.0 if previous_time is None else max(now - previous_time, 0.0)
            with np.errstate(invalid='ignore', over='ignore'):
                allowed = np.where(np.isfinite(limits.max_velocity), limits.max_velocity * elapsed, np.inf)
            bad = (not np.all(np.isfinite(cmd)) or np.any(cmd < limits.min_position) or np.any(cmd > limits.max_position)
                   or np.any(np.abs(cmd - previous) > allowed + 1e-9))
            stats['violations'] += int(bad)
            stats['holds'] += int(result.held)
            stats['unexplained_holds'] += int(result.held and not result.reasons)
            previous, previous_time = cmd.copy(), now if previous_time is None else max(now, previous_time)
    stats['seconds'] = time.perf_counter() - start
    return stats


def baseline(commands: int, seed: int) -> float:
    """The same input generation without the filter: the cost the checks are measured against."""
    rng = np.random.default_rng(seed)
    start = time.perf_counter()
    for _ in range(commands):
        adversarial(rng, 4)
    return time.perf_counter() - start


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument('--commands', type=int, default=1_000_000)
    parser.add_argument('--seed', type=int, default=0)
    args = parser.parse_args()
    stats = run(args.commands, args.seed)
    base_s = baseline(args.commands, args.seed)
    rate = stats['commands'] / stats['seconds']
    print(f"commands {stats['commands']}  trials {stats['trials']}  holds {stats['holds']}  "
          f"violations {stats['violations']}  unexplained holds {stats['unexplained_holds']}")
    print(f'filter+checks {rate:,.0f} commands/s; input generation alone {args.commands / base_s:,.0f}/s '
          f'(filter+checks cost {stats["seconds"] / base_s:.1f}x the bare loop)')
    return 1 if stats['violations'] or stats['unexplained_holds'] else 0


if __name__ == '__main__':
    sys.exit(main())
