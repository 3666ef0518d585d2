"""Execute a chunked base policy step by step: open-loop chunks, chunk phase, optional temporal ensembling.

Plain mode: the policy is queried at the first step and whenever `query_period` steps of the current
chunk have run (by default the whole chunk); the actions in between are executed open-loop.

Temporal ensembling (ACT, Zhao et al. 2023): the policy is queried every `query_period` steps (by
default every step) and each step executes the weighted mean of every stored chunk's prediction for
that step, with weights w_i = exp(-ensemble_decay * i), i = 0 for the oldest prediction.

The chunk phase returned with each action is the index of the executed step within the newest chunk
(0 right after a query), so a residual policy can condition on it.
"""
from __future__ import annotations

import collections
import dataclasses

import numpy as np

from residual_rl_ros.core.config_fields import param, validate
from residual_rl_ros.core.types import BasePolicy, Observation


@dataclasses.dataclass
class ChunkingConfig:
    """How base-policy chunks are executed."""

    query_period: int = param(0, 'steps executed from each chunk before the base policy is queried again; '
                                 '0 = the whole chunk (plain) or 1 (temporal ensembling)', low=0, high=10000)
    temporal_ensemble: bool = param(False, 'average the overlapping predictions of recent chunks (ACT)')
    ensemble_decay: float = param(0.01, 'ACT ensembling weight exp(-decay * i), i = 0 the oldest prediction; '
                                        '0 = plain mean', low=0.0, high=100.0)


class ChunkExecutor:
    """Turns a chunked BasePolicy into one action per control step.

    `step(observation)` returns `(base_action, chunk_phase, chunk_length)`; call `reset()` at every
    episode start (it also resets the wrapped policy).
    """

    def __init__(self, policy: BasePolicy, config: ChunkingConfig | None = None):
        self.policy = policy
        self.config = validate(config or ChunkingConfig())
        self.chunk_length = int(policy.chunk_length)
        if self.chunk_length < 1:
            raise ValueError(f'base policy chunk_length={self.chunk_length}, expected >= 1')
        default_period = 1 if self.config.temporal_ensemble else self.chunk_length
        self.query_period = self.config.query_period or default_period
        if self.query_period > self.chunk_length:
            raise ValueError(f'ChunkingConfig.query_period={self.query_period} is above the chunk length '
                             f'{self.chunk_length}')
        # (query step, chunk) pairs, oldest first; plain mode keeps only the newest.
        self._chunks: collections.deque[tuple[int, np.ndarray]] = collections.deque()
        self._step = 0
        self._phase = 0
        self.queries = 0

    def reset(self) -> None:
        """Forget all chunks and restart at step 0; resets the wrapped policy."""
        self.policy.reset()
        self._chunks.clear()
        self._step = 0
        self._phase = 0

    @property
    def needs_query(self) -> bool:
        """True when the next `step` will call the base policy."""
        return not self._chunks or self._phase >= self.query_period

    def step(self, observation: Observation) -> tuple[np.ndarray, int, int]:
        """The base action for this control step, its chunk phase and the chunk length."""
        if self.needs_query:
            chunk = np.array(self.policy.act(observation), dtype=np.float32)
            if chunk.ndim != 2 or chunk.shape[0] != self.chunk_length:
                raise ValueError(f'base policy returned a chunk of shape {chunk.shape}, expected '
                                 f'({self.chunk_length}, A)')
            if not self.config.temporal_ensemble:
                self._chunks.clear()
            self._chunks.append((self._step, chunk))
            self._phase = 0
            self.queries += 1
        # Drop chunks that no longer cover the current step.
        while self._step - self._chunks[0][0] >= self.chunk_length:
            self._chunks.popleft()
        if self.config.temporal_ensemble:
            action = self._ensemble()
        else:
            start, chunk = self._chunks[-1]
            action = chunk[self._step - start].copy()
        phase = self._phase
        self._phase += 1
        self._step += 1
        return action, phase, self.chunk_length

    def _ensemble(self) -> np.ndarray:
        predictions = np.stack([chunk[self._step - start] for start, chunk in self._chunks])
        weights = np.exp(-self.config.ensemble_decay * np.arange(len(predictions), dtype=np.float64))
        weights /= weights.sum()
        return (weights[:, None] * predictions).sum(axis=0).astype(np.float32)
