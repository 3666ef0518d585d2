"""Test tiers by folder: core and sim (no ROS), ros (messages), node (in-process rclpy), graph (DDS),
colcon (the `build` marker: colcon builds the package)."""
from __future__ import annotations

import os
from pathlib import Path

import pytest

_TIER_BY_FOLDER = {'core': 'core', 'sim': 'core', 'ros': 'ros', 'node': 'node', 'graph': 'graph',
                   'colcon': 'build'}


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    for item in items:
        folder = Path(str(item.fspath)).parent.name
        tier = _TIER_BY_FOLDER.get(folder)
        if tier and tier not in item.keywords:
            item.add_marker(getattr(pytest.mark, tier))


def pytest_configure(config: pytest.Config) -> None:
    # DDS traffic stays on loopback whatever the caller's environment says.
    os.environ['ROS_AUTOMATIC_DISCOVERY_RANGE'] = 'LOCALHOST'
    os.environ.setdefault('ROS_DOMAIN_ID', str(5 + os.getpid() % 90))
    os.environ.setdefault('MUJOCO_GL', 'egl')
