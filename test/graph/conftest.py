"""Graph-tier helpers: child processes that share this run's ROS domain on localhost only."""
from __future__ import annotations

import os
import signal
import subprocess
import sys
from pathlib import Path
from typing import Callable, Iterator

import pytest
import yaml
from ros_fixtures import context, spin_until  # noqa: F401 (fixtures)

from residual_rl_ros.core.demos import save_episodes

ROOT = Path(__file__).resolve().parents[2]


def child_env() -> dict[str, str]:
    env = dict(os.environ, ROS_AUTOMATIC_DISCOVERY_RANGE='LOCALHOST', PYTHONUNBUFFERED='1')
    env['PYTHONPATH'] = os.pathsep.join(filter(None, [str(ROOT), env.get('PYTHONPATH')]))
    env.setdefault('AMENT_PREFIX_PATH', sys.prefix)
    return env


@pytest.fixture
def installed_env() -> dict[str, str]:
    """Environment for running the installed package (not the source tree) in a child process."""
    env = child_env()
    env.pop('PYTHONPATH', None)
    return env


@pytest.fixture
def processes() -> Iterator[Callable[..., subprocess.Popen]]:
    """start(cmd, ...) -> Popen; every process started is interrupted (then killed) at teardown."""
    started: list[subprocess.Popen] = []

    def start(cmd: list[str], **kwargs) -> subprocess.Popen:
        proc = subprocess.Popen(cmd, env=kwargs.pop('env', child_env()), stdout=subprocess.PIPE,
                                stderr=subprocess.STDOUT, text=True, **kwargs)
        started.append(proc)
        return proc

    yield start
    for proc in started:
        if proc.poll() is None:
            proc.send_signal(signal.SIGINT)
    for proc in started:
        try:
            proc.wait(timeout=10)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()


# A whole training graph on Fetch with the noisy scripted expert as base: fast to build, no BC training.
FETCH_JOINTS = ['ee_dx', 'ee_dy', 'ee_dz', 'gripper']
BASE = 'residual_rl_ros.sim.scripted_base:fetch_noisy_expert'


def _fetch_params(run_dir: Path) -> dict:
    params = yaml.safe_load((ROOT / 'config' / 'humanoid_train.yaml').read_text())
    params['sim_robot']['ros__parameters'].update(task='fetch_pick_place', seed=7)
    params['ingestion']['ros__parameters'].update(task_state_dim=18)
    params['base_policy']['ros__parameters'].update(policy=BASE, joint_names=list(FETCH_JOINTS))
    params['residual_policy']['ros__parameters'].update(control_rate_hz=25.0, timing_report_period_s=2.0)
    params['safety_limit']['ros__parameters'].update(
        joint_names=list(FETCH_JOINTS), limits_file=str(ROOT / 'config' / 'fetch_pick_place_joint_limits.yaml'))
    recipe = run_dir / 'recipe.yaml'
    recipe.write_text(yaml.safe_dump({'learner': {'critic_warmup_updates': 30}}))
    params['trainer']['ros__parameters'].update(
        recipe_preset='tiny', recipe_file=str(recipe), base_policy=BASE, max_episode_steps=50, warmup_env_steps=60,
        publish_weights_every_updates=15, checkpoint_every_env_steps=200, max_env_steps=100_000,
        status_period_s=0.5)
    return params


@pytest.fixture
def fetch_run(tmp_path: Path) -> tuple[Path, Path]:
    from residual_rl_ros.sim.collect_demos import collect_demos
    from residual_rl_ros.sim.demonstrators import make_demonstrator
    from residual_rl_ros.sim.registry import make_task
    task = make_task('fetch_pick_place', seed=0)
    save_episodes(tmp_path / 'demos.npz', collect_demos(task, make_demonstrator(task), 6, seed=0, noise_std=0.1))
    task.close()
    params_file = tmp_path / 'params.yaml'
    params_file.write_text(yaml.safe_dump(_fetch_params(tmp_path)))
    return tmp_path, params_file
