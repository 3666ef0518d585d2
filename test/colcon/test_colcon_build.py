"""The ROS users' path: `colcon build` of the package in a workspace, then its installed node runs.

colcon and the ROS 2 build tools come from the PyPI wheels in this venv (see README).
"""
import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
SKIP = shutil.ignore_patterns('.git', '.venv', 'build', 'install', 'log', '__pycache__', '.pytest_cache',
                              'runs', 'artifacts', '.hypothesis')


@pytest.fixture(scope='module')
def workspace(tmp_path_factory) -> Path:
    colcon = Path(sys.prefix) / 'bin' / 'colcon'
    if not colcon.exists():
        pytest.fail('colcon is not installed in this venv: run scripts/setup_venv.sh')
    ws = tmp_path_factory.mktemp('colcon_ws')
    shutil.copytree(ROOT, ws / 'src' / 'residual_rl_ros', ignore=SKIP)
    env = dict(os.environ, AMENT_PREFIX_PATH=sys.prefix, CMAKE_PREFIX_PATH=sys.prefix)
    env.pop('PYTHONPATH', None)
    result = subprocess.run(
        [str(colcon), 'build', '--base-paths', 'src', '--event-handlers', 'console_direct-',
         '--cmake-args', f'-DPython3_EXECUTABLE={sys.executable}', '-DBUILD_TESTING=OFF'],
        cwd=ws, env=env, capture_output=True, text=True, timeout=900)
    assert result.returncode == 0, (result.stdout + result.stderr)[-4000:]
    return ws


def test_colcon_installs_executables_launch_and_config(workspace: Path) -> None:
    prefix = workspace / 'install' / 'residual_rl_ros'
    assert (prefix / 'lib' / 'residual_rl_ros' / 'reward_button').exists()
    assert os.access(prefix / 'lib' / 'residual_rl_ros' / 'reward_button', os.X_OK)
    assert (prefix / 'share' / 'residual_rl_ros' / 'package.xml').exists()
    assert (prefix / 'share' / 'residual_rl_ros' / 'config' / 'humanoid_train.yaml').exists()
    assert (prefix / 'share' / 'ament_index' / 'resource_index' / 'packages' / 'residual_rl_ros').exists()
    site = next(prefix.glob('lib/python3*/site-packages/residual_rl_ros'))
    assert (site / 'msg' / '__init__.py').exists() and (site / 'core' / '__init__.py').exists()


def test_installed_node_runs_from_the_sourced_workspace(workspace: Path, tmp_path: Path) -> None:
    params = tmp_path / 'params.yaml'
    params.write_text('reward_button:\n  ros__parameters:\n    first_episode: 3\n')
    script = ('. install/setup.sh && python -c "import residual_rl_ros.msg, residual_rl_ros.core.episodes as e; '
              'print(e.__file__)" && exec install/residual_rl_ros/lib/residual_rl_ros/reward_button '
              f'--ros-args --params-file {params}')
    env = dict(os.environ, AMENT_PREFIX_PATH=sys.prefix, PATH=f'{Path(sys.executable).parent}:{os.environ["PATH"]}')
    env.pop('PYTHONPATH', None)
    result = subprocess.run(['sh', '-c', script], cwd=workspace, env=env, capture_output=True, text=True,
                            timeout=120)
    assert str(workspace / 'install') in result.stdout, result.stdout + result.stderr
    # the params file reached the node: its unknown key is named and the node refuses to start
    assert result.returncode == 2, result.stdout + result.stderr
    assert "unknown parameter(s) ['first_episode']" in result.stderr
