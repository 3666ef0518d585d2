"""Base-policy loaders: TorchScript, ONNX and entry points behave alike; bad specs fail clearly."""
from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest
import torch
from torch import nn

from residual_rl_ros.core.base_policy import METADATA_KEY, load_base_policy
from residual_rl_ros.core.types import BasePolicy, Observation

pytestmark = [pytest.mark.core, pytest.mark.filterwarnings('ignore::DeprecationWarning')]
torch.set_num_threads(1)

P, S, K, A = 5, 2, 3, 4


class TinyPolicy(nn.Module):
    """Follows the exported contract: (1, P), (1, S)[, images] -> (1, K, A)."""

    def __init__(self, k: int = K, with_images: bool = False):
        super().__init__()
        torch.manual_seed(0)
        self.k = k
        self.net = nn.Linear(P + S, k * A)
        self.with_images = with_images

    def forward(self, proprio: torch.Tensor, task_state: torch.Tensor, *images: torch.Tensor) -> torch.Tensor:
        out = self.net(torch.cat([proprio, task_state], dim=1))
        for image in images:                       # brightness of every camera shifts all actions
            out = out + image.float().mean() / 255.0
        return out.reshape(-1, self.k, A)


def _obs(seed: int = 0, cameras: tuple[str, ...] = ()) -> Observation:
    rng = np.random.default_rng(seed)
    images = {c: rng.integers(0, 256, (8, 8, 3), dtype=np.uint8) for c in cameras}
    return Observation(rng.normal(size=P).astype(np.float32), rng.normal(size=S).astype(np.float32), images)


def _expected(model: nn.Module, obs: Observation, cameras: tuple[str, ...] = ()) -> np.ndarray:
    images = [torch.from_numpy(obs.images[c])[None] for c in cameras]
    with torch.no_grad():
        return model(torch.from_numpy(obs.proprio)[None], torch.from_numpy(obs.task_state)[None], *images)[0].numpy()


def _save_torchscript(model: nn.Module, path: Path, metadata: dict | None) -> Path:
    traced = torch.jit.trace(model, (torch.zeros(1, P), torch.zeros(1, S)))
    extra = {METADATA_KEY + '.json': json.dumps(metadata)} if metadata is not None else {}
    torch.jit.save(traced, str(path), _extra_files=extra)
    return path


def _save_onnx(model: nn.Module, path: Path, inputs: tuple, names: list[str]) -> Path:
    torch.onnx.export(model, inputs, str(path), input_names=names, output_names=['actions'], dynamo=False)
    return path


@pytest.mark.parametrize('suffix', ['.pt', '.ts'])
def test_torchscript_with_metadata_matches_module(tmp_path: Path, suffix: str) -> None:
    model = TinyPolicy().eval()
    path = _save_torchscript(model, tmp_path / f'policy{suffix}', {'proprio_dim': P, 'task_state_dim': S})
    policy = load_base_policy(str(path))
    assert isinstance(policy, BasePolicy)
    assert policy.chunk_length == K          # learned from the probe run
    obs = _obs()
    chunk = policy.act(obs)
    assert chunk.shape == (K, A) and chunk.dtype == np.float32
    np.testing.assert_allclose(chunk, _expected(model, obs), atol=1e-6)
    policy.reset()


def test_torchscript_without_metadata_needs_chunk_length(tmp_path: Path) -> None:
    path = _save_torchscript(TinyPolicy().eval(), tmp_path / 'bare.pt', None)
    with pytest.raises(ValueError, match='chunk length unknown'):
        load_base_policy(str(path))
    policy = load_base_policy(str(path), chunk_length=K)
    assert policy.act(_obs()).shape == (K, A)


def test_onnx_static_shapes_give_chunk_length(tmp_path: Path) -> None:
    model = TinyPolicy().eval()
    path = _save_onnx(model, tmp_path / 'policy.onnx', (torch.zeros(1, P), torch.zeros(1, S)),
                      ['proprio', 'task_state'])
    policy = load_base_policy(str(path))
    assert policy.chunk_length == K and policy.action_dim == A
    obs = _obs(1)
    np.testing.assert_allclose(policy.act(obs), _expected(model, obs), atol=1e-5)
    with pytest.raises(ValueError, match='proprio has 3 values, the model expects 5'):
        policy.act(Observation(np.zeros(3, np.float32), np.zeros(S, np.float32)))


def test_onnx_per_camera_images(tmp_path: Path) -> None:
    model = TinyPolicy(with_images=True).eval()
    cameras = ('front', 'wrist')
    inputs = (torch.zeros(1, P), torch.zeros(1, S)) + tuple(torch.zeros(1, 8, 8, 3, dtype=torch.uint8)
                                                            for _ in cameras)
    path = _save_onnx(model, tmp_path / 'cams.onnx', inputs, ['proprio', 'task_state', 'image_front',
                                                              'image_wrist'])
    policy = load_base_policy(str(path))
    assert policy.metadata.camera_names == list(cameras)
    assert policy.metadata.image_layout == 'per_camera' and policy.metadata.image_shape == [8, 8]
    obs = _obs(2, cameras)
    np.testing.assert_allclose(policy.act(obs), _expected(model, obs, cameras), atol=1e-5)
    with pytest.raises(ValueError, match="no image from camera 'wrist'"):
        policy.act(Observation(obs.proprio, obs.task_state, {'front': obs.images['front']}))


class CountingPolicy:
    """A Python BasePolicy for entry-point loading."""

    def __init__(self, chunk_length: int = 2, action_dim: int = 3):
        self.chunk_length = chunk_length
        self.action_dim_out = action_dim
        self.calls = 0

    def reset(self) -> None:
        self.calls = 0

    def act(self, observation: Observation) -> np.ndarray:
        self.calls += 1
        return np.full((self.chunk_length, self.action_dim_out), self.calls, np.float32)


def make_policy(**kwargs: int) -> CountingPolicy:
    return CountingPolicy(**kwargs)


def make_bad_shape_policy() -> CountingPolicy:
    policy = CountingPolicy()
    policy.chunk_length = 5          # claims chunks of 5 but returns 2 rows
    policy.act = lambda observation: np.zeros((2, 3), np.float32)   # type: ignore[method-assign]
    return policy


def make_not_a_policy() -> object:
    return object()


def test_entry_point_passes_kwargs_and_checks_output() -> None:
    policy = load_base_policy(f'{__name__}:make_policy', chunk_length=4, action_dim=2)
    assert isinstance(policy, BasePolicy) and policy.chunk_length == 4
    assert policy.act(_obs()).shape == (4, 2)
    with pytest.raises(ValueError, match=r'returned shape \(2, 3\), expected \(5'):
        load_base_policy(f'{__name__}:make_bad_shape_policy').act(_obs())


@pytest.mark.parametrize('spec, message', [
    ('missing/policy.onnx', 'does not exist'),
    ('missing/policy.pt', 'does not exist'),
    ('policy.pkl', 'is not a TorchScript file'),
    ('no_such_module_xyz:factory', 'cannot import'),
    (f'{__name__}:no_such_factory', 'has no attribute'),
    (f'{__name__}:make_not_a_policy', 'lacks the BasePolicy interface'),
])
def test_bad_specs_are_clear_errors(spec: str, message: str) -> None:
    with pytest.raises(ValueError, match=message):
        load_base_policy(spec)


def test_corrupt_files_are_clear_errors(tmp_path: Path) -> None:
    for name in ('junk.onnx', 'junk.pt'):
        (tmp_path / name).write_bytes(b'not a model')
        with pytest.raises(ValueError, match='not a loadable'):
            load_base_policy(str(tmp_path / name))


def test_wrong_output_shape_fails_at_load(tmp_path: Path) -> None:
    class Flat(nn.Module):
        def forward(self, proprio: torch.Tensor, task_state: torch.Tensor) -> torch.Tensor:
            return proprio[:, :A] + task_state.sum()

    path = _save_onnx(Flat(), tmp_path / 'flat.onnx', (torch.zeros(1, P), torch.zeros(1, S)),
                      ['proprio', 'task_state'])
    with pytest.raises(ValueError, match=r'expected \(1, K, A\)'):
        load_base_policy(str(path))
    ts = _save_torchscript(TinyPolicy().eval(), tmp_path / 'wrong.pt', {'proprio_dim': P, 'task_state_dim': S,
                                                                        'chunk_length': K + 1})
    with pytest.raises(ValueError, match='output has shape'):
        load_base_policy(str(ts))
    ts = _save_torchscript(TinyPolicy().eval(), tmp_path / 'wrong_in.pt', {'proprio_dim': P + 1,
                                                                           'task_state_dim': S})
    with pytest.raises(ValueError, match='rejects inputs of the declared shapes'):
        load_base_policy(str(ts))


def test_onnx_wrong_input_names_fail(tmp_path: Path) -> None:
    path = _save_onnx(TinyPolicy().eval(), tmp_path / 'names.onnx', (torch.zeros(1, P), torch.zeros(1, S)),
                      ['state', 'goal'])
    with pytest.raises(ValueError, match="no 'proprio' input"):
        load_base_policy(str(path))
