"""trainer: learns the residual from the graph's own topics and ships weights back over ROS.

Subscribes the topics a recorder would record (`observation`, `action_records` after safety,
`episode_events`), rebuilds transitions with the shared TransitionAssembler, trains with the recipe's
UTD in bounded time slices, and publishes `policy_weights` (latched) and `trainer_status`. Nothing is
shared through files with the robot side, so it can run on another machine in the same ROS domain.
Checkpoints in run_dir let a restarted trainer continue where it stopped.
"""
from __future__ import annotations

import math
import sys
import time
from pathlib import Path

import yaml
from rcl_interfaces.msg import SetParametersResult
from rclpy.node import Node

from residual_rl_ros.bags.reader import BagReadError
from residual_rl_ros.bags.replay import feed_trainer
from residual_rl_ros.core.base_policy import load_base_policy
from residual_rl_ros.core.config_fields import from_dict, to_dict
from residual_rl_ros.core.demos import load_episodes
from residual_rl_ros.core.episodes import EventKind
from residual_rl_ros.core.learner import configure_cpu
from residual_rl_ros.core.live_trainer import STATE_CRITIC_WARMUP, STATE_PAUSED, STATE_WARMUP, LiveTrainer
from residual_rl_ros.core.node_params import TrainerParams
from residual_rl_ros.core.recipe import ResidualRecipe
from residual_rl_ros.core.training.config import recipe_preset
from residual_rl_ros.core.training_thread import BackgroundTrainer
from residual_rl_ros.core.transitions import TransitionAssembler
from residual_rl_ros.msg import EpisodeEvent, Observation, PolicyActionRecord, PolicyWeights, TrainerStatus
from residual_rl_ros.ros import qos
from residual_rl_ros.ros.conversions import observation_from_msg, record_from_msg, stamp_ns, weights_to_msg
from residual_rl_ros.ros.episode_msgs import from_msg as event_from_msg
from residual_rl_ros.ros.node_main import run_node
from residual_rl_ros.ros.params import declare_config

_STATES = {STATE_WARMUP: TrainerStatus.STATE_WARMUP, STATE_CRITIC_WARMUP: TrainerStatus.STATE_CRITIC_WARMUP,
           STATE_PAUSED: TrainerStatus.STATE_PAUSED}


def load_recipe(params: TrainerParams) -> ResidualRecipe:
    recipe = recipe_preset(params.recipe_preset, params.seed)
    if not params.recipe_file:
        return recipe
    overrides = yaml.safe_load(Path(params.recipe_file).read_text()) or {}
    values = to_dict(recipe)
    for section, fields in overrides.items():
        if isinstance(fields, dict) and isinstance(values.get(section), dict):
            values[section].update(fields)
        else:
            values[section] = fields
    return from_dict(ResidualRecipe, values)


class Trainer(Node):
    def __init__(self, **kwargs) -> None:
        super().__init__('trainer', **kwargs)
        self.params = p = declare_config(self, TrainerParams)
        configure_cpu(p.torch_threads)      # torch threads, and glibc keeps the per-update buffers mapped
        run_dir = Path(p.run_dir)
        run_dir.mkdir(parents=True, exist_ok=True)
        demos = load_episodes(p.demos_file or run_dir / 'demos.npz')
        base = load_base_policy(p.base_policy or str(run_dir / 'bc.onnx'))
        self.core = LiveTrainer.create(run_dir, demos, base, load_recipe(p), p.camera_names, p.max_episode_steps,
                                       p.warmup_env_steps, p.max_update_backlog_env_steps)
        normalizer = self.core.learner.action_normalizer
        self.assembler = TransitionAssembler(lambda a: normalizer.normalize(a).clip(-1.0, 1.0),
                                             relabel_window_s=p.relabel_window_s)
        self.core.paused = p.paused
        self.add_on_set_parameters_callback(self._on_set_parameters)
        self.published_at_actor_updates = -1
        self.last_state = self.core.state
        self.last_caught_up = True      # published owed_env_steps == 0 (an edge is published at once)
        self.last_checkpoint_steps = self.core.env_steps
        self.weights_pub = self.create_publisher(PolicyWeights, 'policy_weights', qos.LATCHED)
        self.status_pub = self.create_publisher(TrainerStatus, 'trainer_status', qos.LATCHED)
        live = [self.create_subscription(Observation, 'observation', self._on_observation, qos.RECORD),
                self.create_subscription(PolicyActionRecord, 'action_records', self._on_record, qos.RECORD)]
        self.create_subscription(EpisodeEvent, 'episode_events', self._on_event, qos.EVENTS)
        if p.backfill_bags and (run_dir / p.backfill_bags).is_dir():
            self._wait_for_overlap(live)
            self._backfill(run_dir / p.backfill_bags)     # live messages queue meanwhile (depth 1000)
        self.worker = BackgroundTrainer(self.core, on_episode_end=self._log_episode)
        self.ended_kinds: dict[int, str] = {}
        self.worker.start()
        self.create_timer(0.05, self._housekeeping)
        self.create_timer(p.status_period_s, self._publish_status)
        self._publish_weights()
        self._publish_status()
        self.get_logger().info(f'trainer ready: {len(demos)} demos, recipe {p.recipe_preset}, '
                               f'{self.core.env_steps} env steps so far, run_dir {run_dir}')

    def _on_set_parameters(self, parameters) -> SetParametersResult:
        for parameter in parameters:
            if parameter.name == 'paused':
                self.core.paused = bool(parameter.value)
                self.get_logger().info('training paused' if self.core.paused else 'training resumed')
        return SetParametersResult(successful=True)

    def _wait_for_overlap(self, subscriptions, match_timeout_s: float = 5.0, flush_wait_s: float = 2.0) -> None:
        """Read the bags only once the live topics are matched and the recorder has flushed past that moment
        (its flush_period_s defaults to 1 s): every message is then in the bags or in our queues."""
        deadline = time.monotonic() + match_timeout_s
        while time.monotonic() < deadline and not all(s.get_publisher_count() for s in subscriptions):
            time.sleep(0.05)
        time.sleep(flush_wait_s)

    def _backfill(self, folder: Path) -> None:
        """Store what the bags recorded and the checkpoint lacks (a crash lost it from the buffer)."""
        try:
            stats = feed_trainer(self.core, [folder], relabel_window_s=self.params.relabel_window_s)
        except BagReadError as exc:
            self.get_logger().warning(f'backfill from {folder} stopped: {exc}')
            return
        self.get_logger().info(f'backfill from {folder}: {stats.added} of {stats.transitions} recorded transitions '
                               f'were missing and are stored now ({stats.seconds:.1f} s)')

    def _now_s(self) -> float:
        return self.get_clock().now().nanoseconds * 1e-9

    def _store(self, transitions) -> None:
        """Hand assembled transitions and finished episodes to the learning thread, in order."""
        for transition in transitions:
            self.worker.submit(transition)
        for end in self.assembler.ended:
            # a timeout is a non-success for the success rate (and truncated, not terminal, for learning);
            # an operator's abort says nothing about the policy
            success = None if end.kind == EventKind.ABORT else end.kind == EventKind.SUCCESS
            self.worker.submit_episode_end(end.episode_id, success, end.evaluation)
            self.ended_kinds[end.episode_id] = end.kind.name
        self.assembler.ended.clear()

    def _log_episode(self, episode_id: int, success: bool | None, evaluation: bool) -> None:
        """Called by the learning thread once the episode's transitions are stored."""
        kind = self.ended_kinds.pop(episode_id, '?') + (' (evaluation)' if evaluation else '')
        self.get_logger().info(f'episode {episode_id}: {kind}  env_steps {self.core.env_steps}  success(last 20 '
                               f'training) {self.core.success_rate:.0%}  evaluation(last 10) '
                               f'{self.core.eval_success_rate:.0%}  policy v{self._version}  {self._dropped()}')

    def _dropped(self) -> str:
        """Counts of inputs that did not become transitions (empty when none)."""
        keys = ('unmatched_records', 'late_records', 'late_labels_dropped', 'dropped_truncated_tail')
        counts = {k: self.assembler.stats[k] for k in keys if self.assembler.stats[k]}
        if self.core.skipped_env_steps:
            counts['updates_skipped_for_steps'] = self.core.skipped_env_steps   # the learner fell behind
        waiting = self.assembler.records_waiting
        return ' '.join([f'{k} {v}' for k, v in counts.items()] + ([f'waiting {waiting}'] if waiting else []))

    def _on_observation(self, msg: Observation) -> None:
        if not msg.stale_sensors:
            self._store(self.assembler.add_observation(stamp_ns(msg.header.stamp), observation_from_msg(msg)))

    def _on_record(self, msg: PolicyActionRecord) -> None:
        self._store(self.assembler.add_record(record_from_msg(msg)))

    def _on_event(self, msg: EpisodeEvent) -> None:
        try:
            self._store(self.assembler.add_event(event_from_msg(msg), self._now_s()))
        except ValueError as exc:
            self.get_logger().error(str(exc))

    @property
    def _version(self) -> int:
        return int(self.core.learner.counters['policy_version'])

    def _housekeeping(self) -> None:
        """Finalize ended episodes, publish weights and status, checkpoint; learning runs in self.worker."""
        if self.worker.error is not None:
            raise RuntimeError(f'training stopped: {self.worker.error!r}') from self.worker.error
        self._store(self.assembler.flush(self._now_s()))
        with self.worker.locked():
            self._housekeeping_locked()

    def _housekeeping_locked(self) -> None:
        caught_up = self.core.owed_env_steps == 0
        if self.core.state != self.last_state or caught_up != self.last_caught_up:
            self.last_state, self.last_caught_up = self.core.state, caught_up
            self._publish_status()      # reward_button may wait for the learner to catch up
        actor_updates = self.core.learner.counters['actor_updates']
        if actor_updates - max(self.published_at_actor_updates, 0) >= self.params.publish_weights_every_updates:
            self._publish_weights()
        if self.core.env_steps - self.last_checkpoint_steps >= self.params.checkpoint_every_env_steps:
            self._checkpoint()
        if self.params.max_env_steps and self.core.env_steps >= self.params.max_env_steps:
            self._checkpoint()
            self.get_logger().info(f'max_env_steps {self.params.max_env_steps} reached: done')
            raise SystemExit(0)

    def destroy_node(self) -> None:
        self.worker.stop()
        super().destroy_node()

    def _publish_weights(self) -> None:
        with self.worker.locked():
            self.published_at_actor_updates = self.core.learner.counters['actor_updates']
            weights = self.core.weights()
        self.weights_pub.publish(weights_to_msg(weights, self.get_clock().now().to_msg()))

    def _checkpoint(self) -> None:
        folder = self.core.checkpoint()
        self.last_checkpoint_steps = self.core.env_steps
        self.get_logger().info(f'checkpoint at {self.core.env_steps} env steps: {folder}')

    def _publish_status(self) -> None:
        with self.worker.locked():
            self._publish_status_locked()

    def _publish_status_locked(self) -> None:
        c, m = self.core.learner.counters, self.core.metrics
        status = TrainerStatus(
            state=_STATES.get(self.core.state, TrainerStatus.STATE_TRAINING), policy_version=self._version,
            env_steps=self.core.env_steps, critic_updates=int(c['critic_updates']),
            actor_updates=int(c['actor_updates']), episodes=len(self.core.episodes),
            success_rate=self.core.success_rate, critic_loss=m.get('critic_loss', math.nan),
            actor_loss=m.get('actor_loss', math.nan), q_mean=m.get('q_mean', math.nan),
            online_transitions=len(self.core.buffers['online']), demo_transitions=len(self.core.buffers['demo']),
            intervention_transitions=len(self.core.buffers['intervention']),
            owed_env_steps=self.core.owed_env_steps, eval_success_rate=self.core.eval_success_rate)
        status.header.stamp = self.get_clock().now().to_msg()
        self.status_pub.publish(status)


def main(args: list[str] | None = None) -> int:
    return run_node(Trainer, 'trainer', args)


if __name__ == '__main__':
    sys.exit(main())
