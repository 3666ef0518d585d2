"""Learner: UTD and warm-up schedule, determinism from the seed, and that the critic actually learns."""
from __future__ import annotations

import numpy as np
import pytest
import torch
from resfit_factory import SPEC, filled_sampler, observation, small_recipe

from residual_rl_ros.core.learner import ResidualLearner

pytestmark = pytest.mark.core
torch.set_num_threads(1)


def _params(learner: ResidualLearner) -> dict[str, torch.Tensor]:
    return {k: v.clone() for k, v in learner.policy.state_dict().items()}


def test_critic_warmup_then_delayed_actor_updates():
    learner = ResidualLearner(small_recipe(critic_warmup_updates=4), SPEC)
    sampler = filled_sampler()
    before = _params(learner)
    metrics = learner.update(sampler)
    assert learner.counters == {'env_steps': 1, 'critic_updates': 2, 'actor_updates': 0, 'policy_version': 0}
    assert {'critic_loss', 'q_mean', 'target_mean'} <= set(metrics) and 'actor_loss' not in metrics
    after = _params(learner)
    assert all(torch.equal(before[k], after[k]) for k in before if k.startswith('actor.'))
    assert any(not torch.equal(before[k], after[k]) for k in before if k.startswith('encoder.'))
    metrics = learner.update(sampler, env_steps=2)
    assert learner.counters == {'env_steps': 3, 'critic_updates': 6, 'actor_updates': 2, 'policy_version': 2}
    assert 'actor_loss' in metrics


def test_same_seed_same_run_different_seed_different_run():
    runs = []
    for seed in (0, 0, 1):
        learner = ResidualLearner(small_recipe(seed=seed), SPEC)
        learner.update(filled_sampler(), env_steps=2)
        runs.append(_params(learner))
    assert all(torch.equal(runs[0][k], runs[1][k]) for k in runs[0])
    assert any(not torch.equal(runs[0][k], runs[2][k]) for k in runs[0])


def test_critic_fits_a_fixed_batch_and_actor_leaves_zero():
    learner = ResidualLearner(small_recipe(critic_warmup_updates=0, critic_lr=3e-3), SPEC)
    batch = filled_sampler().sample(16, np.random.default_rng(0))
    batch.discount[:] = 0.0
    losses = [learner.update_critic(batch)['critic_loss'] for _ in range(60)]
    assert losses[-1] < 0.2 * losses[0]
    for _ in range(5):
        learner.update_actor(batch)
    residual = learner.act(observation(np.random.default_rng(1)), np.zeros(3), 0, explore=False)
    assert np.any(residual != 0) and np.all(np.abs(residual) <= learner.residual_bound)


def _residual_after_actor_steps(penalty: float, steps: int = 30) -> float:
    learner = ResidualLearner(small_recipe(critic_warmup_updates=0, critic_lr=3e-3, residual_penalty=penalty), SPEC)
    batch = filled_sampler().sample(16, np.random.default_rng(0))
    for _ in range(40):
        learner.update_critic(batch)
    for _ in range(steps):
        learner.update_actor(batch)
    rng = np.random.default_rng(2)
    residuals = [learner.act(observation(rng), np.zeros(3), 0, explore=False) for _ in range(32)]
    return float(np.abs(residuals).mean()) / float(learner.residual_bound.max())


def test_residual_penalty_holds_the_residual_near_zero():
    free, held = _residual_after_actor_steps(0.0), _residual_after_actor_steps(10.0)
    assert free > 0.05 and held < 0.5 * free
