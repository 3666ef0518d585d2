"""Simulated tasks satisfy the Task protocol, are deterministic under a seed, and render images."""
from __future__ import annotations

import os

import numpy as np
import pytest

os.environ.setdefault('MUJOCO_GL', 'egl')

from residual_rl_ros.core.types import Observation, StepResult, Task  # noqa: E402
from residual_rl_ros.sim import make_task, register_task, task_names  # noqa: E402

pytestmark = pytest.mark.core

TASKS = {  # name -> (action dim, proprio dim, task_state dim, control rate Hz, max steps)
    'fetch_pick_place': (4, 10, 18, 25.0, 50),
    'adroit_relocate': (30, 63, 15, 100.0, 200),
}


@pytest.fixture(scope='module', params=sorted(TASKS))
def task(request: pytest.FixtureRequest):
    task = make_task(request.param, seed=0)
    yield task
    task.close()


def _rollout(task, seed: int, steps: int = 8) -> np.ndarray:
    rng = np.random.default_rng(123)
    obs = task.reset(seed)
    states = [np.concatenate([obs.proprio, obs.task_state])]
    for _ in range(steps):
        action = rng.uniform(task.action_low, task.action_high).astype(np.float32)
        obs = task.step(action).observation
        states.append(np.concatenate([obs.proprio, obs.task_state]))
    return np.stack(states)


def test_task_satisfies_protocol_and_declares_spaces(task) -> None:
    action_dim, _, _, rate_hz, max_steps = TASKS[task.name]
    assert isinstance(task, Task)
    assert len(task.joint_names) == action_dim and len(set(task.joint_names)) == action_dim
    assert task.action_low.shape == task.action_high.shape == (action_dim,)
    assert np.all(task.action_low < task.action_high)
    assert task.camera_names == []
    assert task.control_rate_hz == pytest.approx(rate_hz)
    assert task.max_episode_steps == max_steps


def test_reset_and_step_return_float32_observations_of_fixed_shape(task) -> None:
    _, proprio_dim, state_dim, _, _ = TASKS[task.name]
    obs = task.reset(1)
    assert isinstance(obs, Observation)
    assert obs.proprio.dtype == np.float32 and obs.proprio.shape == (proprio_dim,)
    assert obs.task_state.dtype == np.float32 and obs.task_state.shape == (state_dim,)
    assert dict(obs.images) == {}
    result = task.step(np.zeros(len(task.joint_names), np.float32))
    assert isinstance(result, StepResult)
    assert isinstance(result.success, bool) and isinstance(result.failure, bool)
    assert result.observation.proprio.shape == (proprio_dim,)
    assert np.all(np.isfinite(result.observation.proprio))
    assert task.steps == 1


def test_same_seed_gives_same_trajectory_and_other_seed_differs(task) -> None:
    first, second, other = _rollout(task, 7), _rollout(task, 7), _rollout(task, 8)
    np.testing.assert_array_equal(first, second)
    assert not np.array_equal(first[0], other[0])


def test_constructor_seed_seeds_first_unseeded_reset() -> None:
    with make_task('fetch_pick_place', seed=11) as task:
        unseeded = task.reset()
        seeded = task.reset(11)
    np.testing.assert_array_equal(unseeded.task_state, seeded.task_state)


def test_wrong_action_shape_or_nan_is_rejected(task) -> None:
    task.reset(0)
    with pytest.raises(ValueError, match='shape'):
        task.step(np.zeros(len(task.joint_names) + 1))
    with pytest.raises(ValueError, match='NaN'):
        task.step(np.full(len(task.joint_names), np.nan))


@pytest.mark.parametrize('name', sorted(TASKS))
def test_image_variant_renders_uint8_84x84_rgb(name: str) -> None:
    with make_task(name, image=True, seed=0) as task:
        assert task.camera_names
        obs = task.reset()
        step_obs = task.step(np.zeros(len(task.joint_names), np.float32)).observation
        for o in (obs, step_obs):
            assert sorted(o.images) == sorted(task.camera_names)
            for image in o.images.values():
                assert image.dtype == np.uint8 and image.shape == (84, 84, 3)
                assert image.std() > 5          # a scene, not a blank frame


def test_unknown_camera_or_task_is_a_value_error() -> None:
    with pytest.raises(ValueError, match='cameras'):
        make_task('fetch_pick_place', image=True, cameras=['nope'])
    with pytest.raises(ValueError, match='unknown task'):
        make_task('no_such_task')


def test_registry_lists_builtin_tasks_and_accepts_plugins() -> None:
    assert {'fetch_pick_place', 'adroit_relocate'} <= set(task_names())
    calls = []

    def factory(*, image: bool, seed: int | None, **kwargs):
        calls.append((image, seed, kwargs))
        return 'built'

    register_task('test_dummy_task', factory, replace=True)
    assert make_task('test_dummy_task', seed=3, size=2) == 'built'
    assert calls == [(False, 3, {'size': 2})]
    with pytest.raises(ValueError, match='already registered'):
        register_task('test_dummy_task', lambda **_: None)
