"""ChunkExecutor: open-loop chunks, chunk phase, re-query, reset, ACT temporal ensembling."""
from __future__ import annotations

import numpy as np
import pytest

from residual_rl_ros.core.chunking import ChunkExecutor, ChunkingConfig
from residual_rl_ros.core.types import Observation

pytestmark = pytest.mark.core

OBS = Observation(np.zeros(2, np.float32), np.zeros(0, np.float32))


class ScriptedPolicy:
    """Query q (0-based) returns chunk[j] = [100 q + j, -(100 q + j)], so every action names its source."""

    def __init__(self, chunk_length: int):
        self.chunk_length = chunk_length
        self.queries = 0
        self.resets = 0

    def reset(self) -> None:
        self.queries = 0
        self.resets += 1

    def act(self, observation: Observation) -> np.ndarray:
        values = 100.0 * self.queries + np.arange(self.chunk_length)
        self.queries += 1
        return np.stack([values, -values], axis=1).astype(np.float32)


def _run(executor: ChunkExecutor, steps: int) -> tuple[np.ndarray, list[int], list[int]]:
    actions, phases, lengths = [], [], []
    for _ in range(steps):
        action, phase, length = executor.step(OBS)
        actions.append(action)
        phases.append(phase)
        lengths.append(length)
    return np.array(actions), phases, lengths


def test_open_loop_chunks_and_phase_sequence() -> None:
    policy = ScriptedPolicy(chunk_length=4)
    executor = ChunkExecutor(policy)
    actions, phases, lengths = _run(executor, 10)
    assert phases == [0, 1, 2, 3, 0, 1, 2, 3, 0, 1]
    assert lengths == [4] * 10
    assert policy.queries == 3                                  # re-queried at steps 0, 4, 8
    np.testing.assert_array_equal(actions[:, 0], [0, 1, 2, 3, 100, 101, 102, 103, 200, 201])
    np.testing.assert_array_equal(actions[:, 1], -actions[:, 0])


def test_query_period_shorter_than_chunk() -> None:
    policy = ScriptedPolicy(chunk_length=4)
    executor = ChunkExecutor(policy, ChunkingConfig(query_period=2))
    actions, phases, _ = _run(executor, 6)
    assert phases == [0, 1, 0, 1, 0, 1]
    np.testing.assert_array_equal(actions[:, 0], [0, 1, 100, 101, 200, 201])


def test_needs_query_and_reset_restart_the_chunk() -> None:
    policy = ScriptedPolicy(chunk_length=3)
    executor = ChunkExecutor(policy)
    assert executor.needs_query
    _run(executor, 2)
    assert not executor.needs_query
    executor.reset()
    assert policy.resets == 1 and executor.needs_query
    actions, phases, _ = _run(executor, 4)
    assert phases == [0, 1, 2, 0]
    np.testing.assert_array_equal(actions[:, 0], [0, 1, 2, 100])   # the policy's own reset restarted q


def test_temporal_ensembling_matches_act_weights() -> None:
    k, decay = 3, 0.5
    policy = ScriptedPolicy(chunk_length=k)
    executor = ChunkExecutor(policy, ChunkingConfig(temporal_ensemble=True, ensemble_decay=decay))
    actions, phases, lengths = _run(executor, 6)
    assert policy.queries == 6 and phases == [0] * 6 and lengths == [k] * 6
    for t in range(6):
        # Queries q = t-k+1 .. t (oldest first) predict 100 q + (t - q) for step t; w_i = exp(-decay i).
        queries = np.arange(max(0, t - k + 1), t + 1)
        predictions = 100.0 * queries + (t - queries)
        weights = np.exp(-decay * np.arange(len(queries)))
        expected = (weights * predictions).sum() / weights.sum()
        assert actions[t, 0] == pytest.approx(expected, rel=1e-6)
        assert actions[t, 1] == pytest.approx(-expected, rel=1e-6)


def test_temporal_ensembling_with_query_period() -> None:
    policy = ScriptedPolicy(chunk_length=4)
    executor = ChunkExecutor(policy, ChunkingConfig(temporal_ensemble=True, ensemble_decay=0.0, query_period=2))
    actions, phases, _ = _run(executor, 4)
    assert phases == [0, 1, 0, 1]
    # Step 2 and 3: chunks from queries at steps 0 and 2 overlap; decay 0 is a plain mean.
    np.testing.assert_allclose(actions[:, 0], [0, 1, (2 + 100) / 2, (3 + 101) / 2])


def test_bad_configs_and_chunks_raise() -> None:
    with pytest.raises(ValueError, match='query_period=5 is above the chunk length 4'):
        ChunkExecutor(ScriptedPolicy(4), ChunkingConfig(query_period=5))
    with pytest.raises(ValueError, match='ensemble_decay'):
        ChunkExecutor(ScriptedPolicy(4), ChunkingConfig(ensemble_decay=-1.0))
    policy = ScriptedPolicy(4)
    policy.act = lambda observation: np.zeros((3, 2), np.float32)   # type: ignore[method-assign]
    with pytest.raises(ValueError, match=r'chunk of shape \(3, 2\), expected \(4, A\)'):
        ChunkExecutor(policy).step(OBS)
