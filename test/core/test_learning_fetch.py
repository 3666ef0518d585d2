"""Learning: on state-based Fetch pick-and-place, residual fine-tuning lifts a BC base above its success.

Everything is built inside the test from a fixed seed: noisy scripted demos -> chunked BC -> ONNX ->
`load_base_policy`; BC success and ResFiT success are measured on the same fresh evaluation seeds
(disjoint from demo and training seeds). The run is deterministic for a seed on one thread.
"""
from __future__ import annotations

import time

import pytest
import torch

from residual_rl_ros.core.bc import BCConfig
from residual_rl_ros.core.training.config import ResFiTRunConfig, apply_overrides, recipe_preset
from residual_rl_ros.core.training.loop import ResFiTRun
from residual_rl_ros.core.training.pipeline import build_bc_base

pytestmark = [pytest.mark.learning, pytest.mark.core]

# Measured with these settings (the shipped 'cpu' preset: residual scale 0.1, fused AdamW). Seed 0, the same
# run from the CLI (`core.resfit_loop`, runs/s3/sc01_lr1e-4_s0, evaluations every 2.5k): BC 78% -> 76 / 82 / 82 /
# 86 / 86 / 96% from 7.5k to 20k env steps (50 episodes, same evaluation seeds). Learner seeds 1 and 2 on the same
# base: 92% and 88% at 20k. The run is deterministic for a seed on one thread, but another torch/MuJoCo build may
# change the trajectory; the margin below is about half the measured gain. (The former preset, scale 0.2, dipped
# to 40-70% when the actor started; weak-base settings, 15 demos and BC 37%, were not lifted.)
SEED = 0
DEMOS, DEMO_NOISE, BC_STEPS = 50, 0.3, 3000
EVAL_EPISODES = 50
ENV_STEPS = 20_000
PRESET, RECIPE = 'cpu', []
RUN = {'warmup_env_steps': 5000, 'eval_interval_steps': 0, 'eval_episodes': EVAL_EPISODES,
       'checkpoint_interval_steps': 0, 'log_interval_steps': 5000, 'eval_at_start': False}
MIN_GAIN = 0.08         # absolute success-rate points over BC (seed 0 measured +0.18)


@pytest.mark.timeout(3600)      # ~9 CPU-minutes on one free core; far more on a shared one
def test_resfit_success_rises_clearly_above_bc(tmp_path):
    gym = pytest.importorskip('gymnasium_robotics')
    del gym
    from residual_rl_ros.sim.registry import make_task
    torch.set_num_threads(1)
    start = time.monotonic()
    task = make_task('fetch_pick_place', seed=SEED)
    try:
        base = build_bc_base('fetch_pick_place', tmp_path / 'base', demos=DEMOS, noise=DEMO_NOISE, demo_seed=SEED,
                             bc=BCConfig(num_steps=BC_STEPS), bc_seed=SEED, eval_episodes=EVAL_EPISODES,
                             task=task, reuse=False)
        recipe = apply_overrides(recipe_preset(PRESET, seed=SEED), RECIPE)
        config = apply_overrides(ResFiTRunConfig(), [f'{k}={v}' for k, v in RUN.items()]
                                 + [f'seed={SEED}', f'total_env_steps={ENV_STEPS}'])
        run = ResFiTRun(task, base.policy, base.demos, recipe, config, tmp_path / 'run')
        history = run.run()
    finally:
        task.close()
    resfit = history[-1]['success_rate']
    print(f'BC {base.bc_success:.0%} -> ResFiT {resfit:.0%} after {run.env_steps} env steps '
          f'({time.monotonic() - start:.0f}s)')
    assert resfit >= base.bc_success + MIN_GAIN, (base.bc_success, history)
