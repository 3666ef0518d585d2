"""In-process rclpy fixtures: a private context per test, spun with a deadline."""
from __future__ import annotations

import time
from typing import Callable, Iterator

import pytest
import rclpy
from rclpy.context import Context
from rclpy.executors import SingleThreadedExecutor


@pytest.fixture
def context() -> Iterator[Context]:
    ctx = Context()
    rclpy.init(context=ctx)
    yield ctx
    rclpy.shutdown(context=ctx)


@pytest.fixture
def spin_until(context: Context) -> Callable:
    """spin_until(nodes, predicate, timeout_s): spin the nodes until predicate() or fail at the deadline."""
    def _spin(nodes, predicate: Callable[[], bool], timeout_s: float = 10.0) -> None:
        executor = SingleThreadedExecutor(context=context)
        for node in nodes:
            executor.add_node(node)
        deadline = time.monotonic() + timeout_s
        try:
            while not predicate():
                assert time.monotonic() < deadline, 'condition not met before the deadline'
                executor.spin_once(timeout_sec=0.05)
        finally:
            for node in nodes:
                executor.remove_node(node)
            executor.shutdown()
    return _spin
