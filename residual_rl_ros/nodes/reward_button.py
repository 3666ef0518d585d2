"""reward_button: the episode authority. Operator Start / Success / Failure / Abort / Undo become events.

Services (std_srvs/Trigger): ~/start, ~/success, ~/failure, ~/abort, ~/undo; ~/label
(residual_rl_ros/LabelEpisode, any event incl. UNDO, optionally naming an episode id) for scripts and the
operator page. Every accepted request is published on `episode_events`; the rules (late labels by id,
double clicks ignored, undo within `label_window_s`, no start while resetting) are core.episodes'
EpisodeLifecycle. When a running episode ends, RESET follows: with `auto_label` (simulation) the
simulator's outcome reports on `sim_robot/episode_reports` are labelled the same way, then
`sim_robot/reset` is called and (with `auto_start`) the next START follows; otherwise the reset phase
lasts `reset_duration_s` (safety_limit drives its reset_pose meanwhile). With `wait_for_trainer_updates`
the next automatic START waits until the trainer reports no owed updates (full UTD in simulation), and
every `eval_every_episodes`-th automatic episode is an evaluation episode (START carries `evaluation`).
"""
from __future__ import annotations

import sys
import time

from rclpy.node import Node
from std_srvs.srv import Trigger

from residual_rl_ros.core.episodes import ENDING, Decision, EpisodeLifecycle, EventKind, EventSource
from residual_rl_ros.core.node_params import RewardButtonParams
from residual_rl_ros.msg import EpisodeEvent as EpisodeEventMsg
from residual_rl_ros.msg import TrainerStatus
from residual_rl_ros.ros import qos
from residual_rl_ros.ros.episode_msgs import to_msg
from residual_rl_ros.ros.node_main import run_node
from residual_rl_ros.ros.params import declare_config
from residual_rl_ros.srv import LabelEpisode


class RewardButton(Node):
    """Turns operator requests (and, in simulation, the simulator's reports) into episode events."""

    def __init__(self, **kwargs) -> None:
        super().__init__('reward_button', **kwargs)
        self.params = declare_config(self, RewardButtonParams)
        self.source = EventSource[self.params.source.upper()]
        self.life = EpisodeLifecycle(self.params.first_episode_id, self.params.label_window_s)
        self.labelled = 0
        self._reset_timer = None
        self.trainer_owed_env_steps = 0
        self.start_waiting = False
        self.auto_started = 0
        self.events = self.create_publisher(EpisodeEventMsg, 'episode_events', qos.EVENTS)
        for name, kind in (('start', EventKind.START), ('success', EventKind.SUCCESS),
                           ('failure', EventKind.FAILURE), ('abort', EventKind.ABORT), ('undo', EventKind.UNDO)):
            self.create_service(Trigger, f'~/{name}', lambda req, res, k=kind: self._on_trigger(k, res))
        self.create_service(LabelEpisode, '~/label', self._on_label)
        if self.params.auto_label:
            self.reset_client = self.create_client(Trigger, 'sim_robot/reset')
            self.create_subscription(EpisodeEventMsg, 'sim_robot/episode_reports', self._on_report, qos.EVENTS)
            self.trainer_heard = not self.params.wait_for_trainer
            if self.params.wait_for_trainer or self.params.wait_for_trainer_updates:
                self.create_subscription(TrainerStatus, 'trainer_status', self._on_trainer_status, qos.LATCHED)
            self._begin_timer = self.create_timer(0.5, self._begin)

    def apply(self, kind: EventKind, source: EventSource, episode_id: int = 0, note: str = '',
              evaluation: bool = False) -> Decision:
        """Decide on one request, publish its events; a running episode that ended is then reset."""
        now_s, running = time.monotonic(), self.life.current
        if kind == EventKind.START:
            decision = self.life.start(source, now_s, note, evaluation)
        elif kind in ENDING:
            decision = self.life.end(kind, source, now_s, episode_id, note)
        elif kind == EventKind.UNDO:
            decision = self.life.undo(source, now_s)
        else:
            decision = Decision(False, f'{kind.name} is not an operator request')
        self._publish(decision)
        if decision.accepted:
            self.get_logger().info(f'{decision.message} ({source.name.lower()})')
        else:
            self.get_logger().warning(f'refused: {decision.message} ({source.name.lower()})')
        if decision.accepted and kind in ENDING and running is not None and self.life.current is None:
            self.labelled += 1
            if self.params.max_episodes and self.labelled >= self.params.max_episodes:
                self.get_logger().info(f'{self.labelled} episodes labelled: done')
                raise SystemExit(0)
            self._reset()
        return decision

    def _publish(self, decision: Decision) -> None:
        for event in decision.events:
            self.events.publish(to_msg(event, self.get_clock().now().to_msg()))

    def _on_trigger(self, kind: EventKind, response: Trigger.Response) -> Trigger.Response:
        decision = self.apply(kind, self.source)
        response.success, response.message = decision.accepted, decision.message
        return response

    def _on_label(self, request: LabelEpisode.Request, response: LabelEpisode.Response):
        try:
            kind = EventKind(request.event)
        except ValueError:
            response.accepted, response.message = False, f'unknown event {request.event}'
            return response
        decision = self.apply(kind, self.source, request.episode_id, request.note)
        response.accepted, response.message = decision.accepted, decision.message
        response.episode_id = decision.events[-1].episode_id if decision.events else request.episode_id
        return response

    # --- reset phase --------------------------------------------------------------------------------
    def _reset(self) -> None:
        self._publish(self.life.begin_reset(EventSource.AUTO))
        if self.params.auto_label:
            self.reset_client.call_async(Trigger.Request()).add_done_callback(self._after_reset)
        else:
            self._reset_timer = self.create_timer(max(self.params.reset_duration_s, 1e-3), self._reset_done)

    def _reset_done(self) -> None:
        if self._reset_timer is not None:
            self.destroy_timer(self._reset_timer)
            self._reset_timer = None
        self.life.finish_reset()
        if self.params.auto_start:
            self._auto_start()

    def _auto_start(self) -> None:
        """The next automatic START, once the trainer has caught up when asked to wait for it."""
        self.start_waiting = self.params.wait_for_trainer_updates and self.trainer_owed_env_steps > 0
        if self.start_waiting:
            return        # _on_trainer_status starts it
        self.auto_started += 1
        every = self.params.eval_every_episodes
        evaluation = bool(every) and self.auto_started % every == 0
        self.apply(EventKind.START, EventSource.AUTO, note='evaluation' if evaluation else '', evaluation=evaluation)

    def _after_reset(self, future) -> None:
        result = future.result()
        if result is None or not result.success:
            self.get_logger().error(f'sim_robot reset failed: {getattr(result, "message", "no response")}')
            return
        self._reset_done()

    # --- simulation: the automatic operator -------------------------------------------------------
    def _on_trainer_status(self, msg: TrainerStatus) -> None:
        self.trainer_heard = True
        self.trainer_owed_env_steps = int(msg.owed_env_steps)
        if self.start_waiting:
            self._auto_start()

    def _begin(self) -> None:
        """First reset once the simulator's service is up (and the trainer, when waiting for it)."""
        if self.reset_client.service_is_ready() and self.trainer_heard:
            self._begin_timer.cancel()
            self._reset()

    def _on_report(self, msg: EpisodeEventMsg) -> None:
        if self.life.running:
            self.apply(EventKind(msg.event), EventSource.SIM, note=msg.note)


def main(args: list[str] | None = None) -> int:
    return run_node(RewardButton, 'reward_button', args)


if __name__ == '__main__':
    sys.exit(main())
