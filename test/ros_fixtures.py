"""rclpy fixtures shared by the node and graph tiers: a private context per test, spun with a deadline.

Imported by test/node/conftest.py and test/graph/conftest.py (never by the core tier, which must not
import rclpy).
"""
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
