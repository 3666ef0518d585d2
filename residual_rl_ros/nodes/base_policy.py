"""base_policy: runs the frozen BC policy's action chunks, one base action per observation.

Subscribes `observation`; publishes `base_action` (residual_rl_ros/BaseAction, robot units, with the chunk
phase) stamped with the observation it answers. Chunks restart at every RESET / START episode event.
The policy is a black box: a TorchScript file, an ONNX file, or a Python entry point `module:factory`.
"""
from __future__ import annotations

import sys
from pathlib import Path

import numpy as np
from rclpy.node import Node

from residual_rl_ros.core.base_policy import load_base_policy
from residual_rl_ros.core.chunking import ChunkExecutor, ChunkingConfig
from residual_rl_ros.core.node_params import BasePolicyParams
from residual_rl_ros.msg import BaseAction, EpisodeEvent, Observation
from residual_rl_ros.ros import qos
from residual_rl_ros.ros.conversions import observation_from_msg
from residual_rl_ros.ros.node_main import run_node
from residual_rl_ros.ros.params import declare_config

DEFAULT_POLICY_FILE = 'bc.onnx'   # what core.training.pipeline.build_bc_base writes


class BasePolicyNode(Node):
    def __init__(self, **kwargs) -> None:
        super().__init__('base_policy', **kwargs)
        self.params = declare_config(self, BasePolicyParams)
        spec = self.params.policy or str(Path(self.params.run_dir) / DEFAULT_POLICY_FILE)
        self.executor_ = ChunkExecutor(load_base_policy(spec),
                                       ChunkingConfig(temporal_ensemble=self.params.temporal_ensembling))
        self.joint_names = list(self.params.joint_names)
        self.pub = self.create_publisher(BaseAction, 'base_action', qos.CONTROL)
        self.create_subscription(Observation, 'observation', self._on_observation, qos.CONTROL)
        self.create_subscription(EpisodeEvent, 'episode_events', self._on_event, qos.EVENTS)
        self.get_logger().info(f'base policy {spec}: chunk length {self.executor_.chunk_length}')

    def _on_event(self, msg: EpisodeEvent) -> None:
        if msg.event in (EpisodeEvent.RESET, EpisodeEvent.START):
            self.executor_.reset()

    def _on_observation(self, msg: Observation) -> None:
        if msg.stale_sensors:
            self.get_logger().warning(f'stale sensors {list(msg.stale_sensors)}: no base action',
                                   throttle_duration_sec=2.0)
            return
        try:
            action, phase, length = self.executor_.step(observation_from_msg(msg))
        except ValueError as exc:
            self.get_logger().error(f'base policy failed on this observation: {exc}', throttle_duration_sec=2.0)
            return
        if not np.all(np.isfinite(action)):
            self.get_logger().error('base policy returned NaN/inf: no base action', throttle_duration_sec=2.0)
            return
        if not self.joint_names:
            self.joint_names = [f'action_{i}' for i in range(action.size)]
        if len(self.joint_names) != action.size:
            self.get_logger().error(f'policy returned {action.size} actions for {len(self.joint_names)} '
                                    f'joint_names: no base action', throttle_duration_sec=2.0)
            return
        out = BaseAction(joint_names=self.joint_names, action=action.astype(float).tolist(),
                         chunk_phase=int(phase), chunk_length=int(length))
        out.header.stamp = self.get_clock().now().to_msg()
        out.observation_stamp = msg.header.stamp
        self.pub.publish(out)


def main(args: list[str] | None = None) -> int:
    return run_node(BasePolicyNode, 'base_policy', args)


if __name__ == '__main__':
    sys.exit(main())
