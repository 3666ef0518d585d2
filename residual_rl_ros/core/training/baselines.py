"""Baselines for the sample-efficiency benchmark, built from the same core pieces as ResFiT.

* `rlpd_run`: the ResFiT learner with no base policy (RLPD-style): the base is a constant action at the
  middle of the task's bounds, actions are normalized by the task's bounds (not the demos), and the
  "residual" has scale 1, so the actor is a full policy over the whole action space, trained from scratch
  with demos in every batch. Warm-up acts uniformly at random over the action space.
* `filtered_bc_run`: iterated filtered BC: roll out the current BC policy, keep the successful episodes,
  retrain BC (from scratch, same config) on demos + kept rollouts at every checkpoint.

Both are evaluated like ResFiT: `rollout.run_episode` on the evaluation seeds `eval_seed_offset + i`.
"""
from __future__ import annotations

import time
from pathlib import Path
from typing import Callable, Sequence

import numpy as np

from residual_rl_ros.core.bc import BCConfig, as_base_policy, train_bc
from residual_rl_ros.core.chunking import ChunkExecutor
from residual_rl_ros.core.learner import ResidualLearner
from residual_rl_ros.core.networks import PolicySpec
from residual_rl_ros.core.recipe import ResidualRecipe
from residual_rl_ros.core.training.config import ResFiTRunConfig, apply_overrides
from residual_rl_ros.core.training.loop import ResFiTRun, fit_normalizers
from residual_rl_ros.core.training.pipeline import bounds_normalizer, evaluate_base
from residual_rl_ros.core.training.rollout import run_episode, zero_residual
from residual_rl_ros.core.types import BasePolicy, Episode, Observation, Task, Transition

Printer = Callable[[str], None]

# What "no base" changes in the recipe: a residual of scale 1 is the whole normalized action; noise
# fractions are of that scale, so they become TD3's usual 0.1 exploration and 0.2 / 0.5 target smoothing.
RLPD_RECIPE_OVERRIDES = ('network.action_scale=1.0', 'learner.exploration_noise_std=0.1',
                         'learner.target_noise_std=0.2', 'learner.target_noise_clip=0.5')


class ConstantPolicy:
    """A `BasePolicy` that always proposes the same action (chunks of length 1): 'no base policy'."""

    chunk_length = 1

    def __init__(self, action: np.ndarray) -> None:
        self.action = np.asarray(action, np.float32).reshape(1, -1)

    def reset(self) -> None:
        """Stateless."""

    def act(self, observation: Observation) -> np.ndarray:
        return self.action.copy()


def rlpd_recipe(recipe: ResidualRecipe) -> ResidualRecipe:
    """`recipe` with the no-base overrides (scale 1, TD3 noise levels) and actor lr = critic lr."""
    return apply_overrides(recipe, list(RLPD_RECIPE_OVERRIDES) + [f'learner.actor_lr={recipe.learner.critic_lr}'])


def rlpd_run(task: Task, demos: Sequence[Episode], recipe: ResidualRecipe, config: ResFiTRunConfig,
             out_dir: str | Path | None = None, printer: Printer | None = print) -> ResFiTRun:
    """A `ResFiTRun` of the same learner without a base (see the module docstring).

    `recipe` is used as given (pass it through `rlpd_recipe` for the benchmark's settings); the
    warm-up noise of `config` is raised to 1 (uniform over the action space) unless it is already larger.
    """
    action_norm = bounds_normalizer(task)
    used = [ep for ep in demos if ep.success or not config.demo_successes_only]
    if not used:
        raise ValueError('no usable demo episodes for the RLPD baseline')
    state_norm, _ = fit_normalizers(used, recipe)
    base = ConstantPolicy(action_norm.center)
    spec = PolicySpec(state_dim=state_norm.dim, action_dim=action_norm.dim, chunk_length=1,
                      camera_names=tuple(task.camera_names),
                      image_hw=next((tuple(f.shape[1:3]) for f in used[0].images.values()), (84, 84)))
    learner = ResidualLearner(recipe, spec, state_norm, action_norm)
    config = apply_overrides(config, [f'warmup_noise={max(config.warmup_noise, 1.0)}'])
    return ResFiTRun(task, base, demos, recipe, config, out_dir, printer=printer, learner=learner)


def record_episode(task: Task, policy: BasePolicy, seed: int) -> Episode:
    """One rollout of a base policy alone (residual 0) as an `Episode` in robot units."""
    normalizer = bounds_normalizer(task)
    steps: list[Transition] = []
    result = run_episode(task, ChunkExecutor(policy), normalizer, zero_residual(len(task.action_low)), seed,
                         steps.append)
    observations = [t.observation for t in steps] + [steps[-1].next_observation]
    return Episode(proprio=np.stack([o.proprio for o in observations]),
                   task_state=np.stack([o.task_state for o in observations]),
                   actions=np.stack([normalizer.denormalize(t.action) for t in steps]).astype(np.float32),
                   success=result.success,
                   images={c: np.stack([o.images[c] for o in observations]) for c in task.camera_names})


def filtered_bc_run(task: Task, base: BasePolicy, demos: Sequence[Episode], bc_config: BCConfig, *,
                    total_env_steps: int, eval_interval_steps: int, eval_episodes: int, seed: int = 0,
                    eval_seed_offset: int = 1_000_000_000, printer: Printer | None = print) -> list[dict]:
    """Iterated filtered BC; returns the evaluation history ({'env_steps', 'success_rate', ...}).

    Training episode i resets with seed `seed * 10**6 + i` (as in ResFiT); at each checkpoint (the first
    episode end at or past a multiple of `eval_interval_steps`, and the end) BC is retrained on the demos
    plus every successful rollout so far, then becomes the rollout policy and is evaluated.
    """
    printer = printer or (lambda line: None)
    start_wall, start_cpu = time.monotonic(), time.process_time()
    policy, kept, env_steps, episodes, successes = base, [], 0, 0, 0

    def log(retrain_s: float) -> dict:
        record = {'env_steps': env_steps, 'success_rate': evaluate_base(task, policy, eval_episodes, eval_seed_offset),
                  'eval_episodes': eval_episodes, 'episodes': episodes, 'rollout_successes': successes,
                  'bc_training_episodes': len(demos) + len(kept), 'retrain_s': round(retrain_s, 1),
                  'wall_s': round(time.monotonic() - start_wall, 1),
                  'cpu_s': round(time.process_time() - start_cpu, 1)}
        printer(f'[filtered_bc] env_steps {env_steps:7d}  success {record["success_rate"]:.1%}  '
                f'kept {len(kept)}/{episodes}  wall {record["wall_s"]:.0f}s')
        return record

    history = [log(0.0)]
    next_eval = eval_interval_steps or total_env_steps
    while env_steps < total_env_steps:
        episode = record_episode(task, policy, seed * 10**6 + episodes)
        episodes, env_steps = episodes + 1, env_steps + len(episode.actions)
        if episode.success:
            kept.append(episode)
            successes += 1
        if env_steps >= next_eval or env_steps >= total_env_steps:
            retrain = time.monotonic()
            policy = as_base_policy(train_bc(list(demos) + kept, bc_config, seed=seed))
            history.append(log(time.monotonic() - retrain))
            while next_eval <= env_steps:
                next_eval += eval_interval_steps or total_env_steps
    return history
