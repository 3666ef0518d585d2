"""The whole training graph in simulation: separate processes over DDS (localhost), started by the pip
runner from the same description the launch files use. Episodes are labelled automatically, the trainer
ships weights, the residual node runs at least two weight updates, and every message type flows."""
from __future__ import annotations

import signal
import subprocess
import sys
from collections import Counter, defaultdict
from pathlib import Path

import pytest
from rclpy.node import Node

from residual_rl_ros import msg as ours
from residual_rl_ros.ros import qos

def test_training_graph_runs_episodes_and_updates_the_residual(fetch_run, processes, context, spin_until) -> None:
    run_dir, params_file = fetch_run
    launcher = Path(sys.executable).with_name('residual_rl_ros_launch')
    runner = processes([str(launcher), 'humanoid_train', f'params_file:={params_file}', f'run_dir:={run_dir}'])
    probe = Node('graph_probe', context=context)
    seen: Counter = Counter()
    versions_acted: set[int] = set()
    events: dict[int, list[int]] = defaultdict(list)

    def watch(msg_type, topic, qos_profile, on_msg=None):
        def callback(msg):
            seen[topic] += 1
            if on_msg:
                on_msg(msg)
        probe.create_subscription(msg_type, topic, callback, qos_profile)

    watch(ours.Observation, 'observation', qos.CONTROL)
    watch(ours.BaseAction, 'base_action', qos.CONTROL)
    watch(ours.PolicyActionRecord, 'action_proposal', qos.CONTROL)
    watch(ours.PolicyActionRecord, 'action_records', qos.RECORD, lambda m: versions_acted.add(m.policy_version))
    watch(ours.EpisodeEvent, 'episode_events', qos.EVENTS, lambda m: events[m.episode_id].append(m.event))
    watch(ours.EpisodeEvent, 'sim_robot/episode_reports', qos.EVENTS)
    watch(ours.PolicyWeights, 'policy_weights', qos.LATCHED)
    watch(ours.TrainerStatus, 'trainer_status', qos.LATCHED)

    def done() -> bool:
        if runner.poll() is not None:
            pytest.fail(f'the graph stopped early:\n{runner.stdout.read()[-6000:]}')
        labelled = [e for e in events.values() if e[:1] == [ours.EpisodeEvent.START] and len(e) >= 2]
        return (len({v for v in versions_acted if v > 0}) >= 2 and len(labelled) >= 3
                and (run_dir / 'episodes.jsonl').exists())

    try:
        spin_until([probe], done, timeout_s=240.0)
    finally:
        runner.send_signal(signal.SIGINT)
        try:
            output, _ = runner.communicate(timeout=40)
        except subprocess.TimeoutExpired:
            runner.kill()
            output, _ = runner.communicate()
        probe.destroy_node()
    for topic in ('observation', 'base_action', 'action_proposal', 'action_records', 'episode_events',
                  'sim_robot/episode_reports', 'policy_weights', 'trainer_status'):
        assert seen[topic] > 0, f'no message on {topic}'
    ended = [e for e in events.values() if any(k in e for k in (ours.EpisodeEvent.SUCCESS, ours.EpisodeEvent.TIMEOUT,
                                                                  ours.EpisodeEvent.FAILURE))]
    assert len(ended) >= 3
    assert runner.returncode is not None
    assert '[residual_policy]' in output and 'policy v' in output and 'control:' in output
    assert (run_dir / 'episodes.jsonl').exists()
