"""Checkpoints (bit-identical resume, corruption), ONNX export, and actor weight blobs for remote actors."""
from __future__ import annotations

import dataclasses
import json

import numpy as np
import pytest
import torch
from resfit_factory import SPEC, filled_sampler, observation, small_recipe

from residual_rl_ros.core.actor_export import onnx_inputs
from residual_rl_ros.core.checkpoint import (actor_weights, checkpoint_config, export_actor_onnx, learner_state,
                                             load_actor_weights, load_checkpoint, policy_from_weights,
                                             save_checkpoint)
from residual_rl_ros.core.learner import ResidualLearner
from residual_rl_ros.core.networks import PolicySpec, ResidualPolicy
from residual_rl_ros.core.recipe import NetworkRecipe

pytestmark = pytest.mark.core
torch.set_num_threads(1)


@pytest.fixture(scope='module')
def trained() -> ResidualLearner:
    learner = ResidualLearner(small_recipe(), SPEC)
    learner.update(filled_sampler(), env_steps=3)
    assert learner.counters['actor_updates'] > 0
    return learner


def test_resume_is_bit_identical(tmp_path):
    sampler = filled_sampler()
    original = ResidualLearner(small_recipe(), SPEC)
    original.update(sampler, env_steps=2)
    save_checkpoint(tmp_path / 'ckpt.safetensors', original)
    original.update(sampler, env_steps=2)
    resumed = load_checkpoint(tmp_path / 'ckpt.safetensors')
    resumed.update(sampler, env_steps=2)
    tensors_a, config_a = learner_state(original)
    tensors_b, config_b = learner_state(resumed)
    assert config_a == config_b and set(tensors_a) == set(tensors_b)
    for key in tensors_a:
        assert torch.equal(tensors_a[key], tensors_b[key]), key


def test_checkpoint_config_is_versioned(tmp_path, trained):
    path = save_checkpoint(tmp_path / 'c.safetensors', trained)
    config = checkpoint_config(path)
    assert config['format_version'] == 1 and config['policy_version'] == trained.counters['policy_version'] > 0
    assert json.loads((tmp_path / 'c.safetensors.json').read_text())['recipe'] == config['recipe']


@pytest.mark.parametrize('damage', ['truncate', 'flip', 'garbage', 'empty'])
def test_corrupt_checkpoint_is_a_value_error_naming_the_file(tmp_path, trained, damage):
    path = save_checkpoint(tmp_path / 'broken.safetensors', trained)
    data = bytearray(path.read_bytes())
    if damage == 'truncate':
        data = data[:len(data) // 2]
    elif damage == 'flip':
        data[-10] ^= 0xFF
    elif damage == 'garbage':
        data = bytearray(b'\x10\x00\x00\x00\x00\x00\x00\x00not json at all!' + bytes(64))
    else:
        data = bytearray()
    path.write_bytes(bytes(data))
    with pytest.raises(ValueError, match='broken.safetensors'):
        load_checkpoint(path)
    with pytest.raises(ValueError, match='missing.safetensors'):
        load_checkpoint(tmp_path / 'missing.safetensors')


def _randomized_policy(spec: PolicySpec, phase_encoding: str = 'sincos', **network_fields) -> ResidualPolicy:
    torch.manual_seed(0)
    network = dataclasses.replace(small_recipe().network, phase_encoding=phase_encoding, **network_fields)
    policy = ResidualPolicy(spec, network)
    with torch.no_grad():
        policy.actor.net[-1].weight.normal_(0, 0.5)      # leave the zero init so the output is non-trivial
    return policy.eval()


@pytest.mark.parametrize('spec, encoding, bounds', [
    (SPEC, 'sincos', []), (PolicySpec(state_dim=4, action_dim=2, chunk_length=3), 'onehot', []),
    (PolicySpec(state_dim=4, action_dim=2, chunk_length=3), 'sincos', [0.1, 0.8])])
def test_onnx_export_matches_torch(tmp_path, spec, encoding, bounds):
    ort = pytest.importorskip('onnxruntime')
    policy = _randomized_policy(spec, encoding, action_scale_per_dim=bounds)
    error = export_actor_onnx(policy, tmp_path / 'actor.onnx')
    assert error < 1e-5
    inputs = onnx_inputs(spec, batch=5, seed=7)
    (out,) = ort.InferenceSession(str(tmp_path / 'actor.onnx')).run(['residual'], inputs)
    with torch.no_grad():
        expected = policy({c: torch.from_numpy(inputs[f'image_{c}']) for c in spec.camera_names},
                          torch.from_numpy(inputs['state']), torch.from_numpy(inputs['base_action']),
                          torch.from_numpy(inputs['phase'])).numpy()
    assert out.shape == (5, spec.action_dim) and np.abs(expected).max() > 1e-3
    np.testing.assert_allclose(out, expected, atol=1e-5)


def test_actor_weights_round_trip_into_a_fresh_process_view(trained):
    weights = actor_weights(trained)
    assert weights.version == trained.counters['policy_version'] and weights.format == 'safetensors'
    loaded = policy_from_weights(weights)
    rng = np.random.default_rng(3)
    for phase in range(SPEC.chunk_length):
        obs, base = observation(rng), rng.uniform(-1, 1, 3).astype(np.float32)
        np.testing.assert_array_equal(loaded.residual(obs, base, phase),
                                      trained.act(obs, base, phase, explore=False))
    running = ResidualPolicy(SPEC, small_recipe().network)
    load_actor_weights(running, weights)
    for key, value in trained.policy.state_dict().items():
        assert torch.equal(running.state_dict()[key], value)


def _tampered(weights, **changes):
    return dataclasses.replace(weights, **changes)


def test_bad_actor_weights_are_rejected_and_leave_the_running_actor_untouched(trained):
    weights = actor_weights(trained)
    running = ResidualPolicy(SPEC, small_recipe().network)
    before = {k: v.clone() for k, v in running.state_dict().items()}
    flipped = bytearray(weights.data)
    flipped[-5] ^= 0x01
    other_net = NetworkRecipe(actor_hidden_sizes=[8, 8], critic_hidden_sizes=[8], num_critic_heads=2,
                              encoder_channels=4, encoder_layers=2, encoder_feature_dim=8)
    other = ResidualLearner(dataclasses.replace(small_recipe(), network=other_net), SPEC)
    config = json.loads(weights.config_json)
    config['network']['actor_hidden_sizes'] = [16, 17]
    cases = {
        'sha256 mismatch': _tampered(weights, data=bytes(flipped)),
        'sha256': _tampered(weights, sha256='0' * 64),
        'config_json differs': _tampered(weights, config_json=json.dumps(config)),
        'not JSON': _tampered(weights, config_json='{'),
        'format': _tampered(weights, format='pickle'),
        'shape': actor_weights(other),
        'spec': actor_weights(ResidualLearner(small_recipe(), dataclasses.replace(SPEC, action_dim=2))),
    }
    for message, bad in cases.items():
        with pytest.raises(ValueError, match=message):
            load_actor_weights(running, bad)
        for key, value in running.state_dict().items():
            assert torch.equal(value, before[key]), (message, key)
