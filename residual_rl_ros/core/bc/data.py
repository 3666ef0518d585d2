"""Turn episodes into (observation, chunk of K future executed actions) training samples."""
from __future__ import annotations

import dataclasses
from typing import Sequence

import numpy as np

from residual_rl_ros.core.types import Episode


@dataclasses.dataclass
class ChunkDataset:
    """One sample per executed step t: the observation at t and actions t .. t+K-1.

    Chunks that run past the episode end are padded with the last action and masked out (`valid`),
    so the loss never asks the network to predict past the end of a demonstration.
    """

    proprio: np.ndarray              # (N, P) float32
    task_state: np.ndarray           # (N, S) float32
    actions: np.ndarray              # (N, K, A) float32, robot units
    valid: np.ndarray                # (N, K) bool, False where padded
    images: np.ndarray | None        # (N, C, H, W, 3) uint8, cameras in `camera_names` order
    camera_names: list[str]

    def __len__(self) -> int:
        return len(self.proprio)

    @property
    def chunk_length(self) -> int:
        return self.actions.shape[1]


def build_chunk_dataset(episodes: Sequence[Episode], chunk_length: int) -> ChunkDataset:
    """Samples from every step of every episode; raises ValueError on empty or inconsistent episodes."""
    if not episodes:
        raise ValueError('no episodes to train on')
    if chunk_length < 1:
        raise ValueError(f'chunk_length={chunk_length}, expected >= 1')
    first = episodes[0]
    dims = (np.shape(first.proprio)[1], np.shape(first.task_state)[1], np.shape(first.actions)[1])
    camera_names = sorted(first.images)
    proprio, task_state, actions, valid, images = [], [], [], [], []
    for i, ep in enumerate(episodes):
        ep_dims = (np.shape(ep.proprio)[1], np.shape(ep.task_state)[1], np.shape(ep.actions)[1])
        if ep_dims != dims:
            raise ValueError(f'episode {i} has (proprio, task_state, action) dims {ep_dims}, '
                             f'episode 0 has {dims}')
        if sorted(ep.images) != camera_names:
            raise ValueError(f'episode {i} has cameras {sorted(ep.images)}, episode 0 has {camera_names}')
        steps = len(ep.actions)
        if steps == 0:
            continue
        if len(ep.proprio) != steps + 1 or len(ep.task_state) != steps + 1:
            raise ValueError(f'episode {i}: proprio/task_state need T+1={steps + 1} rows, actions T={steps}')
        index = np.arange(steps)[:, None] + np.arange(chunk_length)[None, :]      # (T, K)
        valid.append(index < steps)
        actions.append(np.asarray(ep.actions, np.float32)[np.minimum(index, steps - 1)])
        proprio.append(np.asarray(ep.proprio[:steps], np.float32))
        task_state.append(np.asarray(ep.task_state[:steps], np.float32))
        if camera_names:
            images.append(np.stack([np.asarray(ep.images[c][:steps], np.uint8) for c in camera_names], axis=1))
    if not actions:
        raise ValueError('all episodes are empty')
    return ChunkDataset(proprio=np.concatenate(proprio), task_state=np.concatenate(task_state),
                        actions=np.concatenate(actions), valid=np.concatenate(valid),
                        images=np.concatenate(images) if images else None, camera_names=camera_names)


def mean_std(values: np.ndarray, min_std: float) -> tuple[np.ndarray, np.ndarray]:
    """Per-dimension mean and std over the leading axis; std below `min_std` becomes 1 (no scaling)."""
    values = values.reshape(-1, values.shape[-1]).astype(np.float64)
    if len(values) == 0:
        return np.zeros(values.shape[-1], np.float32), np.ones(values.shape[-1], np.float32)
    mean, std = values.mean(axis=0), values.std(axis=0)
    std = np.where(std < max(min_std, 1e-12), 1.0, std)
    return mean.astype(np.float32), std.astype(np.float32)
