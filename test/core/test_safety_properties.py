"""Hypothesis: random and adversarial limit sets, joint orders, proposals, stamps, e-stops and timeouts through
SafetyFilter, each output checked against the contract in safety_oracle.py (limits by name, velocity and
acceleration from the previous command, holds exactly when due and explained).

CI runs `SAFETY_EXAMPLES` examples (default 300) of 1-60 operations; bench/safety_fuzz.py --hypothesis
runs the same property with long sequences (`SAFETY_MIN_OPERATIONS`) for >= 10^6 operations and counts them.
"""
from __future__ import annotations

import os

import numpy as np
from hypothesis import HealthCheck, given, settings, strategies as st

from residual_rl_ros.core.joint_limits import parse_joint_limits
from residual_rl_ros.core.safety import SafetyFilter
from safety_oracle import SafetyOracle

EXAMPLES = int(os.environ.get('SAFETY_EXAMPLES', '300'))
MIN_OPERATIONS = int(os.environ.get('SAFETY_MIN_OPERATIONS', '1'))     # the bench asks for long sequences
TIMEOUT_S = 0.1
COUNTS = {'operations': 0, 'holds': 0}       # read by bench/safety_fuzz.py

finite = st.floats(-1e3, 1e3, allow_nan=False) | st.sampled_from([0.0, -0.0, 1e300, -1e300, 5e-324])
value = finite | st.sampled_from([float('nan'), float('inf'), -float('inf')])
stamp_step = st.sampled_from([0.0, 1e-6, 0.001, 0.01, 0.04, 0.2, 1.0, -0.02, -1.0]) | st.floats(0.0, 0.5)


@st.composite
def limit_sets(draw) -> dict:
    """1-6 joints in a random order; position limits (some of zero width), optional velocity/acceleration."""
    config = {}
    for name in draw(st.permutations([f'j{i}' for i in range(draw(st.integers(1, 6)))])):
        low = draw(st.floats(-5.0, 5.0))
        entry = {'has_position_limits': True, 'min_position': low,
                 'max_position': low + draw(st.sampled_from([0.0, 1e-9]) | st.floats(0.0, 6.0))}
        if draw(st.booleans()):
            entry.update(has_velocity_limits=True, max_velocity=draw(st.floats(1e-3, 50.0)))
        if draw(st.booleans()):
            entry.update(has_acceleration_limits=True, max_acceleration=draw(st.floats(1e-2, 1e3)))
        config[name] = entry
    return config


@st.composite
def scenarios(draw):
    config = draw(limit_sets())
    names = draw(st.permutations(list(config)))          # the command order differs from the file's order
    n = len(names)
    operation = st.one_of(
        st.tuples(st.just('propose'), st.lists(value, min_size=n, max_size=n), stamp_step),
        st.tuples(st.just('propose'), st.lists(finite, min_size=n, max_size=n), stamp_step),
        st.tuples(st.just('propose'), st.lists(finite, min_size=0, max_size=n + 2).filter(lambda v: len(v) != n),
                  stamp_step),
        st.tuples(st.just('timeout'), st.none(), stamp_step),
        st.tuples(st.sampled_from(['estop', 'reset']), st.none(), st.just(0.0)))
    start = draw(st.none() | st.lists(finite, min_size=n, max_size=n))
    return config, names, start, draw(st.lists(operation, min_size=MIN_OPERATIONS, max_size=max(60, MIN_OPERATIONS)))


@settings(max_examples=EXAMPLES, deadline=None, suppress_health_check=[HealthCheck.too_slow,
                                                                       HealthCheck.data_too_large])
@given(scenarios())
def test_every_output_obeys_the_contract_and_every_hold_is_explained(scenario) -> None:
    config, names, start, operations = scenario
    limits = parse_joint_limits(config, names)
    hold = None if start is None else np.array(start)
    flt = SafetyFilter(limits, TIMEOUT_S, hold_command=hold)
    oracle = SafetyOracle(config, names, TIMEOUT_S, hold)
    now = 0.0
    for kind, values, step in operations:
        now += step
        if kind == 'propose':
            proposal = np.array(values, np.float64)
            problems = oracle.check_propose(proposal, now, flt.propose(proposal, now))
        elif kind == 'timeout':
            problems = oracle.check_timeout(now, flt.check_timeout(now))
        else:
            getattr(flt, 'estop' if kind == 'estop' else 'reset_estop')(*(['operator'] if kind == 'estop' else []))
            getattr(oracle, 'estop' if kind == 'estop' else 'reset_estop')()
            problems = []
        assert not problems, (kind, values, now, problems)
    COUNTS['operations'] += oracle.checked
    COUNTS['holds'] += oracle.holds
