"""The `main()` every node shares: init, build, spin a SingleThreadedExecutor, shut down cleanly.

A configuration error (ValueError while building the node) is printed and exits with status 2.
"""
from __future__ import annotations

import sys
from typing import Callable

import rclpy
from rclpy.executors import ExternalShutdownException, SingleThreadedExecutor
from rclpy.node import Node


def run_node(factory: Callable[[], Node], name: str, args: list[str] | None = None) -> int:
    rclpy.init(args=args)
    try:
        node = factory()
    except ValueError as exc:
        print(f'{name}: {exc}', file=sys.stderr, flush=True)
        rclpy.try_shutdown()
        return 2
    executor = SingleThreadedExecutor()
    executor.add_node(node)
    code = 0
    try:
        executor.spin()
    except (KeyboardInterrupt, ExternalShutdownException):
        pass
    except SystemExit as exc:          # a node asked to stop (e.g. its work is done)
        code = int(exc.code or 0)
    finally:
        executor.shutdown()
        node.destroy_node()
        rclpy.try_shutdown()
    return code
