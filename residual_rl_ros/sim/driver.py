"""Drive a Task like hardware: step on commands, report success / failure / timeout once, reset on request.

The ROS sim_robot node is a thin adapter over this class. Commands are in the task's action units and
order (`task.joint_names`); non-finite or wrongly sized commands are refused (the caller holds).
"""
from __future__ import annotations

import dataclasses

import numpy as np

from residual_rl_ros.core.episodes import EventKind
from residual_rl_ros.core.types import Observation, Task


@dataclasses.dataclass
class StepReport:
    observation: Observation
    report: EventKind | None     # SUCCESS / FAILURE / TIMEOUT when the episode just ended, else None
    steps: int


class SimDriver:
    """Owns one task; counts steps; stops stepping after the episode's outcome until the next reset."""

    def __init__(self, task: Task, seed: int) -> None:
        self.task = task
        self.seed = seed
        self.episodes_started = 0
        self.steps = 0
        self.ended = True
        self.observation: Observation | None = None
        self.last_command = np.clip(np.zeros(len(task.joint_names)), task.action_low, task.action_high)

    def reset(self) -> Observation:
        """Reset the task with seed `seed + k` for the k-th episode; returns the first observation."""
        self.observation = self.task.reset(seed=self.seed + self.episodes_started)
        self.episodes_started += 1
        self.steps = 0
        self.ended = False
        return self.observation

    def check_command(self, command: np.ndarray) -> str | None:
        """None when `command` can be applied, else why not."""
        command = np.asarray(command, np.float64)
        if command.shape != (len(self.task.joint_names),):
            return f'command has {command.size} values, the task takes {len(self.task.joint_names)}'
        if not np.all(np.isfinite(command)):
            return 'command contains NaN or infinity'
        return None

    def step(self, command: np.ndarray) -> StepReport | None:
        """Apply one command (clipped to the task's bounds); None when the episode has ended."""
        if self.ended or self.observation is None:
            return None
        problem = self.check_command(command)
        if problem is not None:
            raise ValueError(problem)
        self.last_command = np.clip(np.asarray(command, np.float64), self.task.action_low, self.task.action_high)
        result = self.task.step(self.last_command)
        self.steps += 1
        self.observation = result.observation
        report = None
        if result.success:
            report = EventKind.SUCCESS
        elif result.failure:
            report = EventKind.FAILURE
        elif self.steps >= self.task.max_episode_steps:
            report = EventKind.TIMEOUT
        self.ended = report is not None
        return StepReport(result.observation, report, self.steps)
