"""Action and state normalizers fitted on demonstrations.

Actions map min-max to [-1, 1] with the demo range widened by (1 + action_scale), so that base + residual
can leave the demo range a little and still be representable. States are standardized with a std floor.
Statistics are float64 arrays; `state_dict()` gives plain arrays that safetensors stores as they are.
"""
from __future__ import annotations

from typing import Mapping

import numpy as np


def _as_2d(values: np.ndarray, name: str) -> np.ndarray:
    array = np.asarray(values, dtype=np.float64)
    if array.ndim != 2 or array.shape[0] == 0:
        raise ValueError(f'{name} must be a non-empty (N, D) array, got shape {array.shape}')
    if not np.all(np.isfinite(array)):
        raise ValueError(f'{name} contains NaN or infinite values')
    return array


def _load(state: Mapping[str, np.ndarray], keys: tuple[str, ...], owner: str) -> list[np.ndarray]:
    missing = [k for k in keys if k not in state]
    if missing:
        raise ValueError(f'{owner} state is missing {missing}')
    arrays = [np.asarray(state[k], dtype=np.float64) for k in keys]
    if any(a.ndim != 1 or a.shape != arrays[0].shape for a in arrays):
        raise ValueError(f'{owner} state arrays must be 1-D of equal length, got '
                         f'{[a.shape for a in arrays]}')
    return arrays


class ActionNormalizer:
    """Robot-unit actions <-> [-1, 1], per dimension: a = center + half_range * a_norm."""

    def __init__(self, center: np.ndarray, half_range: np.ndarray) -> None:
        self.center, self.half_range = _load({'center': center, 'half_range': half_range},
                                             ('center', 'half_range'), 'ActionNormalizer')
        if np.any(self.half_range <= 0):
            raise ValueError(f'ActionNormalizer half_range must be > 0, got {self.half_range}')

    @classmethod
    def fit(cls, actions: np.ndarray, action_scale: float, min_range: float = 0.1) -> 'ActionNormalizer':
        """Fit on (N, A) demo actions; ranges below `min_range` are widened to it around their middle."""
        actions = _as_2d(actions, 'actions')
        low, high = actions.min(axis=0), actions.max(axis=0)
        span = np.maximum(high - low, min_range)
        return cls((low + high) / 2.0, span / 2.0 * (1.0 + action_scale))

    @property
    def dim(self) -> int:
        return int(self.center.shape[0])

    def normalize(self, action: np.ndarray) -> np.ndarray:
        """Robot units -> normalized units (not clipped), same shape, float64."""
        return (np.asarray(action, np.float64) - self.center) / self.half_range

    def denormalize(self, action_norm: np.ndarray) -> np.ndarray:
        """Normalized units -> robot units, float64."""
        return np.asarray(action_norm, np.float64) * self.half_range + self.center

    def state_dict(self) -> dict[str, np.ndarray]:
        return {'center': self.center.copy(), 'half_range': self.half_range.copy()}

    @classmethod
    def from_state_dict(cls, state: Mapping[str, np.ndarray]) -> 'ActionNormalizer':
        return cls(*_load(state, ('center', 'half_range'), 'ActionNormalizer'))

    def load_state_dict(self, state: Mapping[str, np.ndarray]) -> None:
        other = self.from_state_dict(state)
        self.center, self.half_range = other.center, other.half_range


class StateNormalizer:
    """Standardizes proprio + task state vectors: (x - mean) / max(std, min_std)."""

    def __init__(self, mean: np.ndarray, std: np.ndarray) -> None:
        self.mean, self.std = _load({'mean': mean, 'std': std}, ('mean', 'std'), 'StateNormalizer')
        if np.any(self.std <= 0):
            raise ValueError(f'StateNormalizer std must be > 0, got {self.std}')

    @classmethod
    def fit(cls, states: np.ndarray, min_std: float = 0.1) -> 'StateNormalizer':
        """Fit on (N, S) states; S may be 0 (an empty state normalizes to an empty vector)."""
        states = np.asarray(states, dtype=np.float64)
        if states.ndim != 2 or states.shape[0] == 0:
            raise ValueError(f'states must be a non-empty (N, S) array, got shape {states.shape}')
        if not np.all(np.isfinite(states)):
            raise ValueError('states contains NaN or infinite values')
        return cls(states.mean(axis=0), np.maximum(states.std(axis=0), min_std))

    @property
    def dim(self) -> int:
        return int(self.mean.shape[0])

    def normalize(self, state: np.ndarray) -> np.ndarray:
        return (np.asarray(state, np.float64) - self.mean) / self.std

    def denormalize(self, state_norm: np.ndarray) -> np.ndarray:
        return np.asarray(state_norm, np.float64) * self.std + self.mean

    def state_dict(self) -> dict[str, np.ndarray]:
        return {'mean': self.mean.copy(), 'std': self.std.copy()}

    @classmethod
    def from_state_dict(cls, state: Mapping[str, np.ndarray]) -> 'StateNormalizer':
        return cls(*_load(state, ('mean', 'std'), 'StateNormalizer'))

    def load_state_dict(self, state: Mapping[str, np.ndarray]) -> None:
        other = self.from_state_dict(state)
        self.mean, self.std = other.mean, other.std


def identity_normalizers(state_dim: int, action_dim: int) -> tuple[StateNormalizer, ActionNormalizer]:
    """Normalizers that change nothing, for tests and for data that is already normalized."""
    return (StateNormalizer(np.zeros(state_dim), np.ones(state_dim)),
            ActionNormalizer(np.zeros(action_dim), np.ones(action_dim)))
