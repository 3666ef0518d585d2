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


def test_required_node_that_crashes_respawns_and_its_clean_exit_stops_the_graph(tmp_path, capfd) -> None:
    marker = tmp_path / 'crashed'
    # first run: crash (SIGKILL-like exit 137); second run: finish cleanly (0) -> the graph stops with 0
    script = (f'import os, pathlib, time; m = pathlib.Path({str(marker)!r}); time.sleep(0.5)\n'
              'if not m.exists():\n    m.write_text("x"); os._exit(137)\nraise SystemExit(0)')
    plans = [ProcessPlan('policy', SLEEPER, required=False, respawn=True),
             ProcessPlan('trainer', (sys.executable, '-c', script), required=True, respawn=True)]
    code = run(plans, grace_s=2.0, respawn_delay_s=0.2)
    out = capfd.readouterr().out
    assert code == 0 and marker.exists()
    assert '[launch] trainer exited with code 137, respawning' in out
    assert '[launch] trainer exited with code 0\n' in out
