"""Held exploration noise: redrawn every `hold_steps` steps and at each episode start."""
from __future__ import annotations

import numpy as np
import pytest
from test_resfit_loop import _run

from residual_rl_ros.core.exploration import HeldNoise

pytestmark = pytest.mark.core


def test_held_noise_redraws_every_hold_steps_and_after_reset():
    rng = np.random.default_rng(0)
    noise = HeldNoise(3)
    values = [noise.sample(lambda: rng.normal(size=2)) for _ in range(7)]
    assert all(np.array_equal(values[0], v) for v in values[1:3])
    assert not np.array_equal(values[2], values[3]) and np.array_equal(values[3], values[5])
    assert not np.array_equal(values[5], values[6])
    noise.reset()
    assert not np.array_equal(noise.sample(lambda: rng.normal(size=2)), values[6])
    with pytest.raises(ValueError, match='hold_steps'):
        HeldNoise(0)


def test_one_step_hold_is_the_papers_iid_noise():
    a, b = np.random.default_rng(1), np.random.default_rng(1)
    noise = HeldNoise(1)
    held = [noise.sample(lambda: a.uniform(-0.2, 0.2, 3)) for _ in range(5)]
    assert np.array_equal(np.stack(held), b.uniform(-0.2, 0.2, (5, 3)).astype(np.float32))


@pytest.mark.parametrize('hold', [1, 4])
def test_warmup_residual_is_held_within_an_episode(tmp_path, hold):
    run = _run(tmp_path, total=1, warmup=40, noise_hold_steps=hold)
    run.held_noise['warmup'].reset()
    observation = run.task.reset(0)
    residuals = np.stack([run._residual(observation, np.zeros(1, np.float32), 0) for _ in range(8)])[:, 0]
    assert np.all(np.abs(residuals) <= run.config.warmup_noise)
    distinct = len(np.unique(residuals))
    assert distinct == 8 // hold
