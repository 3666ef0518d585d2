"""reward_button: the operator's Start / Success / Failure / Abort as ROS services and episode events.

Services (std_srvs/Trigger): ~/start, ~/success, ~/failure, ~/abort; and ~/label
(residual_rl_ros/LabelEpisode) for scripts. Every accepted request is published on `episode_events`.
"""
from __future__ import annotations

import sys

import rclpy
from rclpy.executors import ExternalShutdownException, SingleThreadedExecutor
from rclpy.node import Node
from std_srvs.srv import Trigger

from residual_rl_ros.core.episodes import EpisodeEvent, EpisodeTracker, EventKind, EventSource
from residual_rl_ros.core.node_params import RewardButtonParams
from residual_rl_ros.msg import EpisodeEvent as EpisodeEventMsg
from residual_rl_ros.ros import qos
from residual_rl_ros.ros.episode_msgs import to_msg
from residual_rl_ros.ros.params import declare_config
from residual_rl_ros.srv import LabelEpisode


class RewardButton(Node):
    """Turns operator requests into validated episode events."""

    def __init__(self, **kwargs) -> None:
        super().__init__('reward_button', **kwargs)
        self.params = declare_config(self, RewardButtonParams)
        self.source = EventSource[self.params.source.upper()]
        self.tracker = EpisodeTracker(self.params.first_episode_id)
        self.events = self.create_publisher(EpisodeEventMsg, 'episode_events', qos.EVENTS)
        for name, kind in (('start', EventKind.START), ('success', EventKind.SUCCESS),
                           ('failure', EventKind.FAILURE), ('abort', EventKind.ABORT)):
            self.create_service(Trigger, f'~/{name}', lambda req, res, k=kind: self._on_trigger(k, res))
        self.create_service(LabelEpisode, '~/label', self._on_label)
        if self.params.status_period_s > 0:
            self.create_timer(self.params.status_period_s, self._log_state)

    def _apply(self, kind: EventKind, episode_id: int = 0, note: str = '') -> EpisodeEvent:
        if kind == EventKind.START:
            event = self.tracker.start(self.source, note)
        else:
            event = self.tracker.end(kind, self.source, episode_id, note)
        self.events.publish(to_msg(event, self.get_clock().now().to_msg()))
        self.get_logger().info(f'episode {event.episode_id}: {event.kind.name}')
        return event

    def _on_trigger(self, kind: EventKind, response: Trigger.Response) -> Trigger.Response:
        try:
            event = self._apply(kind)
            response.success, response.message = True, f'episode {event.episode_id}: {kind.name}'
        except ValueError as exc:
            response.success, response.message = False, str(exc)
        return response

    def _on_label(self, request: LabelEpisode.Request, response: LabelEpisode.Response):
        try:
            event = self._apply(EventKind(request.event), request.episode_id, request.note)
            response.accepted, response.episode_id = True, event.episode_id
            response.message = f'episode {event.episode_id}: {event.kind.name}'
        except ValueError as exc:
            response.accepted, response.message = False, str(exc)
        return response

    def _log_state(self) -> None:
        state = f'running episode {self.tracker.current}' if self.tracker.running else 'idle'
        self.get_logger().debug(state)


def main(args: list[str] | None = None) -> int:
    rclpy.init(args=args)
    executor = SingleThreadedExecutor()
    try:
        node = RewardButton()
    except ValueError as exc:
        print(f'reward_button: {exc}', file=sys.stderr)
        rclpy.try_shutdown()
        return 2
    executor.add_node(node)
    try:
        executor.spin()
    except (KeyboardInterrupt, ExternalShutdownException):
        pass
    finally:
        node.destroy_node()
        rclpy.try_shutdown()
    return 0


if __name__ == '__main__':
    sys.exit(main())
