"""Stable-Baselines3 SAC on one of our tasks: what a user would pick instead of residual fine-tuning.

`TaskEnv` exposes a `Task` as a gymnasium env with our reward and episode rules (the same as ResFiT's):
observation = proprio + task_state (float32), action = the task's own bounds, reward 1 on success else 0
(the env's dense reward is not used), success / failure terminate, `max_episode_steps` truncates;
training episode i resets with seed `seed * 10**6 + i`. `sac_run` trains SB3's SAC (no demos) and
evaluates its deterministic policy through `rollout.run_episode` on the same evaluation seeds as ResFiT.
"""
from __future__ import annotations

import time
from typing import Any, Callable

import gymnasium as gym
import numpy as np

from residual_rl_ros.core.chunking import ChunkExecutor
from residual_rl_ros.core.replay import observation_state
from residual_rl_ros.core.training.baselines import ConstantPolicy
from residual_rl_ros.core.training.pipeline import bounds_normalizer
from residual_rl_ros.core.training.rollout import run_episode
from residual_rl_ros.core.types import Task

Printer = Callable[[str], None]


class TaskEnv(gym.Env):
    """A state-based `Task` as a gymnasium env with sparse success reward (see the module docstring)."""

    metadata: dict[str, Any] = {'render_modes': []}

    def __init__(self, task: Task, seed: int = 0) -> None:
        if task.camera_names:
            raise ValueError(f'TaskEnv is state-only; task {task.name!r} has cameras {task.camera_names}')
        self.task, self.base_seed, self.episodes, self.steps = task, seed, 0, 0
        state = observation_state(task.reset(seed * 10**6))
        self.observation_space = gym.spaces.Box(-np.inf, np.inf, state.shape, np.float32)
        self.action_space = gym.spaces.Box(np.asarray(task.action_low, np.float32),
                                           np.asarray(task.action_high, np.float32))

    def reset(self, *, seed: int | None = None, options: dict | None = None) -> tuple[np.ndarray, dict]:
        super().reset(seed=seed)
        observation = self.task.reset(self.base_seed * 10**6 + self.episodes)
        self.episodes, self.steps = self.episodes + 1, 0
        return observation_state(observation).astype(np.float32), {}

    def step(self, action: np.ndarray) -> tuple[np.ndarray, float, bool, bool, dict]:
        command = np.clip(np.asarray(action, np.float32), self.action_space.low, self.action_space.high)
        result = self.task.step(command)
        self.steps += 1
        terminated = bool(result.success or result.failure)
        truncated = not terminated and self.steps >= self.task.max_episode_steps
        return (observation_state(result.observation).astype(np.float32), 1.0 if result.success else 0.0,
                terminated, truncated, {'is_success': bool(result.success)})


def evaluate_sb3(model: Any, task: Task, episodes: int, seed_offset: int) -> float:
    """Success rate of `model.predict(state, deterministic=True)` on seeds seed_offset + i, through
    `run_episode` (no base: constant middle action, actions normalized by the task bounds)."""
    normalizer = bounds_normalizer(task)
    executor = ChunkExecutor(ConstantPolicy(normalizer.center))

    def act(observation, base, phase) -> np.ndarray:
        action, _ = model.predict(observation_state(observation).astype(np.float32), deterministic=True)
        return np.clip(normalizer.normalize(action), -1.0, 1.0).astype(np.float32)
    return float(np.mean([run_episode(task, executor, normalizer, act, seed_offset + i).success
                          for i in range(episodes)]))


def sac_run(task: Task, eval_task: Task, *, total_env_steps: int, eval_interval_steps: int, eval_episodes: int,
            learning_starts: int, gradient_steps: int = 1, hidden_sizes: tuple[int, ...] = (256, 256),
            batch_size: int = 256, seed: int = 0, eval_seed_offset: int = 1_000_000_000,
            printer: Printer | None = print) -> list[dict]:
    """Train SB3 SAC (defaults except the sizes given) for `total_env_steps`; evaluation history."""
    from stable_baselines3 import SAC
    from stable_baselines3.common.callbacks import BaseCallback
    printer = printer or (lambda line: None)
    start_wall, start_cpu = time.monotonic(), time.process_time()
    history: list[dict] = []
    env = TaskEnv(task, seed)
    model = SAC('MlpPolicy', env, learning_starts=learning_starts, batch_size=batch_size,
                gradient_steps=gradient_steps, buffer_size=max(total_env_steps, 1), seed=seed, device='cpu',
                policy_kwargs={'net_arch': list(hidden_sizes)}, verbose=0)

    def log(env_steps: int) -> None:
        record = {'env_steps': env_steps, 'success_rate': evaluate_sb3(model, eval_task, eval_episodes,
                                                                       eval_seed_offset),
                  'eval_episodes': eval_episodes, 'episodes': env.episodes,
                  'wall_s': round(time.monotonic() - start_wall, 1),
                  'cpu_s': round(time.process_time() - start_cpu, 1)}
        history.append(record)
        printer(f'[sac] env_steps {env_steps:7d}  success {record["success_rate"]:.1%}  '
                f'episodes {env.episodes}  wall {record["wall_s"]:.0f}s')

    class EvalCallback(BaseCallback):
        def _on_step(self) -> bool:
            if eval_interval_steps and self.num_timesteps % eval_interval_steps == 0:
                log(self.num_timesteps)
            return True

    log(0)
    model.learn(total_timesteps=total_env_steps, callback=EvalCallback())
    if history[-1]['env_steps'] != model.num_timesteps:
        log(model.num_timesteps)
    return history
