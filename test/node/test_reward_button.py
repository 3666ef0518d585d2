"""reward_button in-process: services produce validated episode events on the topic."""
import time

import pytest
from rclpy.node import Node
from rclpy.parameter import Parameter
from std_srvs.srv import Trigger

from residual_rl_ros.msg import EpisodeEvent
from residual_rl_ros.nodes.reward_button import RewardButton
from residual_rl_ros.ros import qos
from residual_rl_ros.srv import LabelEpisode


@pytest.fixture
def graph(context):
    button = RewardButton(context=context,
                          parameter_overrides=[Parameter('first_episode_id', value=10)])
    probe = Node('probe', context=context)
    received: list[EpisodeEvent] = []
    probe.create_subscription(EpisodeEvent, 'episode_events', received.append, qos.EVENTS)
    yield button, probe, received
    probe.destroy_node()
    button.destroy_node()


def _call(spin_until, nodes, client, request):
    assert client.wait_for_service(timeout_sec=5.0)
    future = client.call_async(request)
    spin_until(nodes, future.done)
    return future.result()


def test_start_then_success_publishes_both_events(graph, spin_until) -> None:
    button, probe, received = graph
    start = probe.create_client(Trigger, 'reward_button/start')
    success = probe.create_client(Trigger, 'reward_button/success')
    assert _call(spin_until, [button, probe], start, Trigger.Request()).success
    assert _call(spin_until, [button, probe], success, Trigger.Request()).success
    spin_until([button, probe], lambda: len(received) == 2)
    assert [(m.event, m.episode_id, m.source) for m in received] == [
        (EpisodeEvent.START, 10, EpisodeEvent.SOURCE_OPERATOR),
        (EpisodeEvent.SUCCESS, 10, EpisodeEvent.SOURCE_OPERATOR)]


def test_label_without_running_episode_is_refused_and_publishes_nothing(graph, spin_until) -> None:
    button, probe, received = graph
    label = probe.create_client(LabelEpisode, 'reward_button/label')
    response = _call(spin_until, [button, probe], label, LabelEpisode.Request(event=EpisodeEvent.FAILURE))
    assert not response.accepted and 'no episode is running' in response.message
    for _ in range(10):
        spin_until([button, probe], lambda: True)
    assert received == []


def test_parameter_range_is_enforced_by_descriptor(context) -> None:
    with pytest.raises(Exception, match='first_episode_id'):
        RewardButton(context=context, parameter_overrides=[Parameter('first_episode_id', value=0)])


def test_unknown_parameter_is_rejected_by_name(context) -> None:
    with pytest.raises(ValueError, match=r"unknown parameter\(s\) \['first_episode'\]"):
        RewardButton(context=context, parameter_overrides=[Parameter('first_episode', value=3)])


def test_double_click_late_label_and_undo_over_services(context, spin_until) -> None:
    button = RewardButton(context=context, parameter_overrides=[Parameter('reset_duration_s', value=0.2),
                                                                Parameter('label_window_s', value=5.0)])
    probe = Node('probe', context=context)
    received: list[EpisodeEvent] = []
    probe.create_subscription(EpisodeEvent, 'episode_events', received.append, qos.EVENTS)
    nodes = [button, probe]
    clients = {name: probe.create_client(Trigger, f'reward_button/{name}')
               for name in ('start', 'success', 'abort', 'undo')}
    label = probe.create_client(LabelEpisode, 'reward_button/label')
    try:
        assert _call(spin_until, nodes, clients['start'], Trigger.Request()).success
        assert _call(spin_until, nodes, clients['abort'], Trigger.Request()).success       # ends: RESET follows
        refused = _call(spin_until, nodes, clients['start'], Trigger.Request())
        assert not refused.success and 'resetting' in refused.message
        late = _call(spin_until, nodes, label, LabelEpisode.Request(event=EpisodeEvent.SUCCESS, episode_id=1))
        assert late.accepted and late.episode_id == 1
        again = _call(spin_until, nodes, clients['success'], Trigger.Request())
        assert again.success and 'double click' in again.message
        assert _call(spin_until, nodes, clients['undo'], Trigger.Request()).success
        spin_until(nodes, lambda: len(received) >= 6)
        assert [(m.event, m.episode_id) for m in received] == [
            (EpisodeEvent.START, 1), (EpisodeEvent.ABORT, 1), (EpisodeEvent.RESET, 1), (EpisodeEvent.SUCCESS, 1),
            (EpisodeEvent.UNDO, 1), (EpisodeEvent.ABORT, 1)]
        spin_until(nodes, lambda: button.life.phase.value == 'idle')      # reset_duration_s over
        assert _call(spin_until, nodes, clients['start'], Trigger.Request()).success
    finally:
        probe.destroy_node()
        button.destroy_node()


def test_auto_start_waits_for_the_trainer_to_catch_up_and_marks_evaluation_episodes(context, spin_until) -> None:
    """Simulation: each automatic START waits for trainer_status owed_env_steps == 0; every 2nd is evaluation."""
    from residual_rl_ros.msg import TrainerStatus
    button = RewardButton(context=context, parameter_overrides=[
        Parameter('auto_label', value=True), Parameter('auto_start', value=True),
        Parameter('wait_for_trainer', value=True), Parameter('wait_for_trainer_updates', value=True),
        Parameter('eval_every_episodes', value=2)])
    probe = Node('probe', context=context)
    resets: list[int] = []

    def reset(request, response):
        resets.append(1)
        response.success = True
        return response

    probe.create_service(Trigger, 'sim_robot/reset', reset)
    reports = probe.create_publisher(EpisodeEvent, 'sim_robot/episode_reports', qos.EVENTS)
    status = probe.create_publisher(TrainerStatus, 'trainer_status', qos.LATCHED)
    received: list[EpisodeEvent] = []
    probe.create_subscription(EpisodeEvent, 'episode_events', received.append, qos.EVENTS)
    starts = lambda: [m for m in received if m.event == EpisodeEvent.START]   # noqa: E731
    try:
        status.publish(TrainerStatus(owed_env_steps=0))
        spin_until([button, probe], lambda: len(starts()) == 1, timeout_s=10.0)
        assert not starts()[0].evaluation
        status.publish(TrainerStatus(owed_env_steps=40))          # the learner fell behind during the episode
        spin_until([button, probe], lambda: button.trainer_owed_env_steps == 40)
        reports.publish(EpisodeEvent(event=EpisodeEvent.SUCCESS, source=EpisodeEvent.SOURCE_SIM))
        spin_until([button, probe], lambda: len(resets) == 2 and button.start_waiting, timeout_s=10.0)
        until = time.monotonic() + 1.0
        spin_until([button, probe], lambda: time.monotonic() > until)
        assert len(starts()) == 1, 'started while the trainer still owed updates'
        status.publish(TrainerStatus(owed_env_steps=0))
        spin_until([button, probe], lambda: len(starts()) == 2, timeout_s=10.0)
        assert starts()[1].evaluation and starts()[1].note == 'evaluation'
    finally:
        probe.destroy_node()
        button.destroy_node()
