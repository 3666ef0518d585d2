"""The learner's speed-ups keep its math: target from only the drawn heads, presets, CPU process settings."""
from __future__ import annotations

import pytest
import torch
from resfit_factory import SPEC, small_recipe

from residual_rl_ros.core.learner import ResidualLearner, configure_cpu
from residual_rl_ros.core.networks import CriticEnsemble
from residual_rl_ros.core.recipe import NetworkRecipe
from residual_rl_ros.core.training.config import PRESETS, recipe_preset

pytestmark = pytest.mark.core
torch.set_num_threads(1)


def _critic(heads: int, target_heads: int) -> tuple[CriticEnsemble, tuple]:
    torch.manual_seed(0)
    network = NetworkRecipe(critic_hidden_sizes=[16, 16], num_critic_heads=heads, num_target_heads=target_heads)
    critic = CriticEnsemble(SPEC, network, feature_dim=6)
    b = 7
    inputs = (torch.randn(b, 6), torch.randn(b, SPEC.state_dim), torch.randint(0, SPEC.chunk_length, (b,)),
              torch.rand(b, 3) * 2 - 1, torch.rand(b, 3) * 2 - 1)
    return critic, inputs


@pytest.mark.parametrize('heads, target_heads', [(10, 2), (4, 3), (2, 2)])
def test_target_from_drawn_heads_equals_min_over_all_heads_with_the_same_draw(heads, target_heads):
    critic, inputs = _critic(heads, target_heads)
    fast_gen, full_gen = torch.Generator().manual_seed(5), torch.Generator().manual_seed(5)
    for _ in range(5):
        fast = critic.target_value(*inputs, generator=fast_gen)
        full = critic.target(critic(*inputs), full_gen)
        torch.testing.assert_close(fast, full, rtol=1e-5, atol=1e-6)
    assert torch.equal(fast_gen.get_state(), full_gen.get_state())     # same random stream afterwards


def test_head_subset_forward_equals_the_rows_of_the_full_forward():
    critic, inputs = _critic(6, 2)
    heads = torch.tensor([4, 1])
    torch.testing.assert_close(critic(*inputs, heads=heads), critic(*inputs)[heads], rtol=1e-5, atol=1e-6)


def test_update_returns_last_metrics_and_uses_fused_adamw():
    from resfit_factory import filled_sampler
    learner = ResidualLearner(small_recipe(critic_warmup_updates=0, critic_updates_per_env_step=4,
                                           actor_update_interval=3), SPEC)
    metrics = learner.update(filled_sampler(), env_steps=2)      # 8 critic updates, actor after 3 and 6
    assert learner.counters['critic_updates'] == 8 and learner.counters['actor_updates'] == 2
    assert {'critic_loss', 'q_std', 'actor_loss', 'residual_abs_mean'} <= set(metrics)
    assert learner.update_critic(filled_sampler().sample(8, learner.rng), metrics=False) == {}
    assert learner.critic_optim.param_groups[0]['fused'] and learner.actor_optim.param_groups[0]['fused']


def test_cpu_presets():
    assert set(PRESETS) == {'paper', 'cpu', 'cpu_state', 'cpu_image', 'tiny'}
    paper, state, image = recipe_preset('paper'), recipe_preset('cpu_state'), recipe_preset('cpu_image')
    assert paper.network.critic_hidden_sizes == [1024, 1024] and paper.network.num_critic_heads == 10
    assert state.learner.critic_updates_per_env_step == 4 and state.learner.actor_update_interval == 4
    assert state.network.critic_hidden_sizes[0] < paper.network.critic_hidden_sizes[0]
    assert image.network.encoder_channels < paper.network.encoder_channels
    assert recipe_preset('cpu').network.critic_hidden_sizes == [256, 256]       # unchanged for the learning test
    with pytest.raises(ValueError, match='cpu_state'):
        recipe_preset('gpu')


def test_configure_cpu_sets_threads():
    before = torch.get_num_threads()
    try:
        configure_cpu(threads=1, heap_keep_mb=0)
        assert torch.get_num_threads() == 1
        configure_cpu(threads=0)                  # leaves threads alone, tunes the heap where glibc exists
        assert torch.get_num_threads() == 1
    finally:
        torch.set_num_threads(before)
