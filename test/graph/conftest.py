"""Graph-tier helpers: child processes that share this run's ROS domain on localhost only."""
from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path
from typing import Callable, Iterator

import pytest
import rclpy
from rclpy.context import Context
from rclpy.executors import SingleThreadedExecutor

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


@pytest.fixture
def context() -> Iterator[Context]:
    ctx = Context()
    rclpy.init(context=ctx)
    yield ctx
    rclpy.shutdown(context=ctx)


@pytest.fixture
def spin_until(context: Context) -> Callable:
    def _spin(nodes, predicate: Callable[[], bool], timeout_s: float = 20.0, every: Callable | None = None,
              period_s: float = 0.2) -> None:
        executor = SingleThreadedExecutor(context=context)
        for node in nodes:
            executor.add_node(node)
        deadline = time.monotonic() + timeout_s
        next_call = 0.0
        try:
            while not predicate():
                now = time.monotonic()
                assert now < deadline, 'condition not met before the deadline'
                if every is not None and now >= next_call:
                    every()
                    next_call = now + period_s
                executor.spin_once(timeout_sec=0.02)
        finally:
            for node in nodes:
                executor.remove_node(node)
            executor.shutdown()
    return _spin
