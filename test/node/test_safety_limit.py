"""safety_limit in-process: by-name matching, holds on NaN / unknown joints / silence, e-stop latch."""
import math
import time

import pytest
from rclpy.node import Node
from rclpy.parameter import Parameter
from std_msgs.msg import Bool, Float64MultiArray
from std_srvs.srv import Trigger

from residual_rl_ros.msg import PolicyActionRecord
from residual_rl_ros.nodes.safety_limit import SafetyLimit
from residual_rl_ros.ros import qos

LIMITS = """joint_limits:
  a: {has_position_limits: true, min_position: -1.0, max_position: 1.0}
  b: {has_position_limits: true, min_position: 0.0, max_position: 0.5, has_velocity_limits: true, max_velocity: 100.0}
"""


@pytest.fixture
def graph(context, tmp_path):
    limits = tmp_path / 'limits.yaml'
    limits.write_text(LIMITS)
    safety = SafetyLimit(context=context, parameter_overrides=[
        Parameter('joint_names', value=['a', 'b']), Parameter('limits_file', value=str(limits)),
        Parameter('command_timeout_s', value=0.1), Parameter('watchdog_rate_hz', value=100.0)])
    probe = Node('safety_probe', context=context)
    commands, records = [], []
    probe.create_subscription(Float64MultiArray, 'commands', lambda m: commands.append(list(m.data)), qos.COMMAND)
    probe.create_subscription(PolicyActionRecord, 'action_records', records.append, qos.RECORD)
    proposals = probe.create_publisher(PolicyActionRecord, 'action_proposal', qos.CONTROL)
    estop = probe.create_publisher(Bool, 'estop', qos.EVENTS)
    yield safety, probe, proposals, estop, commands, records
    probe.destroy_node()
    safety.destroy_node()


def _propose(proposals, names, values):
    proposals.publish(PolicyActionRecord(joint_names=names, executed_action=values, base_action=values))


def test_proposal_is_matched_by_name_and_clamped(graph, spin_until) -> None:
    safety, probe, proposals, _, commands, records = graph
    spin_until([safety, probe], lambda: proposals.get_subscription_count() > 0)
    _propose(proposals, ['b', 'a'], [0.9, -3.0])             # reordered and out of limits
    spin_until([safety, probe], lambda: records)
    assert commands[0] == [-1.0, 0.5]
    assert list(records[0].joint_names) == ['a', 'b'] and list(records[0].executed_action) == [-1.0, 0.5]


def test_nan_and_missing_joint_hold_the_previous_command(graph, spin_until) -> None:
    safety, probe, proposals, _, commands, records = graph
    spin_until([safety, probe], lambda: proposals.get_subscription_count() > 0)
    _propose(proposals, ['a', 'b'], [0.2, 0.3])
    spin_until([safety, probe], lambda: len(commands) >= 1)
    _propose(proposals, ['a', 'b'], [math.nan, 0.1])
    spin_until([safety, probe], lambda: len(records) >= 2)
    assert 'non-finite proposal: a' in safety.last_hold_reason
    _propose(proposals, ['a', 'elbow'], [0.1, 0.1])
    spin_until([safety, probe], lambda: len(records) >= 3)
    assert commands[1] == commands[2] == [0.2, 0.3]
    assert "unknown joints ['elbow']" in safety.last_hold_reason and safety.holds >= 2


def test_repeated_or_mismatched_names_hold_with_the_reason_named(graph, spin_until) -> None:
    safety, probe, proposals, _, commands, records = graph
    spin_until([safety, probe], lambda: proposals.get_subscription_count() > 0)
    _propose(proposals, ['a', 'b'], [0.2, 0.3])
    spin_until([safety, probe], lambda: len(commands) >= 1)
    _propose(proposals, ['a', 'b', 'a'], [0.2, 0.4, 0.9])          # which 'a'? neither: hold
    spin_until([safety, probe], lambda: len(records) >= 2)
    assert commands[1] == [0.2, 0.3] and "joint names repeat: ['a']" in safety.last_hold_reason
    _propose(proposals, ['b', 'a'], [0.4])
    spin_until([safety, probe], lambda: len(records) >= 3)
    assert commands[2] == [0.2, 0.3] and '2 joint names but 1 values' in safety.last_hold_reason
    _propose(proposals, ['a'], [0.1])
    spin_until([safety, probe], lambda: len(records) >= 4)
    assert commands[3] == [0.2, 0.3] and "missing joints ['b']" in safety.last_hold_reason


def test_silence_is_held_within_two_control_periods(graph, spin_until) -> None:
    safety, probe, proposals, _, commands, _ = graph
    spin_until([safety, probe], lambda: proposals.get_subscription_count() > 0)
    _propose(proposals, ['a', 'b'], [0.5, 0.25])
    spin_until([safety, probe], lambda: len(commands) >= 1)
    sent = time.monotonic()
    spin_until([safety, probe], lambda: len(commands) >= 2, timeout_s=2.0)
    assert time.monotonic() - sent <= 0.1 + 2 * 0.01 + 0.15   # timeout + 2 watchdog periods (+ scheduling)
    assert commands[1] == [0.5, 0.25] and 'no proposal' in safety.last_hold_reason


def test_estop_latches_until_reset(graph, spin_until) -> None:
    safety, probe, proposals, estop, commands, _ = graph
    spin_until([safety, probe], lambda: proposals.get_subscription_count() > 0 and estop.get_subscription_count() > 0)
    _propose(proposals, ['a', 'b'], [0.1, 0.1])
    spin_until([safety, probe], lambda: len(commands) >= 1)
    estop.publish(Bool(data=True))
    spin_until([safety, probe], lambda: safety.filter.estopped)
    _propose(proposals, ['a', 'b'], [0.9, 0.4])
    spin_until([safety, probe], lambda: len(commands) >= 2)
    assert commands[-1] == [0.1, 0.1]
    client = probe.create_client(Trigger, 'safety_limit/reset_estop')
    assert client.wait_for_service(timeout_sec=5.0)
    future = client.call_async(Trigger.Request())
    spin_until([safety, probe], future.done)
    count = len(commands)
    # proposed at control rate, as a policy does: b's velocity limit may need more than one tick to get there
    spin_until([safety, probe], lambda: commands[count:] and commands[-1] == [0.9, 0.4],
               every=lambda: _propose(proposals, ['a', 'b'], [0.9, 0.4]), period_s=0.02)


def test_missing_limits_file_is_a_named_error(context) -> None:
    with pytest.raises(ValueError, match="file 'nowhere.yaml' not found"):
        SafetyLimit(context=context, parameter_overrides=[Parameter('joint_names', value=['a']),
                                                          Parameter('limits_file', value='nowhere.yaml')])
