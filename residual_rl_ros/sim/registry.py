"""Task registry: `make_task(name, image=..., seed=...)` builds any simulated task by name.

Built-in tasks are listed as 'module:Class' strings and imported only when built, so importing the
registry pulls in neither gymnasium nor MuJoCo. Other modules add tasks with `register_task`; modules
named in `PLUGIN_MODULES` (the GR-1 humanoid task) are imported on first lookup and register
themselves there. A plugin that is not installed yet is skipped; one that fails to import raises.
"""
from __future__ import annotations

import importlib
import importlib.util
from typing import Any, Callable, Union

from residual_rl_ros.core.types import Task

TaskFactory = Callable[..., Task]      # factory(*, image: bool, seed: int | None, **kwargs) -> Task

_FACTORIES: dict[str, Union[str, TaskFactory]] = {
    'fetch_pick_place': 'residual_rl_ros.sim.fetch:FetchPickPlaceTask',
    'adroit_relocate': 'residual_rl_ros.sim.adroit:AdroitRelocateTask',
}
PLUGIN_MODULES: list[str] = ['residual_rl_ros.sim.humanoid']
_plugins_loaded = False


def register_task(name: str, factory: Union[str, TaskFactory], *, replace: bool = False) -> None:
    """Make `factory` (a callable or a 'module:attribute' string) buildable as `name`."""
    if not name:
        raise ValueError('task name must be a non-empty string')
    if name in _FACTORIES and not replace and _FACTORIES[name] != factory:
        raise ValueError(f'task {name!r} is already registered')
    _FACTORIES[name] = factory


def _load_plugins() -> None:
    global _plugins_loaded
    if _plugins_loaded:
        return
    _plugins_loaded = True
    for module in PLUGIN_MODULES:
        if importlib.util.find_spec(module) is not None:
            importlib.import_module(module)


def task_names() -> list[str]:
    """Names accepted by `make_task`."""
    _load_plugins()
    return sorted(_FACTORIES)


def make_task(name: str, *, image: bool = False, seed: int | None = None, **kwargs: Any) -> Task:
    """Build the task `name`; `image` adds camera images, `seed` seeds the first `reset()`."""
    if name not in _FACTORIES:
        _load_plugins()
    if name not in _FACTORIES:
        raise ValueError(f'unknown task {name!r}; expected one of {task_names()}')
    factory = _FACTORIES[name]
    if isinstance(factory, str):
        module, _, attribute = factory.partition(':')
        factory = getattr(importlib.import_module(module), attribute)
    return factory(image=image, seed=seed, **kwargs)
