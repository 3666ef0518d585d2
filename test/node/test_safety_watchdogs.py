"""safety_limit's watchdogs over DDS: a silent residual, a silent base and a stuck trainer become diagnostics,
and the hold that follows names the silent stage."""
import numpy as np
import pytest
from diagnostic_msgs.msg import DiagnosticArray, DiagnosticStatus
from rclpy.node import Node
from rclpy.parameter import Parameter
from std_msgs.msg import Float64MultiArray

from residual_rl_ros.msg import BaseAction, EpisodeEvent, PolicyActionRecord, TrainerStatus
from residual_rl_ros.nodes.safety_limit import SafetyLimit
from residual_rl_ros.ros import qos

LIMITS = 'joint_limits:\n  a: {has_position_limits: true, min_position: -1.0, max_position: 1.0}\n'


@pytest.fixture
def graph(context, tmp_path):
    limits = tmp_path / 'limits.yaml'
    limits.write_text(LIMITS)
    safety = SafetyLimit(context=context, parameter_overrides=[
        Parameter('joint_names', value=['a']), Parameter('limits_file', value=str(limits)),
        Parameter('command_timeout_s', value=0.1), Parameter('watchdog_rate_hz', value=100.0),
        Parameter('base_timeout_s', value=0.2), Parameter('trainer_warn_after_s', value=1.0),
        Parameter('trainer_error_after_s', value=2.0)])
    probe = Node('watchdog_probe', context=context)
    diagnostics: list[dict[str, DiagnosticStatus]] = []
    commands: list[list[float]] = []
    probe.create_subscription(DiagnosticArray, 'diagnostics',
                              lambda m: diagnostics.append({s.name: s for s in m.status}), qos.EVENTS_VOLATILE)
    probe.create_subscription(Float64MultiArray, 'commands', lambda m: commands.append(list(m.data)), qos.COMMAND)
    pubs = {'proposal': probe.create_publisher(PolicyActionRecord, 'action_proposal', qos.CONTROL),
            'base': probe.create_publisher(BaseAction, 'base_action', qos.CONTROL),
            'event': probe.create_publisher(EpisodeEvent, 'episode_events', qos.EVENTS),
            'status': probe.create_publisher(TrainerStatus, 'trainer_status', qos.LATCHED)}
    yield safety, probe, pubs, diagnostics, commands
    probe.destroy_node()
    safety.destroy_node()


def _level(status: DiagnosticStatus) -> int:
    return status.level[0] if isinstance(status.level, bytes) else int(status.level)


def test_silent_residual_then_silent_base_are_named_and_held(graph, spin_until) -> None:
    safety, probe, pubs, diagnostics, commands = graph
    spin_until([safety, probe], lambda: all(p.get_subscription_count() for p in pubs.values()))
    pubs['event'].publish(EpisodeEvent(event=EpisodeEvent.START, episode_id=1))
    spin_until([safety, probe], lambda: safety.upstream.episode_started_s is not None)

    def tick() -> None:            # the base keeps answering observations, the residual proposes
        pubs['base'].publish(BaseAction(joint_names=['a'], action=[0.1]))
        pubs['proposal'].publish(PolicyActionRecord(joint_names=['a'], executed_action=[0.1], base_action=[0.1]))
    spin_until([safety, probe], lambda: len(commands) >= 5, every=tick, period_s=0.02)
    # the residual goes silent, the base keeps running: the hold names the residual
    spin_until([safety, probe], lambda: 'residual_policy' in safety.last_hold_reason,
               every=lambda: pubs['base'].publish(BaseAction(joint_names=['a'], action=[0.1])), period_s=0.02)
    assert safety.last_hold_reason.startswith('no proposal for') and commands[-1] == [0.1]
    name = 'safety_limit: watchdog residual_policy'
    spin_until([safety, probe], lambda: diagnostics and _level(diagnostics[-1][name]) == 2,
               every=lambda: pubs['base'].publish(BaseAction(joint_names=['a'], action=[0.1])), period_s=0.02)
    status = diagnostics[-1][name]
    assert 'action_proposal (residual_policy): silent for' in status.message
    assert status.values[0].value == 'safety holds the previous command'
    assert _level(diagnostics[-1]['safety_limit: watchdog base_policy']) == 0
    # now the base is silent too
    spin_until([safety, probe], lambda: 'base_action (base_policy' in safety.last_hold_reason)
    spin_until([safety, probe], lambda: _level(diagnostics[-1]['safety_limit: watchdog base_policy']) == 2)


def test_stuck_trainer_warns_then_errors_while_records_flow(graph, spin_until) -> None:
    safety, probe, pubs, diagnostics, commands = graph
    spin_until([safety, probe], lambda: all(p.get_subscription_count() for p in pubs.values()))
    pubs['status'].publish(TrainerStatus(env_steps=7, policy_version=4))
    spin_until([safety, probe], lambda: safety.trainer_watch.last_status_s is not None)
    pubs['event'].publish(EpisodeEvent(event=EpisodeEvent.START, episode_id=1))

    def tick() -> None:
        pubs['proposal'].publish(PolicyActionRecord(joint_names=['a'], executed_action=[0.1], base_action=[0.1]))
    name = 'safety_limit: watchdog trainer'
    spin_until([safety, probe], lambda: diagnostics and _level(diagnostics[-1][name]) == 1, every=tick, period_s=0.02)
    assert diagnostics[-1][name].message.startswith('trainer_status silent for')
    assert diagnostics[-1][name].values[0].value == 'the residual keeps running its current weights (v4)'
    spin_until([safety, probe], lambda: _level(diagnostics[-1][name]) == 2, every=tick, period_s=0.02)
    assert not safety.filter.estopped and commands[-1] == [0.1]     # the robot keeps being commanded


def test_workspace_box_from_the_task_fk_scales_a_step_back_and_says_so(context, tmp_path, spin_until) -> None:
    limits = tmp_path / 'limits.yaml'
    limits.write_text('joint_limits:\n  shoulder: {has_position_limits: true, min_position: -3.0, max_position: 3.0}\n'
                      '  elbow: {has_position_limits: true, min_position: -2.5, max_position: 2.5}\n')
    safety = SafetyLimit(context=context, parameter_overrides=[
        Parameter('joint_names', value=['shoulder', 'elbow']), Parameter('limits_file', value=str(limits)),
        Parameter('workspace_fk', value='planar_arm:fk'), Parameter('workspace_min_m', value=[-0.6, 0.2, -0.1]),
        Parameter('workspace_max_m', value=[0.6, 1.0, 0.1])])
    probe = Node('workspace_probe', context=context)
    commands: list[list[float]] = []
    probe.create_subscription(Float64MultiArray, 'commands', lambda m: commands.append(list(m.data)), qos.COMMAND)
    proposals = probe.create_publisher(PolicyActionRecord, 'action_proposal', qos.CONTROL)
    try:
        spin_until([safety, probe], lambda: proposals.get_subscription_count() > 0)
        for target in ([1.5707963, 0.0], [1.5707963, 2.5]):          # straight up, then fold below y = 0.2 m
            count = len(commands)
            proposals.publish(PolicyActionRecord(joint_names=['shoulder', 'elbow'], executed_action=target,
                                                 base_action=target))
            spin_until([safety, probe], lambda: len(commands) > count)
        assert commands[0] == [1.5707963, 0.0] and 0.0 < commands[-1][1] < 2.5
        assert safety.filter.workspace.violation(np.array(commands[-1])) == 0.0
    finally:
        probe.destroy_node()
        safety.destroy_node()


def test_bad_workspace_config_stops_the_node_with_its_name(context, tmp_path) -> None:
    limits = tmp_path / 'limits.yaml'
    limits.write_text(LIMITS)
    with pytest.raises(ValueError, match=r'workspace_min_m=\[0.0, 0.0\] and workspace_max_m=\[\] must be 3'):
        SafetyLimit(context=context, parameter_overrides=[
            Parameter('joint_names', value=['a']), Parameter('limits_file', value=str(limits)),
            Parameter('workspace_fk', value='planar_arm:fk'), Parameter('workspace_min_m', value=[0.0, 0.0])])
