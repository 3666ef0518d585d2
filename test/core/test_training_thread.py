"""Background training pays owed updates while the caller keeps storing transitions under the lock."""
import time

import numpy as np
import torch

from residual_rl_ros.core.live_trainer import LiveTrainer
from residual_rl_ros.core.training_thread import BackgroundTrainer

from resfit_factory import small_recipe
from test_live_trainer import HoldPolicy, _demos, _stream

torch.set_num_threads(1)


def test_updates_happen_in_the_background(tmp_path) -> None:
    rng = np.random.default_rng(0)
    core = LiveTrainer.create(tmp_path, _demos(rng), HoldPolicy(), small_recipe(batch_size=4), [], 20, 2)
    worker = BackgroundTrainer(core)
    worker.start()
    try:
        with worker.lock:
            _stream(core, rng, 10)
        deadline = time.monotonic() + 20.0
        while time.monotonic() < deadline:
            with worker.lock:
                if core.owed_env_steps == 0:
                    break
            time.sleep(0.01)
        with worker.lock:
            assert core.owed_env_steps == 0 and core.learner.counters['critic_updates'] > 0
    finally:
        worker.stop()
    assert not worker.alive and worker.error is None
