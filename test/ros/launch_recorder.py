"""A recording stand-in for the ROS 2 `launch` / `launch_ros` packages, which cannot be installed here.

Each class only stores what it was built with, so a test can load our launch files, walk the
LaunchDescription they return and compare it with the pip runner's processes. Installed into
sys.modules only for the duration of a test (see `recorded_launch_modules`).
"""
from __future__ import annotations

import contextlib
import sys
import types
from typing import Iterator


class Recorded:
    def __init__(self, *args, **kwargs) -> None:
        self.args, self.kwargs = args, kwargs


def _classes(*names: str) -> dict[str, type]:
    return {name: type(name, (Recorded,), {}) for name in names}


_MODULES = {
    'launch': _classes('LaunchDescription'),
    'launch.actions': _classes('DeclareLaunchArgument', 'EmitEvent', 'RegisterEventHandler'),
    'launch.event_handlers': _classes('OnProcessExit'),
    'launch.events': _classes('Shutdown'),
    'launch.substitutions': _classes('LaunchConfiguration', 'PathJoinSubstitution'),
    'launch_ros': {},
    'launch_ros.actions': _classes('Node'),
    'launch_ros.substitutions': _classes('FindPackageShare'),
}


@contextlib.contextmanager
def recorded_launch_modules() -> Iterator[None]:
    saved = {name: sys.modules.get(name) for name in _MODULES}
    saved_builder = sys.modules.pop('residual_rl_ros.bringup.launch_description', None)
    for name, classes in _MODULES.items():
        module = types.ModuleType(name)
        module.__dict__.update(classes)
        sys.modules[name] = module
    try:
        yield
    finally:
        sys.modules.pop('residual_rl_ros.bringup.launch_description', None)
        if saved_builder is not None:
            sys.modules['residual_rl_ros.bringup.launch_description'] = saved_builder
        for name, module in saved.items():
            if module is None:
                sys.modules.pop(name, None)
            else:
                sys.modules[name] = module
