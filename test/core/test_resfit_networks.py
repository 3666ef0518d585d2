"""Networks: zero-init residual, fused critic ensemble vs a per-head loop, min-of-2 target, augmentation."""
from __future__ import annotations

import numpy as np
import pytest
import torch
import torch.nn.functional as F
from resfit_factory import SPEC, observation, small_recipe

from residual_rl_ros.core.learner import ResidualLearner, compose_action
from residual_rl_ros.core.networks import CriticEnsemble, RandomShift, phase_features

pytestmark = pytest.mark.core
torch.set_num_threads(1)


def test_zero_init_residual_reproduces_base_actions_exactly():
    learner = ResidualLearner(small_recipe(), SPEC)
    rng = np.random.default_rng(0)
    for phase in range(SPEC.chunk_length):
        base = rng.uniform(-1, 1, SPEC.action_dim).astype(np.float32)
        residual = learner.act(observation(rng), base, phase, explore=False)
        assert np.all(residual == 0.0)
        np.testing.assert_array_equal(compose_action(base, residual), base)


def test_exploration_noise_stays_within_the_residual_bound():
    learner = ResidualLearner(small_recipe(), SPEC)
    rng = np.random.default_rng(1)
    residuals = np.stack([learner.act(observation(rng), np.zeros(3), 0, explore=True) for _ in range(20)])
    scale = float(learner.residual_bound.max())
    assert np.all(np.abs(residuals) <= scale) and residuals.std() > 0.2 * scale


def test_compose_action_clamps_in_numpy_and_torch():
    base, residual = np.array([0.95, -0.95, 0.0]), np.array([0.1, -0.1, 0.05])
    np.testing.assert_allclose(compose_action(base, residual), [1.0, -1.0, 0.05])
    assert torch.equal(compose_action(torch.tensor(base), torch.tensor(residual)),
                       torch.tensor([1.0, -1.0, 0.05], dtype=torch.float64))


def _critic_and_inputs(seed: int = 0):
    torch.manual_seed(seed)
    critic = CriticEnsemble(SPEC, small_recipe().network, feature_dim=6)
    b = 5
    inputs = (torch.randn(b, 6), torch.randn(b, SPEC.state_dim), torch.randint(0, SPEC.chunk_length, (b,)),
              torch.rand(b, 3) * 2 - 1, torch.rand(b, 3) * 2 - 1)
    return critic, inputs


def _per_head_q(critic: CriticEnsemble, inputs) -> torch.Tensor:
    """Reference: each head as its own plain MLP (F.linear, F.layer_norm), one at a time."""
    features, state, phase, base, action = inputs
    x0 = torch.cat([features, state, phase_features(phase, SPEC.chunk_length, 'sincos'), base, action], -1)
    layers = list(critic.net)
    heads = []
    for h in range(critic.num_heads):
        x = x0
        for layer in layers:
            name = type(layer).__name__
            if name == 'EnsembleLinear':
                x = F.linear(x, layer.weight[h].T, layer.bias[h, 0])
            elif name == 'EnsembleLayerNorm':
                x = F.layer_norm(x, x.shape[-1:], layer.weight[h, 0], layer.bias[h, 0])
            else:
                x = layer(x)
        heads.append(x.squeeze(-1))
    return torch.stack(heads)


def test_fused_ensemble_equals_per_head_loop():
    critic, inputs = _critic_and_inputs()
    q = critic(*inputs)
    assert q.shape == (4, 5)
    torch.testing.assert_close(q, _per_head_q(critic, inputs), rtol=1e-5, atol=1e-6)
    assert not torch.allclose(q[0], q[1])                # heads are independently initialised


def test_target_is_min_of_two_randomly_chosen_heads():
    critic, inputs = _critic_and_inputs(1)
    reference = _per_head_q(critic, inputs)
    generator, replay = torch.Generator().manual_seed(3), torch.Generator().manual_seed(3)
    chosen = set()
    for _ in range(10):
        target = critic.target(critic(*inputs), generator)
        heads = torch.randperm(critic.num_heads, generator=replay)[:2]
        chosen.add(tuple(sorted(heads.tolist())))
        torch.testing.assert_close(target, torch.minimum(reference[heads[0]], reference[heads[1]]),
                                   rtol=1e-5, atol=1e-6)
    assert len(chosen) > 1


def test_random_shift_is_an_integer_translation_within_the_pad():
    images = torch.arange(2 * 3 * 8 * 8, dtype=torch.float32).view(2, 3, 8, 8)
    shifted = RandomShift(2)(images, torch.Generator().manual_seed(0))
    assert shifted.shape == images.shape
    padded = F.pad(images, (2, 2, 2, 2), mode='replicate')
    for i in range(2):
        matches = [(dy, dx) for dy in range(5) for dx in range(5)
                   if torch.equal(shifted[i], padded[i, :, dy:dy + 8, dx:dx + 8])]
        assert matches
    assert torch.equal(RandomShift(0)(images), images)


def test_phase_encodings():
    phase = torch.tensor([0, 1, 3])
    sincos = phase_features(phase, 4, 'sincos')
    torch.testing.assert_close(sincos[1], torch.tensor([1.0, 0.0]), atol=1e-6, rtol=0)
    onehot = phase_features(phase, 4, 'onehot')
    assert torch.equal(onehot.argmax(-1), phase) and torch.equal(onehot.sum(-1), torch.ones(3))


def test_per_dimension_bounds_limit_each_residual_channel_and_its_noise():
    recipe = small_recipe()
    recipe.network.action_scale_per_dim = [0.05, 0.1, 0.6]
    learner = ResidualLearner(recipe, SPEC)
    with torch.no_grad():
        learner.policy.actor.net[-1].bias.fill_(10.0)       # saturate the tanh: residual = +bound
    rng = np.random.default_rng(2)
    np.testing.assert_allclose(learner.act(observation(rng), np.zeros(3), 0, explore=False),
                               [0.05, 0.1, 0.6], rtol=1e-6)
    with torch.no_grad():
        learner.policy.actor.net[-1].bias.zero_()
    noisy = np.stack([learner.act(observation(rng), np.zeros(3), 0, explore=True) for _ in range(200)])
    assert np.all(np.abs(noisy) <= np.float32([0.05, 0.1, 0.6]))
    assert noisy[:, 2].std() > 5 * noisy[:, 0].std()       # noise is a fraction of each channel's bound


def test_per_dimension_bounds_of_the_wrong_length_name_the_field():
    recipe = small_recipe()
    recipe.network.action_scale_per_dim = [0.1, 0.5]
    with pytest.raises(ValueError, match='action_scale_per_dim has 2 values; the action has 3'):
        ResidualLearner(recipe, SPEC)


def test_the_graph_step_explores_within_the_shipped_per_dimension_bounds():
    from residual_rl_ros.core.actor_export import actor_weights, policy_from_weights
    from residual_rl_ros.core.residual_step import decide
    recipe = small_recipe()
    recipe.network.action_scale_per_dim = [0.05, 0.1, 0.6]
    loaded = policy_from_weights(actor_weights(ResidualLearner(recipe, SPEC)))
    rng = np.random.default_rng(4)
    normalized = np.stack([loaded.action_normalizer.normalize(
        decide(loaded, observation(rng), np.zeros(3), 0, 'explore', rng).executed) for _ in range(200)])
    residual = normalized - loaded.action_normalizer.normalize(np.zeros(3))
    assert np.all(np.abs(residual) <= np.array([0.05, 0.1, 0.6]) + 1e-6)
    assert residual[:, 2].std() > 5 * residual[:, 0].std()
