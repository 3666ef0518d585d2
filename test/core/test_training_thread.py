"""Background learning: submitted transitions are stored in order, owed updates are paid, episodes end."""
import time

import numpy as np
import torch

from residual_rl_ros.core.live_trainer import LiveTrainer
from residual_rl_ros.core.training_thread import BackgroundTrainer
from residual_rl_ros.core.types import Observation, Transition

from resfit_factory import small_recipe
from test_live_trainer import ACTIONS, PROPRIO, TASK, HoldPolicy, _demos

torch.set_num_threads(1)


def _transition(rng: np.random.Generator, t: int, last: bool) -> Transition:
    obs = Observation(rng.normal(size=PROPRIO).astype(np.float32), rng.normal(size=TASK).astype(np.float32))
    nxt = Observation(rng.normal(size=PROPRIO).astype(np.float32), rng.normal(size=TASK).astype(np.float32))
    return Transition(obs, np.zeros(ACTIONS, np.float32), t % 2, rng.uniform(-1, 1, ACTIONS).astype(np.float32),
                      float(last), nxt, np.zeros(ACTIONS, np.float32), (t + 1) % 2, last, False)


def test_submitted_steps_are_stored_and_trained_in_the_background(tmp_path) -> None:
    rng = np.random.default_rng(0)
    core = LiveTrainer.create(tmp_path, _demos(rng), HoldPolicy(), small_recipe(batch_size=4), [], 20, 2)
    ended = []
    worker = BackgroundTrainer(
        core, on_episode_end=lambda episode, success, evaluation: ended.append((episode, core.env_steps)))
    worker.start()
    try:
        for t in range(10):
            worker.submit(_transition(rng, t, last=t == 9))
        worker.submit_episode_end(7, True)
        deadline = time.monotonic() + 30.0
        while time.monotonic() < deadline:
            with worker.locked() as trainer:
                if trainer.owed_env_steps == 0 and ended:
                    break
            time.sleep(0.01)
        with worker.locked() as trainer:
            assert trainer.env_steps == 10 and trainer.owed_env_steps == 0
            assert trainer.learner.counters['critic_updates'] > 0
    finally:
        worker.stop()
    assert ended == [(7, 10)]            # the episode ended after all of its steps were stored
    assert not worker.alive and worker.error is None and worker.pending == 0
