"""Optional workspace box: keep the points a task's forward kinematics gives inside an axis-aligned box.

Where a task provides forward kinematics (a function from the command vector, in the safety node's joint
order, to one or more Cartesian points, shape (3,) or (k, 3), in metres), a command whose points leave
the box is scaled back along the step from the previous command to the largest fraction (bisection) whose
points are inside, or no further outside than the previous command's (so a robot that starts outside
can only move back in). Scaling a step toward the previous command keeps the position, velocity and
acceleration limits that the step already met (the filter applies this after them). Pure: no ROS.
"""
from __future__ import annotations

import dataclasses
import importlib
from typing import Callable, Sequence

import numpy as np

ForwardKinematics = Callable[[np.ndarray], np.ndarray]


@dataclasses.dataclass(frozen=True)
class WorkspaceBox:
    fk: ForwardKinematics
    low_m: np.ndarray
    high_m: np.ndarray

    def violation(self, command: np.ndarray) -> float:
        """How far (m) the command's points are outside the box: 0 inside, inf when FK fails or is non-finite."""
        try:
            points = np.asarray(self.fk(command), np.float64).reshape(-1, 3)
        except Exception:       # noqa: BLE001 (a broken FK must never let a command through)
            return float('inf')
        if points.size == 0 or not np.all(np.isfinite(points)):
            return float('inf')
        return float(max(0.0, np.max(self.low_m - points), np.max(points - self.high_m)))


def make_workspace_box(fk_spec: str, low_m: Sequence[float], high_m: Sequence[float]) -> WorkspaceBox | None:
    """A box from `module:function` and its corners (None when `fk_spec` is empty); ValueError naming the problem."""
    if not fk_spec:
        if len(low_m) or len(high_m):
            raise ValueError('workspace_min_m / workspace_max_m are set but workspace_fk is empty')
        return None
    low, high = np.asarray(low_m, np.float64), np.asarray(high_m, np.float64)
    if low.shape != (3,) or high.shape != (3,) or not (np.all(np.isfinite(low)) and np.all(np.isfinite(high))) \
            or np.any(low > high):
        raise ValueError(f'workspace box: workspace_min_m={list(low_m)} and workspace_max_m={list(high_m)} must be '
                         f'3 finite values each with min <= max')
    module_name, _, name = fk_spec.partition(':')
    try:
        fk = getattr(importlib.import_module(module_name), name)
    except (ImportError, AttributeError, ValueError) as exc:
        raise ValueError(f'workspace_fk {fk_spec!r}: cannot load it ({exc}); expected module:function') from exc
    if not callable(fk):
        raise ValueError(f'workspace_fk {fk_spec!r} is not callable')
    return WorkspaceBox(fk, low, high)


def workspace_step(command: np.ndarray, previous: np.ndarray | None, box: WorkspaceBox,
                   iterations: int = 30) -> tuple[np.ndarray | None, str]:
    """(`command` or the step scaled back into the box, reason or ''); None when there is no previous
    command to scale toward and `command` is outside (the caller holds: nothing is sent)."""
    if previous is None:
        outside = box.violation(command)
        return (command, '') if outside == 0.0 else (None, f'workspace box: first command {outside:.3g} m outside')
    allowed = box.violation(previous)
    if not np.isfinite(allowed):
        return previous.copy(), 'workspace box: forward kinematics failed on the previous command: no motion'
    if box.violation(command) <= allowed:
        return command, ''
    low, high = 0.0, 1.0
    for _ in range(iterations):
        middle = 0.5 * (low + high)
        if box.violation(previous + middle * (command - previous)) <= allowed:
            low = middle
        else:
            high = middle
    return previous + low * (command - previous), f'workspace box: step scaled to {low:.3f}'
