"""residual_policy in-process: weights arriving on the topic run on the chosen inference backend and
propose the same actions as eager torch."""
import numpy as np
import pytest
import torch
from rclpy.node import Node
from rclpy.parameter import Parameter

from residual_rl_ros.core.actor_export import actor_weights, policy_from_weights
from residual_rl_ros.core.learner import ResidualLearner
from residual_rl_ros.core.networks import PolicySpec
from residual_rl_ros.core.recipe import NetworkRecipe, ResidualRecipe
from residual_rl_ros.core.residual_step import decide
from residual_rl_ros.core.types import Observation as CoreObservation
from residual_rl_ros.msg import BaseAction, EpisodeEvent, Observation, PolicyActionRecord, PolicyWeights
from residual_rl_ros.nodes.residual_policy import ResidualPolicy
from residual_rl_ros.ros import qos
from residual_rl_ros.ros.conversions import weights_to_msg
from residual_rl_ros.ros.images import numpy_to_image

SPEC = PolicySpec(state_dim=5, action_dim=3, chunk_length=4, camera_names=('front',), image_hw=(16, 16))
JOINTS = ['a', 'b', 'c']


def trained_weights():
    """Weights whose residual is not zero (the real last layer starts at zero)."""
    network = NetworkRecipe(actor_hidden_sizes=[32, 32], critic_hidden_sizes=[16, 16], num_critic_heads=2,
                            encoder_channels=4, encoder_layers=2, encoder_feature_dim=8, action_scale=0.5)
    learner = ResidualLearner(ResidualRecipe(network=network), SPEC)
    torch.manual_seed(3)
    torch.nn.init.normal_(learner.policy.actor.net[-1].weight, std=0.5)
    learner.counters['policy_version'] = 7
    return actor_weights(learner)


@pytest.mark.parametrize('backend', ['onnxruntime', 'torchscript'])
def test_backend_proposes_the_same_actions_as_eager(context, spin_until, backend) -> None:
    weights = trained_weights()
    node = ResidualPolicy(context=context, parameter_overrides=[
        Parameter('inference_backend', value=backend), Parameter('explore', value=False),
        Parameter('timing_report_period_s', value=0.0)])
    probe = Node('residual_probe', context=context)
    proposals = []
    probe.create_subscription(PolicyActionRecord, 'action_proposal', proposals.append, qos.CONTROL)
    pubs = {name: probe.create_publisher(kind, name, profile) for name, kind, profile in (
        ('policy_weights', PolicyWeights, qos.LATCHED), ('episode_events', EpisodeEvent, qos.EVENTS),
        ('observation', Observation, qos.CONTROL), ('base_action', BaseAction, qos.CONTROL))}
    try:
        pubs['policy_weights'].publish(weights_to_msg(weights, probe.get_clock().now().to_msg()))
        spin_until([node, probe], lambda: node.version == 7)
        assert node.actor.runner.backend == backend
        start = EpisodeEvent(event=EpisodeEvent.START, episode_id=1)
        start.header.stamp = probe.get_clock().now().to_msg()
        pubs['episode_events'].publish(start)
        spin_until([node, probe], lambda: node.start_stamp_ns is not None)
        reference = policy_from_weights(weights)          # no runner: eager torch
        rng = np.random.default_rng(0)
        for tick in range(4):
            image = rng.integers(0, 256, (16, 16, 3), dtype=np.uint8)
            obs = Observation(joint_names=JOINTS, joint_position=rng.normal(size=3).tolist(),
                              task_state=rng.normal(size=2).tolist(), camera_names=['front'],
                              images=[numpy_to_image(image, 'rgb8')])
            obs.header.stamp = probe.get_clock().now().to_msg()
            base = BaseAction(joint_names=JOINTS, action=rng.uniform(-0.5, 0.5, 3).tolist(), chunk_phase=tick,
                              chunk_length=4, observation_stamp=obs.header.stamp)
            pubs['observation'].publish(obs)
            spin_until([node, probe], lambda: len(node.observations) > tick)
            pubs['base_action'].publish(base)
            spin_until([node, probe], lambda: len(proposals) > tick)
            core_obs = CoreObservation(np.asarray(obs.joint_position, np.float32),
                                       np.asarray(obs.task_state, np.float32), {'front': image})
            want = decide(reference, core_obs, np.asarray(base.action), tick, 'deterministic', rng)
            got = proposals[tick]
            assert got.policy_version == 7
            assert np.max(np.abs(want.residual)) > 1e-3          # a real residual, not the zero one
            np.testing.assert_allclose(got.residual, want.residual, atol=1e-5)
            np.testing.assert_allclose(got.executed_action, want.executed, atol=1e-5)
    finally:
        probe.destroy_node()
        node.destroy_node()
