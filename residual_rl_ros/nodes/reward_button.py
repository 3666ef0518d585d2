"""reward_button: the episode authority. Operator Start / Success / Failure / Abort become episode events.

Services (std_srvs/Trigger): ~/start, ~/success, ~/failure, ~/abort; ~/label (residual_rl_ros/LabelEpisode)
for scripts. Every accepted request is published on `episode_events`. With `auto_label` (simulation), the
simulator's outcome reports on `sim_robot/episode_reports` are labelled the same way, followed by RESET,
a call to `sim_robot/reset`, and (with `auto_start`) the next START.
"""
from __future__ import annotations

import sys

from rclpy.node import Node
from std_srvs.srv import Trigger

from residual_rl_ros.core.episodes import ENDING, EpisodeEvent, EpisodeTracker, EventKind, EventSource
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
        self.tracker = EpisodeTracker(self.params.first_episode_id)
        self.labelled = 0
        self.events = self.create_publisher(EpisodeEventMsg, 'episode_events', qos.EVENTS)
        for name, kind in (('start', EventKind.START), ('success', EventKind.SUCCESS),
                           ('failure', EventKind.FAILURE), ('abort', EventKind.ABORT)):
            self.create_service(Trigger, f'~/{name}', lambda req, res, k=kind: self._on_trigger(k, res))
        self.create_service(LabelEpisode, '~/label', self._on_label)
        if self.params.auto_label:
            self.reset_client = self.create_client(Trigger, 'sim_robot/reset')
            self.create_subscription(EpisodeEventMsg, 'sim_robot/episode_reports', self._on_report, qos.EVENTS)
            self.trainer_heard = not self.params.wait_for_trainer
            if self.params.wait_for_trainer:
                self.create_subscription(TrainerStatus, 'trainer_status', self._on_trainer_status, qos.LATCHED)
            self._begin_timer = self.create_timer(0.5, self._begin)

    def apply(self, kind: EventKind, source: EventSource, episode_id: int = 0, note: str = '') -> EpisodeEvent:
        """Validate and publish one event; ValueError (nothing published) when it is out of order."""
        if kind == EventKind.START:
            event = self.tracker.start(source, note)
        elif kind in ENDING:
            event = self.tracker.end(kind, source, episode_id, note)
        else:
            event = EpisodeEvent(kind, source, self.tracker.last_ended or 0, note)
        self.events.publish(to_msg(event, self.get_clock().now().to_msg()))
        self.get_logger().info(f'episode {event.episode_id}: {event.kind.name} ({source.name.lower()})')
        if kind in ENDING:
            self.labelled += 1
        return event

    def _on_trigger(self, kind: EventKind, response: Trigger.Response) -> Trigger.Response:
        try:
            event = self.apply(kind, self.source)
            response.success, response.message = True, f'episode {event.episode_id}: {kind.name}'
        except ValueError as exc:
            response.success, response.message = False, str(exc)
        return response

    def _on_label(self, request: LabelEpisode.Request, response: LabelEpisode.Response):
        try:
            event = self.apply(EventKind(request.event), self.source, request.episode_id, request.note)
            response.accepted, response.episode_id = True, event.episode_id
            response.message = f'episode {event.episode_id}: {event.kind.name}'
        except ValueError as exc:
            response.accepted, response.message = False, str(exc)
        return response

    # --- simulation: the automatic operator -------------------------------------------------------
    def _on_trainer_status(self, msg: TrainerStatus) -> None:
        self.trainer_heard = True

    def _begin(self) -> None:
        """First reset once the simulator's service is up (and the trainer, when waiting for it)."""
        if self.reset_client.service_is_ready() and self.trainer_heard:
            self._begin_timer.cancel()
            self._reset()

    def _on_report(self, msg: EpisodeEventMsg) -> None:
        if not self.tracker.running:
            return
        try:
            self.apply(EventKind(msg.event), EventSource.SIM, note=msg.note)
        except ValueError as exc:
            self.get_logger().warning(f'simulator report ignored: {exc}')
            return
        if self.params.max_episodes and self.labelled >= self.params.max_episodes:
            self.get_logger().info(f'{self.labelled} episodes labelled: done')
            raise SystemExit(0)
        self._reset()

    def _reset(self) -> None:
        self.apply(EventKind.RESET, EventSource.AUTO)
        future = self.reset_client.call_async(Trigger.Request())
        future.add_done_callback(self._after_reset)

    def _after_reset(self, future) -> None:
        result = future.result()
        if result is None or not result.success:
            self.get_logger().error(f'sim_robot reset failed: {getattr(result, "message", "no response")}')
            return
        if self.params.auto_start:
            self.apply(EventKind.START, EventSource.AUTO)


def main(args: list[str] | None = None) -> int:
    return run_node(RewardButton, 'reward_button', args)


if __name__ == '__main__':
    sys.exit(main())
