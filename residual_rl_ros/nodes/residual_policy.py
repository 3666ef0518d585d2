"""residual_policy: base action + bounded residual at control rate, proposed to the safety stage.

Pairs each `base_action` with the `observation` it answers (by stamp) and, while an episode runs,
publishes `action_proposal` (residual_rl_ros/PolicyActionRecord; executed_action before safety).
New weights from `policy_weights` (latched) are validated and swapped between ticks; a rejected update
keeps the running policy. The last `keep_weight_versions` are kept: setting `pinned_version` (at run
time) runs that version and ignores newer ones (rollback), 0 follows the latest again. Events for other
episodes (late labels, undo) do not stop the running episode. While the trainer reports WARMUP the
residual is the recipe's uniform noise; an evaluation episode (START with `evaluation`) runs the residual
deterministically.
Weights are validated and compiled for `inference_backend` (checked against eager torch, eager when it
fails) on a loader thread, off the control path; the finished actor is installed from the executor.
Timing (achieved rate, jitter, misses, latency) is logged every `timing_report_period_s`.
"""
from __future__ import annotations

import queue
import sys
from collections import OrderedDict
from concurrent.futures import ThreadPoolExecutor

from rcl_interfaces.msg import SetParametersResult

import numpy as np
import torch
from rclpy.node import Node

from residual_rl_ros.core.actor_export import (
    ActorWeights,
    LoadedActor,
    actor_for_inference,
    read_actor_weights_file,
)
from residual_rl_ros.core.node_params import ResidualPolicyParams
from residual_rl_ros.core.residual_step import decide
from residual_rl_ros.core.timing import TickStats, tune_control_process
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
        torch.set_num_threads(self.params.inference_threads)     # leave the other core to the trainer
        self.actor: LoadedActor | None = None
        self.kept: OrderedDict[int, LoadedActor] = OrderedDict()    # version -> actor, newest last
        self.pinned = self.params.pinned_version
        self.loader = ThreadPoolExecutor(max_workers=1, thread_name_prefix='weights')   # in arrival order
        self.loaded: queue.SimpleQueue = queue.SimpleQueue()    # (version, actor or error), loader -> executor
        self.loaded_guard = self.create_guard_condition(self._install_loaded)
        if self.params.weights_file:
            version, actor = self._prepare(read_actor_weights_file(self.params.weights_file))
            if isinstance(actor, Exception):
                raise ValueError(f'weights_file {self.params.weights_file}: {actor}')
            self._install(version, actor)
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
        self.loader.submit(self._load, msg)

    def _prepare(self, weights: ActorWeights) -> tuple[int, LoadedActor | Exception]:
        try:
            actor, note = actor_for_inference(weights, self.params.inference_backend, self.params.inference_threads)
        except Exception as exc:  # noqa: BLE001 - reported by _install; the running policy stays
            return weights.version, exc
        if note:
            self.get_logger().warning(f'weights v{weights.version}: {note}')
        return weights.version, actor

    def _load(self, msg: PolicyWeights) -> None:
        """Loader thread: validate and compile, then hand over to the executor (the guard's callback)."""
        self.loaded.put(self._prepare(weights_from_msg(msg)))
        self.loaded_guard.trigger()

    def _install_loaded(self) -> None:
        while not self.loaded.empty():
            self._install(*self.loaded.get_nowait())

    def _install(self, version: int, actor: LoadedActor | Exception) -> None:
        if isinstance(actor, Exception):
            self.get_logger().error(f'weights v{version} rejected, keeping v{self.version}: {actor}')
            return
        if self.actor is not None and actor.policy.spec != self.actor.policy.spec:
            self.get_logger().error(f'weights v{version} rejected: spec differs from the running policy')
            return
        self.kept[actor.version] = actor
        while len(self.kept) > self.params.keep_weight_versions:
            self.kept.popitem(last=False)
        if self.pinned and actor.version != self.pinned:
            self.get_logger().info(f'policy v{actor.version} kept; running pinned v{self.pinned}')
            return
        self.actor = actor     # callbacks never interleave: the swap happens between two ticks
        backend = actor.runner.backend if actor.runner is not None else 'eager'
        self.get_logger().info(f'policy v{actor.version} loaded ({backend})')

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

    def destroy_node(self) -> None:
        self.loader.shutdown(wait=False, cancel_futures=True)
        super().destroy_node()

    def _report_timing(self) -> None:
        s = self.stats.summary()
        if s['ticks'] < 2:
            return
        self.get_logger().info(
            f"control: {s['rate_hz']:.1f} Hz, jitter p50/p99/max {s['jitter_p50_ms']:.2f}/"
            f"{s['jitter_p99_ms']:.2f}/{s['jitter_max_ms']:.2f} ms, latency p50/p99/max "
            f"{s['latency_p50_ms']:.2f}/{s['latency_p99_ms']:.2f}/{s['latency_max_ms']:.2f} ms, "
            f"missed ticks {int(s['misses_total'])}, policy v{self.version}")


def _control_node() -> ResidualPolicy:
    node = ResidualPolicy()
    tune_control_process()
    return node


def main(args: list[str] | None = None) -> int:
    return run_node(_control_node, 'residual_policy', args)


if __name__ == '__main__':
    sys.exit(main())
