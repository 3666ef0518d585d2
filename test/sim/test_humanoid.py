"""GR-1 humanoid cube lift: Task protocol, shapes, seeding, images, and the scripted expert.

Building the robosuite environment takes 10-20 s, so the state variant is shared by the module and
the image variant is built once, by its own test.
"""
from __future__ import annotations

import numpy as np
import pytest

pytest.importorskip('robosuite')

from residual_rl_ros.core.types import Observation, StepResult, Task
from residual_rl_ros.sim.collect_demos import run_episode
from residual_rl_ros.sim.humanoid import HumanoidLiftTask, make_humanoid_task
from residual_rl_ros.sim.humanoid_demo import GR1LiftExpert, collect_humanoid_demos

pytestmark = pytest.mark.core

PROPRIO_DIM, TASK_STATE_DIM, ACTION_DIM = 32, 10, 12


@pytest.fixture(scope='module')
def task() -> HumanoidLiftTask:
    task = make_humanoid_task(image=False, seed=0)
    yield task
    task.close()


def _rollout(task: HumanoidLiftTask, seed: int, actions: np.ndarray) -> list[Observation]:
    observations = [task.reset(seed)]
    for action in actions:
        observations.append(task.step(action).observation)
    return observations


def test_satisfies_task_protocol(task: HumanoidLiftTask) -> None:
    assert isinstance(task, Task)
    assert task.name == 'humanoid_gr1'
    assert len(task.joint_names) == ACTION_DIM == task.action_low.shape[0] == task.action_high.shape[0]
    assert task.joint_names[0] == 'right_arm_osc_dx' and task.joint_names[-1] == 'right_hand_thumb_rotation'
    assert np.all(task.action_low < task.action_high)
    np.testing.assert_allclose(task.action_high[:3], 0.05)     # OSC position delta limit, metres
    assert task.control_rate_hz == 20.0 and task.max_episode_steps > 0
    assert task.camera_names == []


def test_observation_and_step_shapes(task: HumanoidLiftTask) -> None:
    obs = task.reset(0)
    assert obs.proprio.shape == (PROPRIO_DIM,) and obs.proprio.dtype == np.float32
    assert obs.task_state.shape == (TASK_STATE_DIM,) and obs.task_state.dtype == np.float32
    assert dict(obs.images) == {}
    result = task.step(np.zeros(ACTION_DIM, np.float32))
    assert isinstance(result, StepResult) and not result.success and not result.failure
    assert result.observation.proprio.shape == (PROPRIO_DIM,)
    assert task.steps == 1


def test_rejects_malformed_actions(task: HumanoidLiftTask) -> None:
    task.reset(0)
    with pytest.raises(ValueError):
        task.step(np.zeros(ACTION_DIM + 1))
    with pytest.raises(ValueError):
        task.step(np.full(ACTION_DIM, np.nan))


def test_same_seed_same_episode_other_seed_other_cube(task: HumanoidLiftTask) -> None:
    actions = np.random.default_rng(1).uniform(task.action_low, task.action_high, (5, ACTION_DIM))
    first, second = _rollout(task, 3, actions), _rollout(task, 3, actions)
    for a, b in zip(first, second):
        np.testing.assert_array_equal(a.proprio, b.proprio)
        np.testing.assert_array_equal(a.task_state, b.task_state)
    other = task.reset(4)
    assert np.linalg.norm(other.task_state[:3] - first[0].task_state[:3]) > 1e-3


def test_expert_lifts_the_cube_without_noise(task: HumanoidLiftTask) -> None:
    episodes = collect_humanoid_demos(task, 2, seed=0, noise_std=0.0)
    if not all(e.success for e in episodes):                  # ">= 2 of 3 seeds"
        episodes += collect_humanoid_demos(task, 1, seed=2, noise_std=0.0)
    assert sum(e.success for e in episodes) >= 2
    assert all(len(e.actions) < task.max_episode_steps for e in episodes if e.success)
    for e in episodes:
        assert e.actions.shape == (len(e.proprio) - 1, ACTION_DIM)
        assert np.all(e.actions >= task.action_low) and np.all(e.actions <= task.action_high)


def test_image_variant_renders_the_head_camera() -> None:
    with make_humanoid_task(image=True, seed=0, image_size=32) as task:
        assert task.camera_names == ['head']
        first = task.reset(5).images['head']
        assert first.shape == (32, 32, 3) and first.dtype == np.uint8 and first.std() > 0
        moved = task.step(np.r_[0.05, 0.0, 0.0, np.zeros(3), np.ones(6)]).observation.images['head']
        assert moved.shape == first.shape
        np.testing.assert_array_equal(task.reset(5).images['head'], first)


def test_noisy_demos_store_executed_clipped_actions(task: HumanoidLiftTask) -> None:
    expert = GR1LiftExpert(task)
    expert.reset()
    clean = expert.act(task.reset(0))
    episode = run_episode(task, expert, 0, 5.0, np.random.default_rng(0), max_steps=3)
    assert episode.actions.shape == (3, ACTION_DIM)
    assert np.any(episode.actions[0] != clean)                # noise reached the stored actions
    assert np.any(episode.actions == task.action_high) and np.any(episode.actions == task.action_low)


def test_registered_as_humanoid_gr1() -> None:
    from residual_rl_ros.sim.registry import task_names

    assert 'humanoid_gr1' in task_names()
