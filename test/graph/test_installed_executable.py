"""The installed node executable (lib/residual_rl_ros/<node>) applies a --params-file YAML."""
import subprocess
from pathlib import Path

import pytest
from ament_index_python.packages import get_package_prefix
from rclpy.node import Node
from std_srvs.srv import Trigger


def _executable(node: str) -> Path:
    path = Path(get_package_prefix('residual_rl_ros')) / 'lib' / 'residual_rl_ros' / node
    if not path.exists():
        pytest.fail(f'{path} is not installed: run scripts/setup_venv.sh')
    return path


def test_params_file_is_applied(processes, installed_env, context, spin_until, tmp_path: Path) -> None:
    params = tmp_path / 'params.yaml'
    params.write_text('reward_button:\n  ros__parameters:\n    first_episode_id: 41\n')
    proc = processes([str(_executable('reward_button')), '--ros-args', '--params-file', str(params)],
                     env=installed_env, cwd=tmp_path)
    node = Node('params_probe', context=context)
    client = node.create_client(Trigger, 'reward_button/start')
    assert client.wait_for_service(timeout_sec=30.0), proc.stdout.read() if proc.poll() is not None else ''
    future = client.call_async(Trigger.Request())
    spin_until([node], future.done)
    assert future.result().message == 'episode 41: START'
    node.destroy_node()


def test_unknown_key_in_params_file_stops_the_node_with_its_name(installed_env, tmp_path: Path) -> None:
    params = tmp_path / 'params.yaml'
    params.write_text('reward_button:\n  ros__parameters:\n    first_episode: 41\n')
    result = subprocess.run([str(_executable('reward_button')), '--ros-args', '--params-file', str(params)],
                            env=installed_env, cwd=tmp_path, capture_output=True, text=True, timeout=60)
    assert result.returncode == 2
    assert "unknown parameter(s) ['first_episode']" in result.stderr
