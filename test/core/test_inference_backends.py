"""Inference backends of the residual policy: every backend agrees with eager torch; a failing one falls back."""
import dataclasses

import numpy as np
import pytest
import torch

from residual_rl_ros.core.actor_backends import (BACKENDS, DEFAULT_BACKEND, build_runner, compile_actor,
                                                 example_inputs, max_difference)
from residual_rl_ros.core.networks import PolicySpec, ResidualPolicy
from residual_rl_ros.core.node_params import ResidualPolicyParams
from residual_rl_ros.core.recipe import NetworkRecipe

NETWORK = NetworkRecipe(actor_hidden_sizes=[32, 32], encoder_channels=4, encoder_layers=2, encoder_feature_dim=8)
STATE = PolicySpec(state_dim=6, action_dim=3, chunk_length=4)
PER_DIM = dataclasses.replace(NETWORK, action_scale_per_dim=[0.05, 0.1, 0.7])
IMAGES = dataclasses.replace(STATE, camera_names=('left', 'right'), image_hw=(20, 24))


def random_policy(spec: PolicySpec, network: NetworkRecipe = NETWORK) -> ResidualPolicy:
    torch.manual_seed(0)
    policy = ResidualPolicy(spec, network).eval()
    torch.nn.init.normal_(policy.actor.net[-1].weight, std=0.5)     # the real last layer starts at zero
    return policy


@pytest.mark.parametrize('spec, network', [(STATE, NETWORK), (IMAGES, NETWORK), (STATE, PER_DIM)],
                         ids=['state', 'images', 'per_dim_bounds'])
@pytest.mark.parametrize('backend', BACKENDS)
def test_backend_matches_eager_torch(spec, network, backend) -> None:
    policy = random_policy(spec, network)
    runner, note = build_runner(policy, backend)
    assert (runner.backend, note) == (backend, '')
    state, base, phase, *images = example_inputs(spec, seed=5)
    pixels = {c: image[0] for c, image in zip(spec.camera_names, images)}
    with torch.no_grad():
        want = policy({c: torch.from_numpy(i) for c, i in zip(spec.camera_names, images)}, torch.from_numpy(state),
                      torch.from_numpy(base), torch.from_numpy(phase))[0].numpy()
    got = runner(state[0], base[0], int(phase[0]), pixels)
    assert np.max(np.abs(want)) > 1e-2
    np.testing.assert_allclose(got, want, atol=1e-5)
    assert max_difference(policy, runner) <= 1e-5


@pytest.mark.parametrize('backend', BACKENDS)
def test_runner_reuses_its_buffers_without_stale_inputs(backend) -> None:
    runner = compile_actor(random_policy(IMAGES), backend)
    state, base, _, *images = example_inputs(IMAGES, seed=1)
    state2, base2, _, *images2 = example_inputs(IMAGES, seed=2)
    pixels, pixels2 = ({c: i[0] for c, i in zip(IMAGES.camera_names, im)} for im in (images, images2))
    first = runner(state[0], base[0], 1, pixels).copy()
    other = runner(state2[0], base2[0], 3, pixels2).copy()
    again = runner(state[0], base[0], 1, pixels)
    assert not np.allclose(first, other)
    np.testing.assert_array_equal(again, first)


def test_disagreeing_backend_falls_back_to_eager() -> None:
    runner, note = build_runner(random_policy(STATE), 'onnxruntime', atol=-1.0)    # no difference passes
    assert runner.backend == 'eager' and 'differs from eager' in note


def test_unknown_backend_is_an_error_naming_it() -> None:
    with pytest.raises(ValueError, match="'tensorrt' is not one of"):
        build_runner(random_policy(STATE), 'tensorrt')


def test_node_parameter_offers_the_backends_and_defaults_to_the_fastest() -> None:
    field = {f.name: f for f in dataclasses.fields(ResidualPolicyParams)}['inference_backend']
    assert field.default == DEFAULT_BACKEND
    assert tuple(field.metadata['choices']) == BACKENDS


def test_onnxruntime_reuses_the_exported_graph_with_each_versions_weights() -> None:
    first, second = random_policy(STATE), random_policy(STATE)
    torch.nn.init.normal_(second.actor.net[0].weight)             # same architecture, other weights
    runners = [compile_actor(policy, 'onnxruntime') for policy in (first, second)]
    assert max(max_difference(p, r) for p, r in zip((first, second), runners)) <= 1e-5
    state, base, phase = example_inputs(STATE)
    outputs = [r(state[0], base[0], int(phase[0]), {}) for r in runners]
    assert np.max(np.abs(outputs[0] - outputs[1])) > 1e-3
