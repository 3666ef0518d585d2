"""bag_player: republishes recorded bags on the graph, from their raw bytes, with their timing.

Messages of every bag given are merged by receive time and published on their recorded topic names with
the recorded spacing divided by `rate` (2.0 = twice as fast). Bytes go out as they were recorded (no
deserialization), so a replayed graph sees exactly what the recorded one saw. Exits 0 at the end unless
`loop`.

    ros2 run residual_rl_ros bag_player --ros-args -p bags:=[runs/latest/bags] -p rate:=2.0
"""
from __future__ import annotations

import sys
import time

from rclpy.node import Node

from residual_rl_ros.bags.reader import BagReadError, list_topics, read_messages
from residual_rl_ros.core.node_params import BagPlayerParams
from residual_rl_ros.nodes.recorder import KNOWN_TOPICS, message_class
from residual_rl_ros.ros import qos
from residual_rl_ros.ros.node_main import run_node
from residual_rl_ros.ros.params import declare_config

_QOS_BY_TYPE = {msgtype: profile for msgtype, profile in KNOWN_TOPICS.values()}


class BagPlayer(Node):
    def __init__(self, **kwargs) -> None:
        super().__init__('bag_player', **kwargs)
        self.params = p = declare_config(self, BagPlayerParams)
        if not p.bags:
            raise ValueError('bag_player: parameter bags is empty (give bag folders or .mcap/.db3 files)')
        self.publishers_by_topic: dict[str, object] = {}
        self.published = 0
        self.loops = 0
        try:
            for topic, msgtype in list_topics(p.bags).items():    # publishers first: discovery during the delay
                if not p.topics or topic in p.topics:
                    self._publisher(topic, msgtype)
        except BagReadError as exc:
            raise ValueError(f'bag_player: {exc}') from exc
        self._start()
        self.create_timer(0.002, self._play)

    def _start(self) -> None:
        try:
            self.messages = read_messages(self.params.bags)
        except BagReadError as exc:
            raise ValueError(f'bag_player: {exc}') from exc
        self.pending = next(self.messages, None)
        self.first_ns = self.pending.stamp_ns if self.pending else 0
        self.wall_start = time.monotonic() + (self.params.start_delay_s if not self.loops else 0.0)

    def _publisher(self, topic: str, msgtype: str):
        if topic not in self.publishers_by_topic:
            profile = _QOS_BY_TYPE.get(msgtype, qos.SENSOR)
            self.publishers_by_topic[topic] = self.create_publisher(message_class(msgtype), topic, profile)
        return self.publishers_by_topic[topic]

    def _play(self) -> None:
        elapsed_ns = (time.monotonic() - self.wall_start) * self.params.rate * 1e9
        try:
            while self.pending is not None and self.pending.stamp_ns - self.first_ns <= elapsed_ns:
                message = self.pending
                if not self.params.topics or message.topic in self.params.topics:
                    self._publisher(message.topic, message.msgtype).publish(bytes(message.data))
                    self.published += 1
                self.pending = next(self.messages, None)
        except BagReadError as exc:
            self.get_logger().error(f'{exc}; stopping playback there')
            self.pending = None
        if self.pending is None:
            self.loops += 1
            self.get_logger().info(f'played {self.published} messages (pass {self.loops})')
            if not self.params.loop:
                raise SystemExit(0)
            self._start()


def main(args: list[str] | None = None) -> int:
    return run_node(BagPlayer, 'bag_player', args)


if __name__ == '__main__':
    sys.exit(main())
