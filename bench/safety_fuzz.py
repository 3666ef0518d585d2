"""Push a million random and adversarial proposals and stamps through the safety filter; count violations.

    python bench/safety_fuzz.py --commands 1000000 --seed 0
    python bench/safety_fuzz.py --hypothesis 40000      # the hypothesis property of test_safety_properties.py

Each trial draws a random limit set (some joints without velocity/acceleration limits, some of zero
width) and a random command joint order, then feeds proposals mixing plain values, huge values, NaN/inf,
wrong sizes, stamps that jump, stall or go backwards, e-stop latches and releases and timeout checks.
Every output is checked by the independent contract in test/core/safety_oracle.py: finite, inside the
position limits by joint name, within the velocity and acceleration limits from the previous command over
the elapsed time, a hold exactly when one is due (repeating the previous command, its cause named) and
every clamp explained. Prints the counts and the checks' throughput against a bare loop over the same
inputs (baseline). `--hypothesis N` runs the hypothesis property with N examples and counts operations.
"""
from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
sys.path[:0] = [str(ROOT), str(ROOT / 'test' / 'core')]

from residual_rl_ros.core.joint_limits import parse_joint_limits  # noqa: E402
from residual_rl_ros.core.safety import SafetyFilter  # noqa: E402
from safety_oracle import SafetyOracle  # noqa: E402


def random_limits(rng: np.random.Generator, joints: int) -> dict:
    config = {}
    for j in range(joints):
        low = rng.uniform(-3, 0)
        width = 0.0 if rng.random() < 0.05 else rng.uniform(0.01, 4)
        entry = {'has_position_limits': True, 'min_position': low, 'max_position': low + width}
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
    stats = {'commands': 0, 'holds': 0, 'violations': 0, 'trials': 0, 'first_violation': ''}
    start = time.perf_counter()
    while stats['commands'] < commands:
        joints = int(rng.integers(1, 8))
        config = random_limits(rng, joints)
        names = [str(n) for n in rng.permutation(list(config))]        # command order != file order
        limits = parse_joint_limits(config, names)
        hold = rng.uniform(limits.min_position, limits.max_position) if rng.random() < 0.9 else None
        flt = SafetyFilter(limits, command_timeout_s=0.1, hold_command=hold)
        oracle = SafetyOracle(config, names, 0.1, hold)
        now = 0.0
        stats['trials'] += 1
        for _ in range(200):
            now += float(rng.choice([0.0, 0.001, 0.01, 0.05, -0.02, 1.0]))     # stalls, jumps, time going back
            draw = rng.random()
            if draw < 0.93:
                proposal = adversarial(rng, joints)
                problems = oracle.check_propose(proposal, now, flt.propose(proposal, now))
            elif draw < 0.98:
                problems = oracle.check_timeout(now, flt.check_timeout(now))
            elif draw < 0.99:
                flt.estop('fuzz')
                oracle.estop()
                continue
            else:
                flt.reset_estop()
                oracle.reset_estop()
                continue
            stats['commands'] += 1
            stats['violations'] += int(bool(problems))
            if problems and not stats['first_violation']:
                stats['first_violation'] = f'{problems} (limits {config}, order {names})'
        stats['holds'] += oracle.holds
    stats['seconds'] = time.perf_counter() - start
    return stats


def run_hypothesis(examples: int) -> int:
    """The hypothesis property of test_safety_properties.py with `examples` examples; returns the exit status."""
    import os
    os.environ['SAFETY_EXAMPLES'] = str(examples)
    os.environ.setdefault('SAFETY_MIN_OPERATIONS', '50')
    import test_safety_properties as props
    start = time.perf_counter()
    props.test_every_output_obeys_the_contract_and_every_hold_is_explained()     # raises on a violation
    seconds = time.perf_counter() - start
    print(f"hypothesis: {examples} examples, {props.COUNTS['operations']} operations checked "
          f"({props.COUNTS['holds']} holds), 0 violations, {seconds:.0f} s")
    return 0


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
    parser.add_argument('--hypothesis', type=int, default=0, metavar='EXAMPLES',
                        help='run the hypothesis property with this many examples instead')
    args = parser.parse_args()
    if args.hypothesis:
        return run_hypothesis(args.hypothesis)
    stats = run(args.commands, args.seed)
    base_s = baseline(args.commands, args.seed)
    rate = stats['commands'] / stats['seconds']
    print(f"commands {stats['commands']}  trials {stats['trials']}  holds {stats['holds']}  "
          f"violations {stats['violations']}")
    if stats['violations']:
        print(f"first violation: {stats['first_violation']}")
    print(f'filter+checks {rate:,.0f} commands/s; input generation alone {args.commands / base_s:,.0f}/s '
          f'(filter+checks cost {stats["seconds"] / base_s:.1f}x the bare loop)')
    return 1 if stats['violations'] else 0


if __name__ == '__main__':
    sys.exit(main())
