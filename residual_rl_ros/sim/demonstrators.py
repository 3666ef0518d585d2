"""Scripted demonstrators ("experts") for the simulated tasks.

A demonstrator is built for one task instance, is `reset()` at the start of each episode and maps the
current `Observation` to a clean action in the task's units; `collect_demos` adds the Gaussian noise.
The Fetch expert reads only the observation; the Adroit expert also reads the simulator (Jacobian and
bias forces), which a scripted expert may do.
"""
from __future__ import annotations

from typing import Any, Callable, Protocol

import numpy as np

from residual_rl_ros.core.types import Observation, Task


class Demonstrator(Protocol):
    def reset(self) -> None: ...

    def act(self, observation: Observation) -> np.ndarray: ...


class FetchPickPlaceExpert:
    """Phase machine on the gripper: above the cube -> descend -> close -> carry to the goal.

    The phase is re-derived from the observation every step (plus a short closing counter), so the
    expert recovers when noise knocks the cube out of the grasp. Uses the observation only.
    """

    def __init__(self, task: Task | None = None, *, gain: float = 10.0, hover_m: float = 0.05,
                 approach_tol_m: float = 0.02, grasp_tol_m: float = 0.015, close_steps: int = 3) -> None:
        self.gain, self.hover_m = gain, hover_m
        self.approach_tol_m, self.grasp_tol_m, self.close_steps = approach_tol_m, grasp_tol_m, close_steps
        self._closing = 0

    def reset(self) -> None:
        self._closing = 0

    def act(self, observation: Observation) -> np.ndarray:
        grip = observation.proprio[0:3]
        fingers = float(observation.proprio[3] + observation.proprio[4])
        obj, goal = observation.task_state[0:3], observation.task_state[15:18]
        rel = obj - grip
        xy_err, z_err = float(np.linalg.norm(rel[:2])), float(abs(rel[2]))
        at_cube = xy_err < self.approach_tol_m and z_err < self.grasp_tol_m
        if not at_cube:
            self._closing = 0
        elif fingers < 0.03:                            # closed on nothing: open and retry
            self._closing = 0
            return self._move(rel, gripper=1.0)
        elif self._closing >= self.close_steps:         # holding the cube: carry it
            return self._move(goal - grip, gripper=-1.0)
        else:
            self._closing += 1
            return self._move(rel, gripper=-1.0)
        target = obj.copy()
        if xy_err > self.approach_tol_m:
            target[2] += self.hover_m
            if grip[2] < obj[2] + 0.5 * self.hover_m:   # too low to slide sideways: rise first
                return self._move(np.array([0.3 * rel[0], 0.3 * rel[1], target[2] - grip[2]]), 1.0)
        return self._move(target - grip, gripper=1.0)

    def _move(self, delta: np.ndarray, gripper: float) -> np.ndarray:
        return np.append(np.clip(self.gain * delta, -1.0, 1.0), gripper).astype(np.float32)


def make_demonstrator(task: Task, **kwargs: Any) -> Demonstrator:
    """The scripted expert for `task` (by `task.name`)."""
    from residual_rl_ros.sim.adroit_expert import AdroitRelocateExpert

    factories: dict[str, Callable[..., Demonstrator]] = {'fetch_pick_place': FetchPickPlaceExpert,
                                                         'adroit_relocate': AdroitRelocateExpert}
    if task.name == 'humanoid_gr1':
        from residual_rl_ros.sim.humanoid_demo import GR1LiftExpert
        factories['humanoid_gr1'] = GR1LiftExpert
    if task.name not in factories:
        raise ValueError(f'no scripted demonstrator for task {task.name!r}; have {sorted(factories)}')
    return factories[task.name](task, **kwargs)
