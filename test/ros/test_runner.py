"""The venv runner: forwards Ctrl-C, respawns what is planned to respawn, stops when a required node exits."""
import subprocess
import sys
import threading
import time

from residual_rl_ros.bringup.runner import ProcessPlan, parse_overrides, run

import pytest

SLEEPER = (sys.executable, '-c', 'import os, time; print(os.getpid(), flush=True); time.sleep(60)')


def _pids(output: str, name: str) -> list[int]:
    return [int(line.split()[1]) for line in output.splitlines()
            if line.startswith(f'[{name}] ') and line.split()[1].isdigit()]


def test_respawned_process_comes_back_and_required_exit_stops_the_graph(capfd) -> None:
    plans = [ProcessPlan('policy', SLEEPER, required=False, respawn=True),
             ProcessPlan('trainer', (sys.executable, '-c', 'import time; time.sleep(4); raise SystemExit(3)'),
                         required=True)]
    result = {}

    def kill_policy_once() -> None:
        time.sleep(1.5)
        out = capfd.readouterr().out
        result['first'] = _pids(out, 'policy')
        if result['first']:
            subprocess.run(['kill', '-9', str(result['first'][0])], check=False)
        result['first_out'] = out

    killer = threading.Thread(target=kill_policy_once)
    killer.start()
    started = time.monotonic()
    code = run(plans, grace_s=2.0, respawn_delay_s=0.2)
    killer.join()
    out = result['first_out'] + capfd.readouterr().out
    assert code == 3 and time.monotonic() - started < 30
    assert '[launch] policy exited with code -9, respawning' in out
    pids = _pids(out, 'policy')
    assert len(pids) >= 2 and pids[0] != pids[-1]
    assert '[launch] trainer exited with code 3' in out


def test_ros2_launch_style_arguments() -> None:
    assert parse_overrides(['run_dir:=/tmp/x', 'namespace:=']) == {'run_dir': '/tmp/x', 'namespace': ''}
    with pytest.raises(ValueError, match="expected name:=value, got 'run_dir=/tmp'"):
        parse_overrides(['run_dir=/tmp'])
