"""Recording from the running training graph: the recorder's bags stay readable when it is SIGKILLed, and
after trainer and recorder are both killed -9, resuming from the checkpoint with the bags stores every
recorded transition exactly once."""
from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pytest
import yaml
from rclpy.node import Node
from rosbags.highlevel import AnyReader

from residual_rl_ros import msg as ours
from residual_rl_ros.bags.reader import read_messages, storage_files
from residual_rl_ros.bags.replay import TRANSITION_TYPES, transitions
from residual_rl_ros.core.transitions import TransitionAssembler
from residual_rl_ros.ros import qos


def _children(parent: int) -> dict[str, int]:
    """Node name -> pid of the runner's node processes."""
    found = {}
    for entry in Path('/proc').iterdir():
        try:
            stat = (entry / 'stat').read_text()
            cmdline = (entry / 'cmdline').read_bytes().split(b'\0')
        except (OSError, ValueError):
            continue
        script = next((arg for arg in cmdline if b'/lib/residual_rl_ros/' in arg), None)
        if script and int(stat.rsplit(')', 1)[1].split()[1]) == parent:
            found[Path(script.decode()).name] = int(entry.name)
    return found


def _recorded_sources(bags: Path) -> set[tuple[int, int, int]]:
    assembler = TransitionAssembler(lambda a: a, relabel_window_s=4.0)
    sources = set()
    for batch in transitions(read_messages([bags], TRANSITION_TYPES), assembler):
        sources |= {t.source for t in batch}
        assembler.ended.clear()
    return sources


def test_killed_trainer_and_recorder_resume_with_every_recorded_transition(fetch_run, processes, context,
                                                                           spin_until) -> None:
    run_dir, params_file = fetch_run
    params = yaml.safe_load(params_file.read_text())
    params['recorder']['ros__parameters'].update(flush_period_s=0.2)
    params['trainer']['ros__parameters'].update(checkpoint_every_env_steps=60, warmup_env_steps=1000)
    params_file.write_text(yaml.safe_dump(params))
    launcher = Path(sys.executable).with_name('residual_rl_ros_launch')
    runner = processes([str(launcher), 'humanoid_train', f'params_file:={params_file}', f'run_dir:={run_dir}'])
    probe = Node('recording_probe', context=context)
    status = {'env_steps': 0}
    probe.create_subscription(ours.TrainerStatus, 'trainer_status',
                              lambda m: status.update(env_steps=m.env_steps), qos.LATCHED)
    state_file = run_dir / 'checkpoint' / 'live_state.json'

    def checkpointed_and_beyond() -> bool:
        if runner.poll() is not None:
            pytest.fail(f'the graph stopped early:\n{runner.stdout.read()[-6000:]}')
        return state_file.exists() and status['env_steps'] >= json.loads(state_file.read_text())['stored'] + 25

    try:
        spin_until([probe], checkpointed_and_beyond, timeout_s=200.0)
        nodes = _children(runner.pid)
        for name in ('trainer', 'recorder'):
            os.kill(nodes[name], signal.SIGKILL)
        time.sleep(1.0)
    finally:
        runner.send_signal(signal.SIGINT)
        try:
            runner.communicate(timeout=40)
        except subprocess.TimeoutExpired:
            runner.kill()
            runner.communicate()
        probe.destroy_node()

    bags = run_dir / 'bags'
    splits = sorted(p for p in bags.iterdir() if p.is_dir())
    with AnyReader(splits) as reader:                # the killed recorder's bag, read by rosbags alone
        topics = {c.topic for c, _, _ in reader.messages()}
    assert {'/observation', '/action_records', '/episode_events', '/trainer_status'} <= topics
    checkpoint_keys = {tuple(k) for k in np.load(run_dir / 'checkpoint' / 'stored_keys.npy').tolist()}
    recorded = _recorded_sources(bags)
    assert len(recorded) > len(checkpoint_keys) > 0 and storage_files([bags])

    from residual_rl_ros.apps import replay_train
    base = params['trainer']['ros__parameters']['base_policy']
    assert replay_train.main(['--bags', str(bags), '--run-dir', str(run_dir), '--base', base,
                              '--params-file', str(params_file), '--ingest-only']) == 0
    stored = {tuple(k) for k in np.load(run_dir / 'checkpoint' / 'stored_keys.npy').tolist()}
    assert stored == checkpoint_keys | recorded
    assert json.loads(state_file.read_text())['stored'] == len(stored)
