"""residual_policy over DDS: a weights message with a bad checksum, shapes that do not match its config, a
different policy spec or a size over max_weights_bytes is rejected with a message naming the problem, and the
running policy stays."""
import dataclasses
import json

from rclpy.node import Node
from rclpy.parameter import Parameter

from residual_rl_ros.core.actor_export import actor_weights
from residual_rl_ros.core.learner import ResidualLearner
from residual_rl_ros.core.recipe import ResidualRecipe
from residual_rl_ros.msg import PolicyWeights
from residual_rl_ros.nodes.residual_policy import ResidualPolicy
from residual_rl_ros.ros import qos
from residual_rl_ros.ros.conversions import weights_to_msg
from test_residual_inference_backend import SPEC, trained_weights


def test_bad_weights_are_named_and_the_running_policy_stays(context, spin_until, capfd) -> None:
    good = trained_weights()                                   # version 7
    other_spec = actor_weights(ResidualLearner(ResidualRecipe(), dataclasses.replace(SPEC, action_dim=2)))
    limit = max(len(good.data), len(other_spec.data)) + 64
    node = ResidualPolicy(context=context, parameter_overrides=[
        Parameter('inference_backend', value='eager'), Parameter('timing_report_period_s', value=0.0),
        Parameter('max_weights_bytes', value=limit)])
    probe = Node('weights_probe', context=context)
    pub = probe.create_publisher(PolicyWeights, 'policy_weights', qos.LATCHED)
    stamp = probe.get_clock().now().to_msg()
    try:
        pub.publish(weights_to_msg(good, stamp))
        spin_until([node, probe], lambda: node.version == 7)
        running = node.actor
        flipped = bytearray(good.data)
        flipped[-5] ^= 0x01
        config = json.loads(good.config_json)
        config['network']['actor_hidden_sizes'] = [16, 17]
        cases = [(dataclasses.replace(good, version=8, data=bytes(flipped)), 'weights v8 rejected, keeping v7',
                  'sha256 mismatch'),
                 (dataclasses.replace(good, version=9, config_json=json.dumps(config)),
                  'weights v9 rejected, keeping v7', 'config_json differs'),
                 (dataclasses.replace(other_spec, version=10), 'weights v10 rejected', 'spec differs'),
                 (dataclasses.replace(good, version=11, data=bytes(limit + 1)), 'weights v11 rejected',
                  f'{limit + 1} bytes > max_weights_bytes {limit}')]
        output = ''
        for bad, prefix, problem in cases:
            pub.publish(weights_to_msg(bad, stamp))

            def reported() -> bool:
                nonlocal output
                output += capfd.readouterr().err
                return prefix in output
            spin_until([node, probe], reported)
            line = next(line for line in output.splitlines() if prefix in line)
            assert problem in line, line
            assert node.version == 7 and node.actor is running          # the running policy stays
    finally:
        probe.destroy_node()
        node.destroy_node()
