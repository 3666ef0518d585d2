"""Graph-tier helpers: child processes that share this run's ROS domain on localhost only."""
from __future__ import annotations

import os
import signal
import subprocess
import sys
from pathlib import Path
from typing import Callable, Iterator

import pytest
from ros_fixtures import context, spin_until  # noqa: F401 (fixtures)

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
