"""Every custom message type crosses DDS to another process and back intact."""
import sys
from pathlib import Path

from rclpy.node import Node
from sensor_msgs.msg import Image

from residual_rl_ros import msg as interfaces
from residual_rl_ros.ros import qos

PEER = Path(__file__).with_name('echo_peer.py')


def _samples() -> dict[str, object]:
    image = Image(height=2, width=2, encoding='rgb8', step=6)
    image.data = bytes(range(12))
    return {
        'BaseAction': interfaces.BaseAction(joint_names=['j1', 'j2'], action=[0.5, -0.5], chunk_phase=1,
                                            chunk_length=4),
        'EpisodeEvent': interfaces.EpisodeEvent(event=interfaces.EpisodeEvent.SUCCESS, episode_id=7,
                                                source=interfaces.EpisodeEvent.SOURCE_AUTO, note='sim'),
        'Observation': interfaces.Observation(joint_names=['j1'], joint_position=[0.25], joint_velocity=[1.0],
                                              task_state=[1.0, 2.0], camera_names=['head'], images=[image]),
        'PolicyActionRecord': interfaces.PolicyActionRecord(
            episode_id=7, tick=12, joint_names=['j1'], base_action=[0.1], residual=[0.02],
            executed_action=[0.12], chunk_phase=3, chunk_length=8, policy_version=2, exploration=True),
        'PolicyWeights': interfaces.PolicyWeights(version=3, format='safetensors', sha256='0f' * 32,
                                                  config_json='{"hidden": 8}', data=bytes(range(256)) * 64),
        'TrainerStatus': interfaces.TrainerStatus(state=interfaces.TrainerStatus.STATE_TRAINING,
                                                  policy_version=3, env_steps=1000, success_rate=0.5),
    }


def test_each_custom_message_round_trips_through_another_process(processes, context, spin_until) -> None:
    peer = processes([sys.executable, str(PEER)])
    assert peer.stdout.readline().strip() == 'echo_peer ready'
    node = Node('message_probe', context=context)
    samples = _samples()
    received: dict[str, object] = {}
    publishers = {}
    for name, sample in samples.items():
        msg_type = type(sample)
        publishers[name] = node.create_publisher(msg_type, f'ping/{name}', qos.EVENTS)
        node.create_subscription(msg_type, f'pong/{name}', lambda m, n=name: received.setdefault(n, m),
                                 qos.EVENTS)

    def publish_missing() -> None:
        for name, sample in samples.items():
            if name not in received:
                publishers[name].publish(sample)

    spin_until([node], lambda: len(received) == len(samples), timeout_s=30.0, every=publish_missing)
    for name, sample in samples.items():
        assert received[name] == sample, name
    node.destroy_node()
