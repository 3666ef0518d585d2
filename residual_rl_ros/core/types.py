"""Shared data types and interfaces of the core: observations, tasks, base policies, transitions.

These are the contracts between the simulator, the policies, the learner and the ROS adapters.
Arrays are float32 unless noted; images are uint8 HxWx3 (RGB).
"""
from __future__ import annotations

import dataclasses
from typing import Mapping, Protocol, runtime_checkable

import numpy as np


@dataclasses.dataclass
class Observation:
    """What a policy sees at one control tick."""

    proprio: np.ndarray                      # (P,) joint positions/velocities etc., robot units
    task_state: np.ndarray                   # (S,) object poses, goals; may be empty (0,)
    images: Mapping[str, np.ndarray] = dataclasses.field(default_factory=dict)  # camera -> HxWx3 uint8


@dataclasses.dataclass
class StepResult:
    """Outcome of one environment step."""

    observation: Observation
    success: bool      # task solved at this step (terminates the episode with a success label)
    failure: bool      # task failed irrecoverably (terminates with a failure label)


@runtime_checkable
class Task(Protocol):
    """A simulated robot task, driven step by step like hardware.

    Actions are in the robot's own units (joint targets or controller deltas), bounded by
    `action_low` / `action_high`; the task clips nothing silently beyond those bounds.
    """

    name: str
    joint_names: list[str]          # one name per action dimension
    action_low: np.ndarray          # (A,)
    action_high: np.ndarray         # (A,)
    camera_names: list[str]
    max_episode_steps: int
    control_rate_hz: float

    def reset(self, seed: int | None = None) -> Observation: ...

    def step(self, action: np.ndarray) -> StepResult: ...

    def close(self) -> None: ...


@runtime_checkable
class BasePolicy(Protocol):
    """A frozen behavior-cloning policy, treated as a black box.

    `act` returns an action chunk of shape (chunk_length, A) in robot units; the caller executes it
    open-loop and tracks the chunk phase.
    """

    chunk_length: int

    def reset(self) -> None: ...

    def act(self, observation: Observation) -> np.ndarray: ...


@dataclasses.dataclass
class Transition:
    """One environment step as stored for learning.

    `action` is the action actually executed (after residual clamp and safety), normalized to [-1, 1].
    `terminated` (success/failure) stops bootstrapping; `truncated` (timeout/abort) does not.
    """

    observation: Observation
    base_action: np.ndarray          # (A,) normalized base action the residual saw
    chunk_phase: int
    action: np.ndarray               # (A,) executed action, normalized
    reward: float
    next_observation: Observation
    next_base_action: np.ndarray     # (A,) normalized base action at the next step
    next_chunk_phase: int
    terminated: bool
    truncated: bool
    intervention: bool = False
    # (episode_id, tick, observation stamp ns) of the action record it was rebuilt from: unique across graph
    # restarts (episode ids and ticks start again, stamps do not); None for other sources
    source: tuple[int, int, int] | None = None


@dataclasses.dataclass
class Episode:
    """A recorded episode (demonstration or rollout) in robot units, for demos and BC training."""

    proprio: np.ndarray              # (T+1, P)
    task_state: np.ndarray           # (T+1, S)
    actions: np.ndarray              # (T, A) executed actions, robot units
    success: bool
    images: Mapping[str, np.ndarray] = dataclasses.field(default_factory=dict)  # camera -> (T+1,H,W,3)
