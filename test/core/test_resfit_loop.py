"""ResFiT loop pieces on a tiny 1-D task: demo relabelling, terminated vs truncated storage, warm-up, resume."""
from __future__ import annotations

import numpy as np
import pytest
import torch

from residual_rl_ros.core.chunking import ChunkExecutor
from residual_rl_ros.core.normalizers import ActionNormalizer
from residual_rl_ros.core.recipe import LearnerRecipe, NetworkRecipe, ResidualRecipe
from residual_rl_ros.core.training.config import ResFiTRunConfig, apply_overrides, recipe_preset
from residual_rl_ros.core.training.loop import ResFiTRun
from residual_rl_ros.core.training.rollout import demo_transitions, execute, run_episode, zero_residual
from residual_rl_ros.core.types import Episode, Observation, StepResult

pytestmark = pytest.mark.core
torch.set_num_threads(1)
IDENTITY = ActionNormalizer(np.zeros(1), np.ones(1))


class LineTask:
    """A point on a line: x += 0.1 * a; success at x >= 0.5, failure at x <= -0.5, 12-step limit."""

    name, joint_names, camera_names = 'line', ['dx'], []
    action_low, action_high = np.array([-1.0], np.float32), np.array([1.0], np.float32)
    max_episode_steps, control_rate_hz = 12, 10.0

    def __init__(self) -> None:
        self.x = 0.0

    def _obs(self) -> Observation:
        return Observation(proprio=np.array([self.x], np.float32), task_state=np.array([0.5], np.float32))

    def reset(self, seed: int | None = None) -> Observation:
        self.x = float(np.random.default_rng(seed).uniform(-0.2, 0.2))
        return self._obs()

    def step(self, action: np.ndarray) -> StepResult:
        assert np.all(np.abs(action) <= 1.0)
        self.x += 0.1 * float(action[0])
        return StepResult(self._obs(), success=self.x >= 0.5, failure=self.x <= -0.5)

    def close(self) -> None:
        pass


class SlowBase:
    """Chunk of 2: pushes at half speed toward the goal, chunk rows differ so phases are visible."""

    chunk_length = 2

    def __init__(self, push: float = 0.3) -> None:
        self.push, self.queries = push, []

    def reset(self) -> None:
        pass

    def act(self, observation: Observation) -> np.ndarray:
        self.queries.append(float(observation.proprio[0]))
        return np.array([[self.push], [self.push + 0.1]], np.float32)


def _demo(rng: np.random.Generator, success: bool = True, steps: int = 6) -> Episode:
    x = np.cumsum(np.r_[rng.uniform(-0.2, 0.2), np.full(steps, 0.1)])
    return Episode(proprio=x[:, None].astype(np.float32), task_state=np.full((steps + 1, 1), 0.5, np.float32),
                   actions=np.ones((steps, 1), np.float32) * rng.uniform(0.8, 1.0), success=success)


def test_demo_relabelling_keeps_demo_action_and_labels_base_on_demo_observations():
    rng = np.random.default_rng(0)
    demo, base = _demo(rng), SlowBase()
    steps = demo_transitions(demo, ChunkExecutor(base), IDENTITY, max_episode_steps=12)
    assert len(steps) == 6
    np.testing.assert_allclose([t.action[0] for t in steps], demo.actions[:, 0])     # executed demo action
    assert [t.chunk_phase for t in steps] == [0, 1, 0, 1, 0, 1]
    np.testing.assert_allclose([t.base_action[0] for t in steps], [0.3, 0.4] * 3, atol=1e-6)
    np.testing.assert_allclose(base.queries, demo.proprio[[0, 2, 4, 6], 0])          # queried on demo obs
    assert [t.next_chunk_phase for t in steps] == [1, 0, 1, 0, 1, 0]
    for a, b in zip(steps, steps[1:]):
        np.testing.assert_array_equal(a.next_observation.proprio, b.observation.proprio)
    assert [t.reward for t in steps] == [0.0] * 5 + [1.0]
    assert [t.terminated for t in steps] == [False] * 5 + [True] and not any(t.truncated for t in steps)


@pytest.mark.parametrize('steps, terminated, truncated', [(6, True, False), (12, False, True)])
def test_unsuccessful_demo_is_a_failure_if_it_stopped_early_else_truncated(steps, terminated, truncated):
    demo = _demo(np.random.default_rng(1), success=False, steps=steps)
    last = demo_transitions(demo, ChunkExecutor(SlowBase()), IDENTITY, max_episode_steps=12)[-1]
    assert (last.reward, last.terminated, last.truncated) == (0.0, terminated, truncated)


@pytest.mark.parametrize('push, reward, terminated, truncated', [
    (0.9, 1.0, True, False),      # success terminates with reward 1
    (-0.9, 0.0, True, False),     # failure terminates with reward 0
    (0.0, 0.0, False, True),      # time limit truncates (the learner bootstraps)
])
def test_episode_end_is_stored_as_terminated_or_truncated(push, reward, terminated, truncated):
    stored = []
    result = run_episode(LineTask(), ChunkExecutor(SlowBase(push)), IDENTITY, zero_residual(1), seed=3,
                         on_transition=stored.append)
    last = stored[-1]
    assert (last.reward, last.terminated, last.truncated) == (reward, terminated, truncated)
    assert not any(t.terminated or t.truncated or t.reward for t in stored[:-1])
    assert result.steps == len(stored) and result.success == (reward == 1.0)
    assert truncated == (len(stored) == LineTask.max_episode_steps)


def test_stored_action_is_the_executed_clamped_action_not_base_plus_residual():
    normalizer = ActionNormalizer(np.zeros(1), np.full(1, 1.2))      # normalized +-1 = +-1.2 robot units
    command, stored = execute(normalizer, LineTask(), np.array([0.95], np.float32), np.array([0.2], np.float32))
    assert command[0] == pytest.approx(1.0)                         # clamp to 1, 1.2, then the task bound 1.0
    assert stored[0] == pytest.approx(1.0 / 1.2)                     # what ran, normalized again


def _recipe() -> ResidualRecipe:
    return ResidualRecipe(network=NetworkRecipe(actor_hidden_sizes=[16], critic_hidden_sizes=[16],
                                                num_critic_heads=2, action_scale=0.2),
                          learner=LearnerRecipe(batch_size=16, critic_warmup_updates=5, actor_lr=1e-3,
                                                critic_updates_per_env_step=1, actor_update_interval=2))


def _run(tmp_path, total: int, warmup: int = 30, **extra) -> ResFiTRun:
    rng = np.random.default_rng(0)
    config = ResFiTRunConfig(total_env_steps=total, warmup_env_steps=warmup, eval_interval_steps=0,
                             eval_episodes=3, checkpoint_interval_steps=0, **extra)
    return ResFiTRun(LineTask(), SlowBase(), [_demo(rng) for _ in range(3)], _recipe(), config, tmp_path,
                     printer=None)


def test_warmup_acts_with_uniform_noise_and_no_updates_then_a_critic_block(tmp_path):
    run = _run(tmp_path, total=1, warmup=40)
    while run.env_steps < 40:
        run.train_episode()
    online = run.buffers['online'].arrays
    size = len(run.buffers['online'])
    steps = online['is_step'][:size]
    residual = (online['action'][:size] - online['base_action'][:size])[steps, 0]
    assert run.learner.counters['critic_updates'] == 0 and run.env_steps == run.learner.counters['env_steps']
    assert np.all(np.abs(residual) <= 0.2 + 1e-6) and residual.std() > 0.05     # U(-0.2, 0.2), not zero
    run.train_episode()
    c = run.learner.counters
    assert c['critic_updates'] == 5 + (c['env_steps'] - 40)                        # block, then UTD 1
    assert c['actor_updates'] == c['critic_updates'] // 2 - 5 // 2                 # every 2nd after the block


def test_resume_continues_exactly_like_an_uninterrupted_run(tmp_path):
    straight = _run(tmp_path / 'a', total=120)
    straight.run()
    first = _run(tmp_path / 'b', total=60)
    first.run()
    config = apply_overrides(first.config, ['total_env_steps=120'])
    resumed = ResFiTRun.resume(tmp_path / 'b', LineTask(), SlowBase(), first.demos, config, printer=None)
    assert resumed.env_steps == first.env_steps and resumed.episodes == first.episodes
    resumed.run()
    assert resumed.env_steps == straight.env_steps and resumed.episodes == straight.episodes
    a, b = straight.learner.policy.state_dict(), resumed.learner.policy.state_dict()
    assert all(torch.equal(a[k], b[k]) for k in a)
    assert straight.learner.counters == resumed.learner.counters
    size = len(straight.buffers['online'])
    for name, array in straight.buffers['online'].arrays.items():
        np.testing.assert_array_equal(array[:size], resumed.buffers['online'].arrays[name][:size], err_msg=name)
    assert (tmp_path / 'b' / 'metrics.jsonl').read_text().count('\n') == len(resumed.history)


def test_presets_and_overrides_are_validated():
    assert recipe_preset('paper').network.num_critic_heads == 10
    recipe = apply_overrides(recipe_preset('cpu'), ['learner.actor_lr=3e-4', 'network.action_scale=0.3'])
    assert recipe.learner.actor_lr == 3e-4 and recipe.network.action_scale == 0.3
    assert apply_overrides(ResFiTRunConfig(), ['eval_at_start=False']).eval_at_start is False
    with pytest.raises(ValueError, match='preset'):
        recipe_preset('huge')
    with pytest.raises(ValueError, match='warmup_noise'):
        apply_overrides(ResFiTRunConfig(), ['warmup_noise=-1'])


def test_base_alone_is_measured_through_the_same_episode_code():
    from residual_rl_ros.core.training.pipeline import bounds_normalizer, evaluate_base
    normalizer = bounds_normalizer(LineTask())
    np.testing.assert_allclose(normalizer.denormalize(np.array([-1.0, 1.0])[:, None])[:, 0], [-1.0, 1.0])
    assert evaluate_base(LineTask(), SlowBase(0.9), episodes=4) == 1.0
    assert evaluate_base(LineTask(), SlowBase(-0.9), episodes=4) == 0.0
