"""The trainer node's core: warm-up, owed UTD updates, episode log, checkpoint and exact resume."""
import json

import numpy as np
import pytest
import torch

from residual_rl_ros.core.live_trainer import STATE_TRAINING, STATE_WARMUP, LiveTrainer
from residual_rl_ros.core.types import Episode, Observation

from resfit_factory import small_recipe

torch.set_num_threads(1)
PROPRIO, TASK, ACTIONS = 3, 2, 2


class HoldPolicy:
    """A black-box base policy: always the same 2-step chunk."""

    chunk_length = 2

    def reset(self) -> None:
        pass

    def act(self, observation: Observation) -> np.ndarray:
        return np.tile(np.clip(observation.proprio[:ACTIONS], -1, 1), (2, 1)).astype(np.float32)


def _demos(rng: np.random.Generator, count: int = 3, length: int = 8) -> list[Episode]:
    return [Episode(proprio=rng.normal(size=(length + 1, PROPRIO)).astype(np.float32),
                    task_state=rng.normal(size=(length + 1, TASK)).astype(np.float32),
                    actions=rng.uniform(-1, 1, (length, ACTIONS)).astype(np.float32), success=True)
            for _ in range(count)]


def _stream(trainer: LiveTrainer, rng: np.random.Generator, steps: int) -> None:
    """Feed `steps` transitions built from demo-like data, as the assembler would."""
    from residual_rl_ros.core.types import Transition
    for t in range(steps):
        obs = Observation(rng.normal(size=PROPRIO).astype(np.float32), rng.normal(size=TASK).astype(np.float32))
        nxt = Observation(rng.normal(size=PROPRIO).astype(np.float32), rng.normal(size=TASK).astype(np.float32))
        last = t == steps - 1
        residual = rng.uniform(-1, 1, ACTIONS).astype(np.float32)
        trainer.add(Transition(obs, np.zeros(ACTIONS, np.float32), t % 2, residual,
                               float(last), nxt, np.zeros(ACTIONS, np.float32), (t + 1) % 2, last, False))
    trainer.end_episode(episode_id=1, success=True)


def test_warmup_then_updates_then_resume_continues_exactly(tmp_path) -> None:
    rng = np.random.default_rng(0)
    demos = _demos(rng)
    recipe = small_recipe(batch_size=4, critic_warmup_updates=2)
    trainer = LiveTrainer.create(tmp_path, demos, HoldPolicy(), recipe, [], max_episode_steps=20, warmup_env_steps=5)
    assert trainer.state == STATE_WARMUP
    _stream(trainer, rng, 12)
    assert trainer.env_steps == 12 and trainer.owed_env_steps == 7
    assert trainer.train_for(10.0) == 7 and trainer.owed_env_steps == 0
    assert trainer.state == STATE_TRAINING and trainer.learner.counters['actor_updates'] > 0
    assert json.loads((tmp_path / 'episodes.jsonl').read_text().splitlines()[0])['success'] is True
    trainer.checkpoint()
    resumed = LiveTrainer.create(tmp_path, demos, HoldPolicy(), recipe, [], max_episode_steps=20, warmup_env_steps=5)
    assert resumed.env_steps == 12 and len(resumed.buffers['online']) == len(trainer.buffers['online'])
    assert resumed.learner.counters == trainer.learner.counters
    for (name, a), b in zip(trainer.learner.policy.state_dict().items(), resumed.learner.policy.state_dict().values()):
        assert torch.equal(a, b), name
    assert (tmp_path / 'actor_latest.safetensors').exists()


def test_resume_from_a_corrupt_checkpoint_names_the_file(tmp_path) -> None:
    rng = np.random.default_rng(1)
    trainer = LiveTrainer.create(tmp_path, _demos(rng), HoldPolicy(), small_recipe(), [], 20, 0)
    trainer.checkpoint()
    (tmp_path / 'checkpoint' / 'learner.safetensors').write_bytes(b'garbage')
    with pytest.raises(ValueError, match='learner.safetensors'):
        LiveTrainer.create(tmp_path, _demos(rng), HoldPolicy(), small_recipe(), [], 20, 0)


def test_interventions_are_stored_with_their_flag_and_sampled_at_the_configured_ratio(tmp_path) -> None:
    import dataclasses

    from residual_rl_ros.core.live_trainer import STATE_PAUSED
    from residual_rl_ros.core.recipe import ReplayRecipe
    from residual_rl_ros.core.types import Transition
    rng = np.random.default_rng(2)
    recipe = dataclasses.replace(small_recipe(batch_size=8), replay=ReplayRecipe(demo_fraction=0.5,
                                                                                  intervention_fraction=0.25))
    trainer = LiveTrainer.create(tmp_path, _demos(rng), HoldPolicy(), recipe, [], 20, warmup_env_steps=0)
    _stream(trainer, rng, 4)                      # no intervention yet: training must not wait for one
    assert trainer.train_for(10.0) == 4
    for t in range(6):
        obs, nxt = (Observation(rng.normal(size=PROPRIO).astype(np.float32), rng.normal(size=TASK).astype(np.float32))
                    for _ in range(2))
        trainer.add(Transition(obs, np.zeros(ACTIONS, np.float32), 0, np.full(ACTIONS, 0.5, np.float32), 0.0, nxt,
                               np.zeros(ACTIONS, np.float32), 1, False, False, intervention=True))
    trainer.end_episode(2, success=None)
    assert len(trainer.buffers['intervention']) > 0 and trainer.buffers['intervention'].arrays['intervention'].any()
    batch = trainer.sampler.sample(8, rng)
    assert int(batch.intervention.sum()) == 2       # 8 * 0.25, drawn from the intervention buffer only
    trainer.paused = True
    assert trainer.state == STATE_PAUSED and trainer.train_for(1.0) == 0 and trainer.owed_env_steps > 0
    trainer.paused = False
    assert trainer.train_for(10.0) > 0


def test_evaluation_episodes_are_logged_apart_and_paused_steps_owe_nothing(tmp_path) -> None:
    rng = np.random.default_rng(3)
    trainer = LiveTrainer.create(tmp_path, _demos(rng), HoldPolicy(), small_recipe(batch_size=4), [], 20,
                                 warmup_env_steps=0)
    _stream(trainer, rng, 3)                                  # a training episode: success
    trainer.end_episode(2, success=False, evaluation=True)    # an evaluation episode: failure
    assert trainer.success_rate == 1.0 and trainer.eval_success_rate == 0.0
    logged = [json.loads(line) for line in (tmp_path / 'episodes.jsonl').read_text().splitlines()]
    assert [e['evaluation'] for e in logged] == [False, True]
    owed = trainer.owed_env_steps
    trainer.paused = True
    _stream(trainer, rng, 5)
    assert trainer.owed_env_steps == owed and trainer.env_steps == 8   # stored, but no debt a waiter could stall on
    trainer.checkpoint()
    resumed = LiveTrainer.create(tmp_path, _demos(rng), HoldPolicy(), small_recipe(batch_size=4), [], 20, 0)
    assert resumed.eval_success_rate == 0.0 and list(resumed.eval_recent) == [False]


def test_add_many_stores_and_owes_exactly_what_add_does(tmp_path) -> None:
    from residual_rl_ros.core.types import Transition
    rng = np.random.default_rng(4)
    demos = _demos(rng)
    one, many = (LiveTrainer.create(tmp_path / name, demos, HoldPolicy(), small_recipe(batch_size=4), [], 20,
                                    warmup_env_steps=3) for name in ('one', 'many'))
    frames = [Observation(rng.normal(size=PROPRIO).astype(np.float32), rng.normal(size=TASK).astype(np.float32))
              for _ in range(7)]
    steps = [Transition(frames[t], np.zeros(ACTIONS, np.float32), t % 2, rng.uniform(-1, 1, ACTIONS).astype(np.float32),
                        float(t == 5), frames[t + 1], np.zeros(ACTIONS, np.float32), (t + 1) % 2, t == 5, False,
                        intervention=t == 2, source=(1, t, 100 + t)) for t in range(6)]
    for t in steps[:2]:
        one.add(t)
        many.add(t)
    assert [one.add(t) for t in steps] == [False, False, True, True, True, True]
    assert many.add_many(steps) == steps[2:]
    assert (one.stored, one.owed_env_steps, one.learner.counters) == (many.stored, many.owed_env_steps,
                                                                      many.learner.counters)
    for name in ('online', 'intervention'):
        a, b = one.buffers[name], many.buffers[name]
        assert len(a) == len(b) and all(np.array_equal(a.arrays[k], b.arrays[k]) for k in a.arrays), name
