"""ingestion over DDS: joints matched by name; bad images and joint states are rejected with their cause,
and what was received before stays intact (the next good tick carries the last good image)."""
import math

import numpy as np
import pytest
from diagnostic_msgs.msg import DiagnosticArray
from rclpy.node import Node
from rclpy.parameter import Parameter
from sensor_msgs.msg import Image, JointState

from residual_rl_ros.msg import Observation
from residual_rl_ros.nodes.ingestion import Ingestion
from residual_rl_ros.ros import qos


@pytest.fixture
def graph(context):
    node = Ingestion(context=context, parameter_overrides=[
        Parameter('joint_names', value=['a', 'b']), Parameter('camera_names', value=['wrist']),
        Parameter('image_size_px', value=8), Parameter('sync_tolerance_s', value=10.0),
        Parameter('max_image_age_s', value=30.0), Parameter('max_joint_state_age_s', value=30.0)])
    probe = Node('ingestion_probe', context=context)
    observations: list[Observation] = []
    diagnostics: list[DiagnosticArray] = []
    probe.create_subscription(Observation, 'observation', observations.append, qos.RECORD)
    probe.create_subscription(DiagnosticArray, 'diagnostics', diagnostics.append, qos.EVENTS_VOLATILE)
    joints = probe.create_publisher(JointState, 'joint_states', qos.SENSOR)
    camera = probe.create_publisher(Image, 'cameras/wrist/image_raw', qos.SENSOR)
    yield node, probe, joints, camera, observations, diagnostics
    probe.destroy_node()
    node.destroy_node()


def _image(probe: Node, pixels: np.ndarray, encoding: str = 'rgb8', data: bytes | None = None) -> Image:
    msg = Image(height=pixels.shape[0], width=pixels.shape[1], encoding=encoding, step=pixels.shape[1] * 3,
                data=pixels.tobytes() if data is None else data)
    msg.header.stamp = probe.get_clock().now().to_msg()
    return msg


def _joints(probe: Node, names: list[str], position: list[float]) -> JointState:
    msg = JointState(name=names, position=position)
    msg.header.stamp = probe.get_clock().now().to_msg()
    return msg


def test_bad_images_and_joint_states_are_named_and_prior_data_stays_intact(graph, spin_until) -> None:
    node, probe, joints, camera, observations, diagnostics = graph
    spin_until([node, probe], lambda: joints.get_subscription_count() and camera.get_subscription_count())
    good = np.random.default_rng(0).integers(0, 255, (8, 8, 3), dtype=np.uint8)
    camera.publish(_image(probe, good))
    spin_until([node, probe], lambda: node.sync.lagging(0) == [])          # the camera sample is in
    joints.publish(_joints(probe, ['b', 'extra', 'a'], [0.2, 9.0, 0.1]))           # reordered, with an extra joint
    spin_until([node, probe], lambda: observations)
    first = observations[0]
    assert list(first.joint_names) == ['a', 'b'] and list(first.joint_position) == [0.1, 0.2]
    assert list(first.stale_sensors) == [] and bytes(first.images[0].data) == good.tobytes()

    cases = [
        (lambda: camera.publish(_image(probe, good, encoding='yuv9')), "unsupported image encoding 'yuv9'"),
        (lambda: camera.publish(_image(probe, good, data=good.tobytes()[:100])), 'data has 100 bytes'),
        (lambda: camera.publish(_image(probe, good, encoding='mono16', data=bytes(64))),
         'mono16 image 8x8: data has 64 bytes'),
        (lambda: joints.publish(_joints(probe, ['b'], [0.3])), "JointState lacks joint(s) ['a']"),
        (lambda: joints.publish(_joints(probe, ['a', 'b'], [math.nan, 0.3])),
         "JointState position is not finite for joint(s) ['a']"),
        (lambda: joints.publish(_joints(probe, ['a', 'b'], [0.3])), 'JointState position has 1 values for 2 names'),
    ]
    for publish, message in cases:
        rejected = node.rejected
        spin_until([node, probe], lambda: node.rejected > rejected, every=publish, period_s=0.05)
        assert message in node.last_rejection, (message, node.last_rejection)
    assert len(observations) == 1                                      # nothing bad became an observation
    np.testing.assert_array_equal(np.frombuffer(bytes(node.sync.get('camera:wrist').data), np.uint8),
                                  good.reshape(-1))                    # the last good image is still there
    joints.publish(_joints(probe, ['a', 'b'], [0.4, 0.5]))
    spin_until([node, probe], lambda: len(observations) == 2)
    assert list(observations[1].joint_position) == [0.4, 0.5]
    assert bytes(observations[1].images[0].data) == good.tobytes()
    spin_until([node, probe], lambda: diagnostics and int.from_bytes(diagnostics[-1].status[0].level, 'little') == 0
               and diagnostics[-1].status[0].values[1].value != '0')
    values = {kv.key: kv.value for kv in diagnostics[-1].status[0].values}
    assert values['rejected'] == str(node.rejected) and 'JointState position has 1 values' in values['last_rejection']


def test_stale_camera_is_flagged_and_reported_as_a_warning(context, spin_until) -> None:
    node = Ingestion(context=context, parameter_overrides=[
        Parameter('joint_names', value=['a']), Parameter('camera_names', value=['wrist']),
        Parameter('max_sync_wait_s', value=0.02)])
    probe = Node('ingestion_probe', context=context)
    observations: list[Observation] = []
    diagnostics: list[DiagnosticArray] = []
    probe.create_subscription(Observation, 'observation', observations.append, qos.RECORD)
    probe.create_subscription(DiagnosticArray, 'diagnostics', diagnostics.append, qos.EVENTS_VOLATILE)
    joints = probe.create_publisher(JointState, 'joint_states', qos.SENSOR)
    try:
        spin_until([node, probe], lambda: joints.get_subscription_count() > 0)
        spin_until([node, probe], lambda: diagnostics and diagnostics[-1].status[0].level == b'\x01',
                   every=lambda: joints.publish(_joints(probe, ['a'], [0.0])), period_s=0.05)
        assert list(observations[-1].stale_sensors) == ['camera:wrist'] and not observations[-1].images
        status = diagnostics[-1].status[0]
        assert status.name == 'ingestion: sensors' and status.message.startswith('stale sensors: camera:wrist in ')
        assert status.values[0].value.endswith('safety holds the previous command')
    finally:
        probe.destroy_node()
        node.destroy_node()


def test_bad_task_state_is_named_and_the_last_good_one_stays(context, spin_until) -> None:
    node = Ingestion(context=context, parameter_overrides=[
        Parameter('joint_names', value=['a']), Parameter('task_state_dim', value=2),
        Parameter('sync_tolerance_s', value=10.0), Parameter('max_joint_state_age_s', value=30.0)])
    probe = Node('ingestion_task_probe', context=context)
    observations: list[Observation] = []
    probe.create_subscription(Observation, 'observation', observations.append, qos.RECORD)
    joints = probe.create_publisher(JointState, 'joint_states', qos.SENSOR)
    task = probe.create_publisher(JointState, 'task_state', qos.SENSOR)
    try:
        spin_until([node, probe], lambda: joints.get_subscription_count() and task.get_subscription_count())
        task.publish(_joints(probe, ['o0', 'o1'], [1.0, 2.0]))
        spin_until([node, probe], lambda: node.sync.lagging(0) == [])
        for values, message in (([math.nan, 2.5], 'task_state rejected: not finite at index(es) [0]'),
                                ([1.0, 2.0, 3.0], 'task_state rejected: 3 values, expected task_state_dim 2')):
            rejected = node.rejected
            spin_until([node, probe], lambda: node.rejected > rejected,
                       every=lambda: task.publish(_joints(probe, ['o0', 'o1', 'o2'][:len(values)], values)),
                       period_s=0.05)
            assert message in node.last_rejection, node.last_rejection
        spin_until([node, probe], lambda: observations, every=lambda: joints.publish(_joints(probe, ['a'], [0.5])),
                   period_s=0.1)
        assert list(observations[0].task_state) == [1.0, 2.0]       # the last good task state, not the NaN one
    finally:
        probe.destroy_node()
        node.destroy_node()
