"""Scripted experts as black-box base policies (Python entry points for `load_base_policy`).

    base_policy.policy: residual_rl_ros.sim.scripted_base:fetch_noisy_expert

Useful to bring up and test the graph without training a BC policy first. The noisy variant is an
imperfect base (seeded Gaussian action noise), which a residual can improve on.
"""
from __future__ import annotations

import numpy as np

from residual_rl_ros.core.types import Observation
from residual_rl_ros.sim.demonstrators import Demonstrator, FetchPickPlaceExpert

FETCH_LOW, FETCH_HIGH = -1.0, 1.0


class ScriptedBasePolicy:
    """A demonstrator that answers each query with a chunk (its action held for `chunk_length` steps)."""

    def __init__(self, expert: Demonstrator, chunk_length: int = 1, noise_std: float = 0.0, seed: int = 0,
                 low: float = FETCH_LOW, high: float = FETCH_HIGH) -> None:
        self.expert = expert
        self.chunk_length = int(chunk_length)
        self.noise_std = noise_std
        self.low, self.high = low, high
        self._rng = np.random.default_rng(seed)

    def reset(self) -> None:
        self.expert.reset()

    def act(self, observation: Observation) -> np.ndarray:
        action = np.asarray(self.expert.act(observation), np.float32)
        if self.noise_std:
            action = action + self._rng.normal(0.0, self.noise_std, size=action.shape).astype(np.float32)
        action = np.clip(action, self.low, self.high)
        return np.repeat(action[None], self.chunk_length, axis=0)


def fetch_expert(chunk_length: int = 1) -> ScriptedBasePolicy:
    """The clean Fetch pick-and-place expert."""
    return ScriptedBasePolicy(FetchPickPlaceExpert(), chunk_length)


def fetch_noisy_expert(chunk_length: int = 2, noise_std: float = 0.3, seed: int = 0) -> ScriptedBasePolicy:
    """The Fetch expert with Gaussian action noise (std 0.3: clearly imperfect) and 2-step chunks."""
    return ScriptedBasePolicy(FetchPickPlaceExpert(), chunk_length, noise_std, seed)
