"""recorder: records the topics that rebuild transitions into rosbag2 bags, from raw serialized bytes.

Subscribes with `raw=True` (the CDR bytes as they came off the wire, never re-serialized) and writes with
the pure-Python rosbags writer (bags/writer.py): mcap (or sqlite3) splits under <run_dir>/bags with our
message definitions embedded, closed by size or duration, and flushed every `flush_period_s` so that a
killed recorder leaves readable bags missing at most that period. Stamps are receive times.
"""
from __future__ import annotations

import importlib
import sys
import time
from pathlib import Path

from rclpy.node import Node
from rclpy.qos import QoSProfile

from residual_rl_ros.bags.writer import BagWriter
from residual_rl_ros.core.node_params import RecorderParams
from residual_rl_ros.ros import qos
from residual_rl_ros.ros.node_main import run_node
from residual_rl_ros.ros.params import declare_config

#: Our recordable topics: message type and the QoS the publisher offers (latched ones stay latched).
KNOWN_TOPICS: dict[str, tuple[str, QoSProfile]] = {
    'observation': ('residual_rl_ros/msg/Observation', qos.RECORD),
    'action_records': ('residual_rl_ros/msg/PolicyActionRecord', qos.RECORD),
    'episode_events': ('residual_rl_ros/msg/EpisodeEvent', qos.EVENTS),
    'policy_weights': ('residual_rl_ros/msg/PolicyWeights', qos.LATCHED),
    'trainer_status': ('residual_rl_ros/msg/TrainerStatus', qos.LATCHED),
    'base_action': ('residual_rl_ros/msg/BaseAction', qos.RECORD),
}


def message_class(msgtype: str):
    """The rclpy message class of 'package/msg/Type'; ValueError naming it when it cannot be imported."""
    package, _, name = msgtype.rpartition('/msg/')
    try:
        return getattr(importlib.import_module(f'{package}.msg'), name)
    except (ImportError, AttributeError, ValueError) as exc:
        raise ValueError(f"recorder: message type {msgtype!r} is not importable ({exc})") from exc


class Recorder(Node):
    def __init__(self, **kwargs) -> None:
        super().__init__('recorder', **kwargs)
        self.params = p = declare_config(self, RecorderParams)
        topics: dict[str, tuple[str, QoSProfile]] = {}
        for name in p.topics:
            if name not in KNOWN_TOPICS:
                raise ValueError(f'recorder: unknown topic {name!r} in topics; known: {sorted(KNOWN_TOPICS)} '
                                 "(others go to extra_topics as 'name:package/msg/Type')")
            topics[name] = KNOWN_TOPICS[name]
        for entry in p.extra_topics:
            name, sep, msgtype = entry.partition(':')
            if not sep or '/msg/' not in msgtype:
                raise ValueError(f"recorder: extra_topics entry {entry!r} is not 'name:package/msg/Type'")
            topics[name] = (msgtype, qos.SENSOR)
        prefix = p.prefix or time.strftime('rec_%Y%m%dT%H%M%SZ', time.gmtime())
        folder = Path(p.output_dir or Path(p.run_dir) / 'bags')
        subscriptions = {name: self.create_subscription(message_class(msgtype), name, self._writer_for(name),
                                                        profile, raw=True)
                         for name, (msgtype, profile) in topics.items()}
        self.resolved = {name: sub.topic_name for name, sub in subscriptions.items()}
        self.writer = BagWriter(folder, prefix, {self.resolved[n]: topics[n][0] for n in topics}, storage=p.storage,
                                split_size_bytes=p.split_size_mib * 2**20, split_duration_s=p.split_duration_s,
                                flush_period_s=p.flush_period_s)
        self.create_timer(p.flush_period_s, self.writer.flush)
        self.create_timer(30.0, self._report)
        self.get_logger().info(f'recording {sorted(self.resolved.values())} to {folder}/{prefix}_NNNN '
                               f'({p.storage}, flush every {p.flush_period_s} s)')

    def _writer_for(self, name: str):
        def on_message(data: bytes) -> None:
            self.writer.write(self.resolved[name], data, self.get_clock().now().nanoseconds)
        return on_message

    def _report(self) -> None:
        self.get_logger().info(f'{self.writer.messages} messages in {len(self.writer.splits)} split(s), '
                               f'writing {self.writer.current}')

    def destroy_node(self) -> None:
        self.writer.close()
        self.get_logger().info(f'closed after {self.writer.messages} messages in {len(self.writer.splits)} '
                               'split(s)')
        super().destroy_node()


def main(args: list[str] | None = None) -> int:
    return run_node(Recorder, 'recorder', args)


if __name__ == '__main__':
    sys.exit(main())
