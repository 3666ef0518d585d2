"""safety_limit interventions and reset pose: the operator's commands replace the policy's, still limited."""
import pytest
from rclpy.node import Node
from rclpy.parameter import Parameter
from std_msgs.msg import Bool, Float64MultiArray

from residual_rl_ros.msg import EpisodeEvent, PolicyActionRecord
from residual_rl_ros.nodes.safety_limit import SafetyLimit
from residual_rl_ros.ros import qos

LIMITS = """joint_limits:
  a: {has_position_limits: true, min_position: -1.0, max_position: 1.0}
  b: {has_position_limits: true, min_position: 0.0, max_position: 0.5, has_velocity_limits: true, max_velocity: 1.0}
"""


@pytest.fixture
def graph(context, tmp_path):
    limits = tmp_path / 'limits.yaml'
    limits.write_text(LIMITS)
    safety = SafetyLimit(context=context, parameter_overrides=[
        Parameter('joint_names', value=['a', 'b']), Parameter('limits_file', value=str(limits)),
        Parameter('command_timeout_s', value=0.5), Parameter('watchdog_rate_hz', value=50.0),
        Parameter('teleop_timeout_s', value=0.5), Parameter('reset_pose', value=[0.5, 0.4])])
    probe = Node('teleop_probe', context=context)
    out = {'commands': [], 'records': []}
    probe.create_subscription(Float64MultiArray, 'commands', lambda m: out['commands'].append(list(m.data)),
                              qos.COMMAND)
    probe.create_subscription(PolicyActionRecord, 'action_records', out['records'].append, qos.RECORD)
    pubs = {'proposal': probe.create_publisher(PolicyActionRecord, 'action_proposal', qos.CONTROL),
            'teleop': probe.create_publisher(Float64MultiArray, 'teleop/commands', qos.CONTROL),
            'enable': probe.create_publisher(Bool, 'teleop/enable', qos.CONTROL),
            'events': probe.create_publisher(EpisodeEvent, 'episode_events', qos.EVENTS)}
    yield safety, probe, pubs, out
    probe.destroy_node()
    safety.destroy_node()


def _connected(spin_until, safety, probe, pubs) -> None:
    spin_until([safety, probe], lambda: all(p.get_subscription_count() > 0 for p in pubs.values()))


def test_enabled_teleop_replaces_the_proposal_within_limits_and_flags_the_record(graph, spin_until) -> None:
    safety, probe, pubs, out = graph
    _connected(spin_until, safety, probe, pubs)
    pubs['enable'].publish(Bool(data=True))
    pubs['teleop'].publish(Float64MultiArray(data=[3.0, 0.0]))       # a beyond its position limit
    spin_until([safety, probe], lambda: safety.teleop is not None and safety.teleop_enabled_s is not None)
    pubs['proposal'].publish(PolicyActionRecord(joint_names=['a', 'b'], executed_action=[0.1, 0.0],
                                                base_action=[0.1, 0.0]))
    spin_until([safety, probe], lambda: out['records'])
    record = out['records'][-1]
    assert record.intervention and list(record.executed_action) == [1.0, 0.0]
    assert out['commands'][-1] == [1.0, 0.0] and safety.interventions == 1
    pubs['enable'].publish(Bool(data=False))
    spin_until([safety, probe], lambda: safety.teleop_enabled_s is None)
    pubs['proposal'].publish(PolicyActionRecord(joint_names=['a', 'b'], executed_action=[0.2, 0.0],
                                                base_action=[0.2, 0.0]))
    spin_until([safety, probe], lambda: len(out['records']) >= 2)
    assert not out['records'][-1].intervention
    assert list(out['records'][-1].executed_action) == pytest.approx([0.2, 0.0])


def test_estop_still_holds_teleop(graph, spin_until) -> None:
    safety, probe, pubs, out = graph
    _connected(spin_until, safety, probe, pubs)
    pubs['enable'].publish(Bool(data=True))
    spin_until([safety, probe], lambda: safety.teleop_enabled_s is not None)
    pubs['teleop'].publish(Float64MultiArray(data=[0.3, 0.0]))     # no episode running: teleop drives directly
    spin_until([safety, probe], lambda: out['commands'])
    safety.filter.estop('test')
    pubs['enable'].publish(Bool(data=True))
    pubs['teleop'].publish(Float64MultiArray(data=[-0.9, 0.0]))
    spin_until([safety, probe], lambda: len(out['commands']) >= 2)
    assert all(c == [0.3, 0.0] for c in out['commands'])


def test_reset_pose_is_approached_within_velocity_limits_until_start(graph, spin_until) -> None:
    safety, probe, pubs, out = graph
    _connected(spin_until, safety, probe, pubs)
    pubs['proposal'].publish(PolicyActionRecord(joint_names=['a', 'b'], executed_action=[0.0, 0.0],
                                                base_action=[0.0, 0.0]))
    spin_until([safety, probe], lambda: out['commands'])
    pubs['events'].publish(EpisodeEvent(event=EpisodeEvent.RESET, episode_id=1))
    spin_until([safety, probe], lambda: len(out['commands']) >= 5)
    b_values = [c[1] for c in out['commands'][1:]]
    assert b_values == sorted(b_values) and 0.0 < b_values[-1] < 0.4    # ramps at <= 1 rad/s, not a jump
    assert out['commands'][-1][0] == 0.5                                 # no velocity limit on a
    pubs['events'].publish(EpisodeEvent(event=EpisodeEvent.START, episode_id=2))
    spin_until([safety, probe], lambda: not safety.resetting)
