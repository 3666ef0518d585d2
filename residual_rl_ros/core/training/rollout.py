"""One control step of a residual policy, whole episodes, and demo relabelling: the loop's semantics.

The same rules the ROS graph follows, stated once without ROS:

* the base policy runs through a `ChunkExecutor`, giving (base action, chunk phase) per step; the base
  action is normalized with the demo-fitted `ActionNormalizer` and clipped to [-1, 1];
* the executed action is `compose_action(base, residual)` = clamp(base + residual, -1, 1), denormalized
  and clipped to the task's bounds; the stored `action` is that executed action normalized again, so
  the critic always scores what actually ran (never a pre-clamp value);
* reward 1 on success; success and failure *terminate* (no bootstrapping); hitting the time limit
  *truncates* (the learner bootstraps from the last observation).

Demo relabelling: a demo step keeps the demo's executed action as `action` and gets the base policy's
action and chunk phase *on that demo observation* as `base_action` / `chunk_phase`. The implied
residual (demo action - base action) may exceed `action_scale`: the critic learns Q(s, base, a) for any
executed `a`, so demos still teach which executed actions lead to success next to what the base does.
"""
from __future__ import annotations

import dataclasses
from typing import Callable

import numpy as np

from residual_rl_ros.core.chunking import ChunkExecutor
from residual_rl_ros.core.learner import compose_action
from residual_rl_ros.core.normalizers import ActionNormalizer
from residual_rl_ros.core.types import Episode, Observation, Task, Transition

# (observation, normalized base action, chunk phase) -> residual in normalized units
ResidualFn = Callable[[Observation, np.ndarray, int], np.ndarray]
TransitionFn = Callable[[Transition], None]


@dataclasses.dataclass
class EpisodeResult:
    """Outcome of one rollout."""

    success: bool
    failure: bool
    steps: int
    residual_abs_mean: float      # mean |executed - base| over the episode, normalized units


def base_step(executor: ChunkExecutor, normalizer: ActionNormalizer,
              observation: Observation) -> tuple[np.ndarray, int]:
    """The base action for this tick, normalized and clipped to [-1, 1] (float32), and its chunk phase."""
    action, phase, _ = executor.step(observation)
    return np.clip(normalizer.normalize(action), -1.0, 1.0).astype(np.float32), int(phase)


def execute(normalizer: ActionNormalizer, task: Task, base: np.ndarray,
            residual: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """(robot-unit command for the task, normalized executed action to store) for base + residual."""
    executed = compose_action(np.asarray(base, np.float32), np.asarray(residual, np.float32))
    command = np.clip(normalizer.denormalize(executed), task.action_low, task.action_high)
    stored = np.clip(normalizer.normalize(command), -1.0, 1.0).astype(np.float32)
    return command.astype(np.float32), stored


def zero_residual(action_dim: int) -> ResidualFn:
    """The base policy alone (residual 0): how BC success is measured with the same code path."""
    zero = np.zeros(action_dim, np.float32)
    return lambda observation, base, phase: zero


def run_episode(task: Task, executor: ChunkExecutor, normalizer: ActionNormalizer, residual_fn: ResidualFn,
                seed: int, on_transition: TransitionFn | None = None,
                max_steps: int | None = None) -> EpisodeResult:
    """Roll out one episode from `task.reset(seed)`; every step is passed to `on_transition` when given.

    The base policy is queried on the next observation of every step (it is what the next transition's
    frame holds), except after a termination when nothing is stored (`on_transition` is None).
    """
    max_steps = task.max_episode_steps if max_steps is None else max_steps
    observation = task.reset(seed)
    executor.reset()
    base, phase = base_step(executor, normalizer, observation)
    residual_sum, steps, result = 0.0, 0, None
    for t in range(max_steps):
        command, stored = execute(normalizer, task, base, residual_fn(observation, base, phase))
        result = task.step(command)
        steps, residual_sum = t + 1, residual_sum + float(np.abs(stored - base).mean())
        terminated = bool(result.success or result.failure)
        truncated = not terminated and steps >= max_steps
        if on_transition is None and (terminated or truncated):
            break
        next_base, next_phase = base_step(executor, normalizer, result.observation)
        if on_transition is not None:
            on_transition(Transition(observation=observation, base_action=base, chunk_phase=phase,
                                     action=stored, reward=1.0 if result.success else 0.0,
                                     next_observation=result.observation, next_base_action=next_base,
                                     next_chunk_phase=next_phase, terminated=terminated, truncated=truncated))
        if terminated:
            break
        observation, base, phase = result.observation, next_base, next_phase
    return EpisodeResult(success=bool(result is not None and result.success),
                         failure=bool(result is not None and result.failure), steps=steps,
                         residual_abs_mean=residual_sum / max(steps, 1))


def demo_transitions(episode: Episode, executor: ChunkExecutor, normalizer: ActionNormalizer,
                     max_episode_steps: int) -> list[Transition]:
    """Relabel one recorded demo for the demo buffer (see the module docstring).

    A successful demo ends terminated with reward 1; an unsuccessful one that stopped early ended in a
    failure (terminated, reward 0); one that ran to `max_episode_steps` is truncated.
    """
    steps = len(episode.actions)
    if steps == 0:
        return []
    observations = [Observation(proprio=np.asarray(episode.proprio[t], np.float32),
                                task_state=np.asarray(episode.task_state[t], np.float32),
                                images={c: frames[t] for c, frames in episode.images.items()})
                    for t in range(steps + 1)]
    executor.reset()
    labels = [base_step(executor, normalizer, obs) for obs in observations]
    actions = np.clip(normalizer.normalize(episode.actions), -1.0, 1.0).astype(np.float32)
    ended_early = steps < max_episode_steps
    transitions = []
    for t in range(steps):
        last = t == steps - 1
        transitions.append(Transition(
            observation=observations[t], base_action=labels[t][0], chunk_phase=labels[t][1],
            action=actions[t], reward=1.0 if last and episode.success else 0.0,
            next_observation=observations[t + 1], next_base_action=labels[t + 1][0],
            next_chunk_phase=labels[t + 1][1], terminated=last and (episode.success or ended_early),
            truncated=last and not episode.success and not ended_early))
    return transitions
