"""BC: chunk targets and padding, fitting a synthetic task, determinism, exports that match torch, CLI."""
from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
import torch

from residual_rl_ros.core.base_policy import load_base_policy
from residual_rl_ros.core.bc import (BCConfig, as_base_policy, build_chunk_dataset, export_onnx, export_torchscript,
                                    train_bc)
from residual_rl_ros.core.bc.train import main as train_main
from residual_rl_ros.core.bc.trainer import evaluate_loss, random_shift
from residual_rl_ros.core.demos import save_episodes
from residual_rl_ros.core.types import Episode, Observation

pytestmark = [pytest.mark.core, pytest.mark.filterwarnings('ignore::DeprecationWarning')]
torch.set_num_threads(1)

P, S, A = 4, 2, 3
SMALL_TRANSFORMER = dict(arch='transformer', d_model=64, num_heads=4, encoder_layers=1, decoder_layers=1,
                         ff_dim=128, dropout=0.0)


def _episodes(count: int = 6, steps: int = 20, seed: int = 0, cameras: tuple[str, ...] = (),
              success: bool = True) -> list[Episode]:
    """Actions are a fixed function of the state, in large robot units (offsets ~100, scales ~50)."""
    rng = np.random.default_rng(seed)
    episodes = []
    for _ in range(count):
        proprio = (100.0 + 5.0 * rng.normal(size=(steps + 1, P))).astype(np.float32)
        task_state = rng.normal(size=(steps + 1, S)).astype(np.float32)
        actions = np.stack([50.0 * np.tanh(proprio[:-1, 0] - 100.0) + 10.0 * task_state[:-1, 0],
                            -3.0 * task_state[:-1, 1], np.sin(proprio[:-1, 1] - 100.0)], axis=1)
        images = {c: rng.integers(0, 256, (steps + 1, 16, 16, 3), dtype=np.uint8) for c in cameras}
        episodes.append(Episode(proprio, task_state, actions.astype(np.float32), success, images))
    return episodes


def _observation(ep: Episode, t: int) -> Observation:
    return Observation(ep.proprio[t], ep.task_state[t], {c: frames[t] for c, frames in ep.images.items()})


def test_chunks_are_future_actions_padded_and_masked_at_the_end() -> None:
    ep = Episode(np.zeros((4, P), np.float32), np.zeros((4, 0), np.float32),
                 np.arange(9, dtype=np.float32).reshape(3, 3), True)
    data = build_chunk_dataset([ep], chunk_length=4)
    assert len(data) == 3 and data.actions.shape == (3, 4, 3)
    np.testing.assert_array_equal(data.actions[0, :, 0], [0, 3, 6, 6])
    np.testing.assert_array_equal(data.actions[2, :, 0], [6, 6, 6, 6])
    np.testing.assert_array_equal(data.valid, [[1, 1, 1, 0], [1, 1, 0, 0], [1, 0, 0, 0]])


def test_inconsistent_or_unsuccessful_episodes_are_rejected() -> None:
    eps = _episodes(2)
    eps[1].task_state = eps[1].task_state[:, :1]
    with pytest.raises(ValueError, match='episode 1 has'):
        build_chunk_dataset(eps, 4)
    with pytest.raises(ValueError, match='no successful episodes'):
        train_bc(_episodes(2, success=False), BCConfig(num_steps=1))
    with pytest.raises(ValueError, match='BCConfig.loss'):
        train_bc(_episodes(2), BCConfig(loss='huber'))


@pytest.mark.parametrize('arch_kwargs', [dict(arch='mlp', hidden_dim=64, dropout=0.0), SMALL_TRANSFORMER])
def test_bc_fits_synthetic_demos(arch_kwargs: dict) -> None:
    eps = _episodes()
    config = BCConfig(chunk_length=3, num_steps=300, batch_size=64, learning_rate=3e-3, warmup_steps=20,
                      log_every=50, **arch_kwargs)
    losses: list[float] = []
    model = train_bc(eps, config, seed=0, progress=lambda stats: losses.append(stats['loss']))
    assert len(losses) == 6
    assert losses[-1] < 0.3 * losses[0]
    assert evaluate_loss(model, eps) < 0.3 * losses[0]
    # Robot units in, robot units out: the first action of the chunk tracks the demonstrated action.
    ep = eps[0]
    with torch.no_grad():
        chunk = model(torch.from_numpy(ep.proprio[:-1]), torch.from_numpy(ep.task_state[:-1]))
    error = np.abs(chunk[:, 0].numpy() - ep.actions).mean()
    assert error < 0.25 * np.abs(ep.actions - ep.actions.mean(axis=0)).mean()


def test_training_is_deterministic_for_a_seed() -> None:
    config = BCConfig(hidden_dim=32, num_steps=15, batch_size=32)
    first, second = (train_bc(_episodes(2), config, seed=3) for _ in range(2))
    third = train_bc(_episodes(2), config, seed=4)
    for a, b in zip(first.state_dict().values(), second.state_dict().values()):
        assert torch.equal(a, b)
    assert not all(torch.equal(a, b) for a, b in zip(first.state_dict().values(), third.state_dict().values()))


@pytest.mark.parametrize('arch_kwargs', [dict(arch='mlp', hidden_dim=32), SMALL_TRANSFORMER])
@pytest.mark.parametrize('cameras', [(), ('front', 'wrist')])
def test_exports_match_torch_through_the_loader(tmp_path: Path, arch_kwargs: dict,
                                                cameras: tuple[str, ...]) -> None:
    eps = _episodes(2, steps=6, cameras=cameras)
    model = train_bc(eps, BCConfig(chunk_length=4, num_steps=3, batch_size=8, **arch_kwargs), seed=0)
    obs = _observation(eps[1], 2)
    images = (torch.from_numpy(np.stack([obs.images[c] for c in cameras]))[None],) if cameras else ()
    with torch.no_grad():
        expected = model(torch.from_numpy(obs.proprio)[None], torch.from_numpy(obs.task_state)[None],
                         *images)[0].numpy()
    for path in (export_onnx(model, tmp_path / 'bc.onnx'), export_torchscript(model, tmp_path / 'bc.pt')):
        policy = load_base_policy(str(path))
        assert policy.chunk_length == 4 and policy.metadata.camera_names == list(cameras)
        np.testing.assert_allclose(policy.act(obs), expected, atol=1e-4, rtol=1e-4)
    np.testing.assert_allclose(as_base_policy(model).act(obs), expected, atol=1e-6)


def test_random_shift_keeps_shape_and_moves_pixels() -> None:
    images = torch.arange(2 * 1 * 6 * 6 * 3, dtype=torch.int64).remainder(256).to(torch.uint8)
    images = images.reshape(2, 1, 6, 6, 3)
    shifted = random_shift(images, 2, np.random.default_rng(0))
    assert shifted.shape == images.shape and shifted.dtype == torch.uint8
    assert random_shift(images, 0, np.random.default_rng(0)).equal(images)


def test_cli_trains_and_exports(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    demos = tmp_path / 'demos.npz'
    save_episodes(demos, _episodes(3, steps=8))
    out = tmp_path / 'artifacts' / 'bc.onnx'
    code = train_main(['--demos', str(demos), '--arch', 'mlp', '--chunk', '2', '--steps', '20', '--out', str(out),
                       '--set', 'log_every=10', '--set', 'hidden_dim=32'])
    printed = capsys.readouterr().out
    assert code == 0 and out.is_file() and (tmp_path / 'artifacts' / 'bc.onnx.json').is_file()
    assert 'step     20/20' in printed and 'loss' in printed and 'epoch' in printed
    assert load_base_policy(str(out)).chunk_length == 2
    assert train_main(['--demos', str(demos), '--out', str(tmp_path / 'bc.pkl')]) == 2
    assert train_main(['--demos', str(demos), '--out', str(out), '--set', 'no_such_key=1']) == 2
    assert 'no_such_key' in capsys.readouterr().err
