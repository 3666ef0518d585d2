"""Safety contract: whatever comes in, no output violates a limit, and every hold is explained."""
import math

import numpy as np
import pytest
from hypothesis import given, settings, strategies as st

from residual_rl_ros.core.joint_limits import parse_joint_limits
from residual_rl_ros.core.safety import SafetyFilter

JOINTS = ['a', 'b', 'c']
YAML = {'a': {'has_position_limits': True, 'min_position': -1.0, 'max_position': 1.0,
              'has_velocity_limits': True, 'max_velocity': 2.0,
              'has_acceleration_limits': True, 'max_acceleration': 50.0},
        'b': {'has_position_limits': True, 'min_position': 0.0, 'max_position': 0.5},
        'c': {'has_position_limits': True, 'min_position': -3.0, 'max_position': 3.0,
              'has_velocity_limits': True, 'max_velocity': 0.5}}

floats = st.floats(allow_nan=True, allow_infinity=True, width=64)


@settings(max_examples=300, deadline=None)
@given(st.lists(st.tuples(st.lists(floats, min_size=3, max_size=3),
                          st.floats(min_value=0.0, max_value=0.5)), min_size=1, max_size=40))
def test_outputs_never_violate_limits(steps) -> None:
    limits = parse_joint_limits(YAML, JOINTS)
    flt = SafetyFilter(limits, command_timeout_s=0.2, hold_command=np.zeros(3))
    now, previous = 0.0, np.zeros(3)
    for proposal, dt in steps:
        now += dt
        result = flt.propose(np.array(proposal), now)
        cmd = result.command
        assert np.all(np.isfinite(cmd))
        assert np.all(cmd >= limits.min_position) and np.all(cmd <= limits.max_position)
        step = np.abs(cmd - previous)
        with np.errstate(invalid='ignore'):
            allowed = np.where(np.isfinite(limits.max_velocity), limits.max_velocity * dt, np.inf)
        assert np.all(step <= allowed + 1e-9), (step, dt)
        if result.held:
            assert result.reasons, 'a hold must be explained'
        previous = cmd


def test_non_finite_proposal_holds_previous_command_and_names_joint() -> None:
    flt = SafetyFilter(parse_joint_limits(YAML, JOINTS), 0.2, hold_command=np.array([0.1, 0.2, 0.3]))
    result = flt.propose(np.array([0.0, math.nan, 0.0]), 0.01)
    assert result.held and 'non-finite proposal: b' in result.reasons[0]
    np.testing.assert_array_equal(result.command, [0.1, 0.2, 0.3])


def test_timeout_holds_and_estop_latches_until_reset() -> None:
    flt = SafetyFilter(parse_joint_limits(YAML, JOINTS), 0.1, hold_command=np.zeros(3))
    assert not flt.propose(np.array([0.01, 0.1, 0.0]), 0.02).held
    assert flt.check_timeout(0.05) is None
    held = flt.check_timeout(0.2)
    assert held.held and 'no proposal for' in held.reasons[0]
    flt.estop('operator')
    assert flt.propose(np.array([0.0, 0.0, 0.0]), 0.3).held
    flt.reset_estop()
    assert not flt.propose(np.array([0.0, 0.0, 0.0]), 0.4).held


def test_limits_are_matched_by_name_not_position() -> None:
    limits = parse_joint_limits(YAML, ['c', 'a', 'b'])
    assert limits.max_position.tolist() == [3.0, 1.0, 0.5]
    with pytest.raises(ValueError, match=r"no joint limits for joint\(s\) \['elbow'\]"):
        parse_joint_limits(YAML, ['a', 'elbow'])


@pytest.mark.parametrize('entry, message', [
    ({'has_position_limits': True, 'min_position': 1.0, 'max_position': -1.0}, 'min <= max'),
    ({'has_velocity_limits': True}, 'max_velocity is missing'),
    ({'has_velocity_limits': True, 'max_velocity': -2.0}, r'max_velocity=-2.0: must be a finite number > 0'),
    ({'has_position_limits': 'yes'}, 'expected true/false'),
    ({'max_speed': 1.0}, r"unknown key\(s\) \['max_speed'\]"),
])
def test_bad_limit_files_name_the_joint_and_value(entry, message) -> None:
    with pytest.raises(ValueError, match=f'joint_limits.elbow.*{message}'):
        parse_joint_limits({'elbow': entry})


def test_a_clock_stepping_back_does_not_widen_the_next_step() -> None:
    limits = parse_joint_limits({'a': {'has_position_limits': True, 'min_position': -10.0, 'max_position': 10.0,
                                       'has_velocity_limits': True, 'max_velocity': 1.0}})
    flt = SafetyFilter(limits, 1.0, hold_command=np.zeros(1))
    flt.propose(np.array([0.0]), 1.0)
    assert flt.propose(np.array([5.0]), 0.5).command[0] == 0.0        # time went back: no motion
    assert flt.propose(np.array([5.0]), 1.1).command[0] == pytest.approx(0.1)   # 0.1 s after the latest time


def test_a_subnormal_time_step_never_yields_a_nan_command() -> None:
    # an unlimited joint moving in 5e-324 s has an infinite velocity; with no acceleration limit, inf - inf
    # used to make the next step's bound NaN and the command NaN (found by hypothesis)
    flt = SafetyFilter(parse_joint_limits(YAML, JOINTS), 0.2, hold_command=np.zeros(3))
    flt.propose(np.array([0.0, 1.0, 0.0]), 0.0)
    flt.propose(np.array([0.0, 0.0, 0.0]), 5e-324)
    result = flt.propose(np.array([0.0, 0.0, 0.0]), 0.5)
    assert np.all(np.isfinite(result.command)) and not result.held


def test_a_proposal_at_time_zero_counts_when_the_clock_steps_back() -> None:
    flt = SafetyFilter(parse_joint_limits(YAML, JOINTS), 0.1, hold_command=np.zeros(3))
    flt.propose(np.zeros(3), 0.0)
    flt.propose(np.zeros(3), -0.4)                  # the clock stepped back: the newest proposal is still at 0.0
    assert flt.check_timeout(-0.02) is None        # (0.0 was taken for "no proposal yet")
