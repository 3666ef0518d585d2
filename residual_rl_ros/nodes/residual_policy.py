"""residual_policy: base action + bounded residual at control rate, proposed to the safety stage.

Pairs each `base_action` with the `observation` it answers (by stamp) and, while an episode runs,
publishes `action_proposal` (residual_rl_ros/PolicyActionRecord; executed_action before safety).
New weights from `policy_weights` (latched) are validated and swapped between ticks; a rejected update
keeps the running policy. The last `keep_weight_versions` are kept: setting `pinned_version` (at run
time) runs that version and ignores newer ones (rollback), 0 follows the latest again. Events for other
episodes (late labels, undo) do not stop the running episode. While the trainer reports WARMUP the residual is the recipe's uniform noise;
an evaluation episode (START with `evaluation`) runs the residual deterministically.
Timing (achieved rate, jitter, misses, latency) is logged every `timing_report_period_s`.
"""
from __future__ import annotations

import sys
from collections import OrderedDict

from rcl_interfaces.msg import SetParametersResult

import numpy as np
from rclpy.node import Node

from residual_rl_ros.core.actor_export import (
    LoadedActor,
    policy_from_weights,
    read_actor_weights_file,
)
from residual_rl_ros.core.node_params import ResidualPolicyParams
from residual_rl_ros.core.residual_step import decide
from residual_rl_ros.core.timing import TickStats
from residual_rl_ros.msg import (
    BaseAction,
    EpisodeEvent,
    Observation,
    PolicyActionRecord,
    PolicyWeights,
    TrainerStatus,
)
from residual_rl_ros.ros import qos
from residual_rl_ros.ros.conversions import (
    observation_from_msg,
    stamp_ns,
    weights_from_msg,
)
from residual_rl_ros.ros.node_main import run_node
from residual_rl_ros.ros.params import declare_config


class ResidualPolicy(Node):
    def __init__(self, **kwargs) -> None:
        super().__init__('residual_policy', **kwargs)
        self.params = declare_config(self, ResidualPolicyParams)
        self.actor: LoadedActor | None = None
        self.kept: OrderedDict[int, LoadedActor] = OrderedDict()    # version -> actor, newest last
        if self.params.weights_file:
            self.actor = policy_from_weights(read_actor_weights_file(self.params.weights_file))
            self.kept[self.actor.version] = self.actor
        self.pinned = self.params.pinned_version
        self.add_on_set_parameters_callback(self._on_set_parameters)
        self.rng = np.random.default_rng()
        self.observations: OrderedDict[int, Observation] = OrderedDict()
        self.pending: BaseAction | None = None
        self.episode_id = 0
        self.start_stamp_ns: int | None = None      # set while an episode runs
        self.warmup = False
        self.evaluating = False     # the running episode is an evaluation episode: no exploration
        self.tick = 0
        self.stats = TickStats(self.params.control_rate_hz)
        self.pub = self.create_publisher(PolicyActionRecord, 'action_proposal', qos.CONTROL)
        self.create_subscription(Observation, 'observation', self._on_observation, qos.CONTROL)
        self.create_subscription(BaseAction, 'base_action', self._on_base_action, qos.CONTROL)
        self.create_subscription(EpisodeEvent, 'episode_events', self._on_event, qos.EVENTS)
        self.create_subscription(PolicyWeights, 'policy_weights', self._on_weights, qos.LATCHED)
        self.create_subscription(TrainerStatus, 'trainer_status', self._on_status, qos.LATCHED)
        if self.params.timing_report_period_s > 0:
            self.create_timer(self.params.timing_report_period_s, self._report_timing)

    def _on_observation(self, msg: Observation) -> None:
        stamp = stamp_ns(msg.header.stamp)
        self.observations[stamp] = msg
        while len(self.observations) > 16:
            self.observations.popitem(last=False)
        if self.pending is not None and stamp_ns(self.pending.observation_stamp) == stamp:
            self._on_base_action(self.pending)    # its base action came first (topics race each other)

    def _on_event(self, msg: EpisodeEvent) -> None:
        if msg.event == EpisodeEvent.START:
            self.episode_id, self.start_stamp_ns = msg.episode_id, stamp_ns(msg.header.stamp)
            self.evaluating = bool(msg.evaluation)
            self.stats.restart()
            if self.pending is not None:
                self._on_base_action(self.pending)
        elif msg.episode_id in (0, self.episode_id) or msg.event == EpisodeEvent.RESET:
            self.start_stamp_ns = None

    def _on_status(self, msg: TrainerStatus) -> None:
        self.warmup = msg.state == TrainerStatus.STATE_WARMUP

    def _on_weights(self, msg: PolicyWeights) -> None:
        if len(msg.data) > self.params.max_weights_bytes:
            self.get_logger().error(f'weights v{msg.version} rejected: {len(msg.data)} bytes > '
                                    f'max_weights_bytes {self.params.max_weights_bytes}')
            return
        try:
            actor = policy_from_weights(weights_from_msg(msg))
        except ValueError as exc:
            self.get_logger().error(f'weights rejected, keeping v{self.version}: {exc}')
            return
        if self.actor is not None and actor.policy.spec != self.actor.policy.spec:
            self.get_logger().error(f'weights v{msg.version} rejected: spec differs from the running policy')
            return
        self.kept[actor.version] = actor
        while len(self.kept) > self.params.keep_weight_versions:
            self.kept.popitem(last=False)
        if self.pinned and actor.version != self.pinned:
            self.get_logger().info(f'policy v{actor.version} kept; running pinned v{self.pinned}')
            return
        self.actor = actor     # callbacks never interleave: the swap happens between two ticks
        self.get_logger().info(f'policy v{actor.version} loaded')

    def _on_set_parameters(self, parameters) -> SetParametersResult:
        for parameter in parameters:
            if parameter.name != 'pinned_version':
                continue
            version = int(parameter.value)
            if version and version not in self.kept:
                return SetParametersResult(successful=False, reason=f'v{version} is not kept (kept: '
                                           f'{list(self.kept)})')
            self.pinned = version
            if self.kept:      # the swap happens between two ticks, as for new weights
                self.actor = self.kept[version] if version else next(reversed(self.kept.values()))
            self.get_logger().info(f'pinned v{version}' if version else f'following the latest (v{self.version})')
        return SetParametersResult(successful=True)

    @property
    def version(self) -> int:
        return 0 if self.actor is None else self.actor.version

    def _on_base_action(self, msg: BaseAction) -> None:
        self.pending = msg
        obs_ns = stamp_ns(msg.observation_stamp)
        if self.start_stamp_ns is None or obs_ns < self.start_stamp_ns or obs_ns not in self.observations:
            return
        self.pending = None
        obs_msg = self.observations[obs_ns]
        explore = self.params.explore and not self.evaluating
        mode = 'warmup' if self.warmup and explore else ('explore' if explore else 'deterministic')
        decision = decide(self.actor, observation_from_msg(obs_msg), np.asarray(msg.action), msg.chunk_phase,
                          mode, self.rng)
        record = PolicyActionRecord(
            episode_id=self.episode_id, tick=self.tick, joint_names=list(msg.joint_names),
            base_action=list(msg.action), residual=decision.residual.tolist(),
            executed_action=decision.executed.tolist(), chunk_phase=msg.chunk_phase,
            chunk_length=msg.chunk_length, policy_version=decision.policy_version,
            exploration=decision.exploration)
        record.header.stamp = obs_msg.header.stamp
        self.pub.publish(record)
        self.tick += 1
        now_ns = self.get_clock().now().nanoseconds
        self.stats.tick(now_ns * 1e-9, (now_ns - obs_ns) * 1e-9)

    def _report_timing(self) -> None:
        s = self.stats.summary()
        if s['ticks'] < 2:
            return
        self.get_logger().info(
            f"control: {s['rate_hz']:.1f} Hz, jitter p50/p99/max {s['jitter_p50_ms']:.2f}/"
            f"{s['jitter_p99_ms']:.2f}/{s['jitter_max_ms']:.2f} ms, latency p50/p99/max "
            f"{s['latency_p50_ms']:.2f}/{s['latency_p99_ms']:.2f}/{s['latency_max_ms']:.2f} ms, "
            f"missed ticks {int(s['misses_total'])}, policy v{self.version}")


def main(args: list[str] | None = None) -> int:
    return run_node(ResidualPolicy, 'residual_policy', args)


if __name__ == '__main__':
    sys.exit(main())
