"""Fail closed: SIGKILL the residual and base policy nodes of a running graph (hardware-like realtime sim).

The safety node must hold within 2 control periods of the last proposal, and the graph must recover
(the runner respawns the node, which learns the running episode and the weights from latched topics).
"""
from __future__ import annotations

import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest
import yaml
from rclpy.node import Node
from std_msgs.msg import Float64MultiArray

from residual_rl_ros import msg as ours
from residual_rl_ros.ros import qos

RATE_HZ = 25.0                    # Fetch's control rate; realtime physics steps at it
PERIOD_S = 1.0 / RATE_HZ


def _realtime(params_file: Path) -> None:
    params = yaml.safe_load(params_file.read_text())
    params['sim_robot']['ros__parameters'].update(physics_mode='realtime', command_timeout_s=0.5)
    params['safety_limit']['ros__parameters'].update(command_timeout_s=1.5 * PERIOD_S, watchdog_rate_hz=200.0)
    params_file.write_text(yaml.safe_dump(params))


def _pid(executable: str, run_dir: Path) -> int:
    out = subprocess.run(['pgrep', '-f', f'lib/residual_rl_ros/{executable} .*{run_dir}'], capture_output=True,
                         text=True).stdout.split()
    assert out, f'{executable} is not running'
    return int(out[0])


@pytest.mark.parametrize('victim', ['residual_policy', 'base_policy'])
def test_safety_holds_within_two_periods_and_the_graph_recovers(victim, fetch_run, processes, context,
                                                                 spin_until) -> None:
    run_dir, params_file = fetch_run
    _realtime(params_file)
    launcher = Path(sys.executable).with_name('residual_rl_ros_launch')
    runner = processes([str(launcher), 'humanoid_train', f'params_file:={params_file}', f'run_dir:={run_dir}'])
    probe = Node('fault_probe', context=context)
    commands: list[float] = []
    proposals: list[tuple[float, int]] = []
    probe.create_subscription(Float64MultiArray, 'sim_robot/commands', lambda m: commands.append(time.monotonic()),
                              qos.COMMAND)
    probe.create_subscription(ours.PolicyActionRecord, 'action_proposal',
                              lambda m: proposals.append((time.monotonic(), m.tick)), qos.CONTROL)
    try:
        spin_until([probe], lambda: len(proposals) > 50, timeout_s=180.0)
        old_pid = _pid(victim, run_dir)
        subprocess.run(['kill', '-9', str(old_pid)], check=True)
        killed_at = time.monotonic()
        spin_until([probe], lambda: time.monotonic() - killed_at > 0.5, timeout_s=5.0)
        last_proposal = max(t for t, _ in proposals if t <= killed_at)
        # the command answering the last proposal arrives within a few ms; what follows are the holds
        holds = sorted(t for t in commands if t > last_proposal + 0.015)
        assert len([t for t in holds if t < last_proposal + 0.5]) >= 10, 'the robot was not held after the kill'
        assert holds[0] - last_proposal <= 2 * PERIOD_S + 0.02, 'the hold came later than 2 control periods'
        spin_until([probe], lambda: any(t > killed_at + 0.5 for t, _ in proposals), timeout_s=90.0)
        assert _pid(victim, run_dir) != old_pid          # respawned, and proposing again
    finally:
        runner.send_signal(signal.SIGINT)
        try:
            runner.communicate(timeout=40)
        except subprocess.TimeoutExpired:
            runner.kill()
            runner.communicate()
        probe.destroy_node()
