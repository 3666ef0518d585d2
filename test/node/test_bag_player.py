"""bag_player republishes a bag's raw bytes on the graph, in order, with its timing scaled by `rate`."""
from __future__ import annotations

import sys
import time
from pathlib import Path

from rclpy.node import Node
from rclpy.parameter import Parameter

from residual_rl_ros import msg as ours
from residual_rl_ros.nodes.bag_player import BagPlayer
from residual_rl_ros.ros import qos

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / 'ros'))
from bag_factory import write_bag  # noqa: E402


def test_player_republishes_raw_bytes_in_order_at_twice_the_speed(tmp_path: Path, context, spin_until) -> None:
    sent, _ = write_bag(tmp_path / 'bags', episodes=1, steps=8)
    recorded_s = (sent[-1][2] - sent[0][2]) * 1e-9
    probe = Node('player_probe', context=context)
    got: list[tuple[str, bytes, float]] = []
    for topic, msg_type, profile in (('/observation', ours.Observation, qos.RECORD),
                                     ('/action_records', ours.PolicyActionRecord, qos.RECORD),
                                     ('/episode_events', ours.EpisodeEvent, qos.EVENTS)):
        probe.create_subscription(msg_type, topic, lambda data, t=topic: got.append((t, data, time.monotonic())),
                                  profile, raw=True)
    player = BagPlayer(context=context, parameter_overrides=[
        Parameter('bags', value=[str(tmp_path / 'bags')]), Parameter('rate', value=2.0),
        Parameter('start_delay_s', value=1.0)])
    try:
        spin_until([probe, player], lambda: False, timeout_s=30.0)
    except SystemExit:
        pass                                                    # the player is done
    spin_until([probe], lambda: len(got) >= len(sent), timeout_s=10.0)
    player.destroy_node()
    probe.destroy_node()
    assert [(t, bytes(d)) for t, d, _ in got] == [(t, bytes(raw)) for t, raw, _ in sent]
    played_s = got[-1][2] - got[0][2]
    assert recorded_s / 2 * 0.8 <= played_s <= recorded_s / 2 + 1.0, (played_s, recorded_s)
