"""The optional workspace box: forward-kinematics points never leave it (or never get further out), the joint
limits still hold, and every scaled step is explained."""
import math

import numpy as np
import pytest
from hypothesis import given, settings, strategies as st

from residual_rl_ros.core.joint_limits import parse_joint_limits
from residual_rl_ros.core.safety import SafetyFilter
from residual_rl_ros.core.workspace import make_workspace_box, workspace_step

LIMITS = {'shoulder': {'has_position_limits': True, 'min_position': -math.pi, 'max_position': math.pi,
                       'has_velocity_limits': True, 'max_velocity': 3.0},
          'elbow': {'has_position_limits': True, 'min_position': -2.5, 'max_position': 2.5}}
# above the table (y >= 0.2 m) and within reach of a fence at x = +-0.6 m
BOX = make_workspace_box('planar_arm:fk', [-0.6, 0.2, -0.1], [0.6, 1.0, 0.1])
angle = st.floats(-4.0, 4.0) | st.sampled_from([math.nan, math.inf, 1e300])


@settings(max_examples=100, deadline=None)
@given(st.lists(st.tuples(st.lists(angle, min_size=2, max_size=2), st.sampled_from([0.0, 0.01, 0.05, 0.5, -0.01])),
                min_size=1, max_size=40))
def test_points_stay_in_the_box_and_limits_hold(steps) -> None:
    limits = parse_joint_limits(LIMITS, ['shoulder', 'elbow'])
    flt = SafetyFilter(limits, 0.1, hold_command=np.array([math.pi / 2, 0.0]), workspace=BOX)   # arm straight up
    now, previous = 0.0, flt.previous.copy()
    for proposal, dt in steps:
        now += dt
        result = flt.propose(np.array(proposal), now)
        assert BOX.violation(result.command) == 0.0, (proposal, result)
        assert np.all(result.command >= limits.min_position) and np.all(result.command <= limits.max_position)
        if result.held:
            assert np.array_equal(result.command, previous), 'a hold must repeat the previous command'
        elif np.any(result.command != np.array(proposal)):
            assert result.reasons, 'a changed command must be explained'
        previous = result.command


def test_a_step_out_of_the_box_is_scaled_back_to_its_edge() -> None:
    previous = np.array([math.pi / 2, 0.0])                        # hand at (0, 0.9)
    command, why = workspace_step(np.array([math.pi / 2, 2.5]), previous, BOX)   # folds the hand below y = 0.2
    assert why.startswith('workspace box: step scaled to 0.')
    assert BOX.violation(command) == 0.0 and 0.0 < command[1] < 2.5
    assert np.max(0.2 - BOX.fk(command)[:, 1]) > -1e-6               # it stopped at the edge


def test_outside_the_box_only_motion_back_in_is_allowed() -> None:
    outside = np.array([0.1, 0.0])                                 # hand at y ~ 0.09: below the table line
    worse, why = workspace_step(np.array([0.0, 0.0]), outside, BOX)
    assert np.array_equal(worse, outside) and why == 'workspace box: step scaled to 0.000'
    better, why = workspace_step(np.array([0.5, 0.0]), outside, BOX)
    assert np.array_equal(better, [0.5, 0.0]) and why == ''
    command, why = workspace_step(np.array([0.0, 0.0]), None, BOX)
    assert command is None and why.startswith('workspace box: first command')


def test_a_failing_or_non_finite_fk_never_lets_a_command_through() -> None:
    box = make_workspace_box('planar_arm:fk', [-1, -1, -1], [1, 1, 1])
    broken = type(box)(lambda q: np.array([np.nan, 0.0, 0.0]), box.low_m, box.high_m)
    command, why = workspace_step(np.array([0.2, 0.2]), np.array([0.1, 0.1]), broken)
    assert np.array_equal(command, [0.1, 0.1]) and 'forward kinematics failed' in why


@pytest.mark.parametrize('spec, low, high, message', [
    ('planar_arm:nope', [0, 0, 0], [1, 1, 1], "workspace_fk 'planar_arm:nope': cannot load it"),
    ('no_such_module:fk', [0, 0, 0], [1, 1, 1], "workspace_fk 'no_such_module:fk': cannot load it"),
    ('planar_arm:LINKS_M', [0, 0, 0], [1, 1, 1], "workspace_fk 'planar_arm:LINKS_M' is not callable"),
    ('planar_arm:fk', [0, 0], [1, 1, 1], r'workspace_min_m=\[0, 0\] and workspace_max_m=\[1, 1, 1\] must be 3'),
    ('planar_arm:fk', [0, 2, 0], [1, 1, 1], 'with min <= max'),
    ('', [0, 0, 0], [], 'workspace_fk is empty'),
])
def test_bad_workspace_config_is_named(spec, low, high, message) -> None:
    with pytest.raises(ValueError, match=message):
        make_workspace_box(spec, low, high)
