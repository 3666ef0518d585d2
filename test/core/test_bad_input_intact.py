"""A corrupt checkpoint stops the trainer with the file's name and touches nothing: every file of the run
(checkpoint, replay, episode log) is byte-identical afterwards, so nothing recorded is lost."""
import hashlib
from pathlib import Path

import numpy as np
import pytest

from residual_rl_ros.core.live_trainer import LiveTrainer
from resfit_factory import small_recipe
from test_live_trainer import HoldPolicy, _demos, _stream


def _digests(run_dir: Path) -> dict[str, str]:
    return {str(p.relative_to(run_dir)): hashlib.sha256(p.read_bytes()).hexdigest()
            for p in sorted(run_dir.rglob('*')) if p.is_file()}


@pytest.mark.parametrize('victim, damage', [('learner.safetensors', b'garbage'), ('online.npz', b'PK\x03\x04 cut'),
                                            ('live_state.json', b'{"stored": ')])
def test_corrupt_checkpoint_is_named_and_the_run_is_left_intact(tmp_path, victim, damage) -> None:
    rng = np.random.default_rng(0)
    trainer = LiveTrainer.create(tmp_path, _demos(rng), HoldPolicy(), small_recipe(), [], 20, 0)
    _stream(trainer, rng, 12)
    trainer.checkpoint()
    (tmp_path / 'checkpoint' / victim).write_bytes(damage)
    before = _digests(tmp_path)
    with pytest.raises(ValueError, match=victim.replace('.', r'\.')):
        LiveTrainer.create(tmp_path, _demos(rng), HoldPolicy(), small_recipe(), [], 20, 0)
    assert _digests(tmp_path) == before
