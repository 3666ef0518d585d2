"""Save and load recorded episodes (demonstrations, rollouts) as compressed .npz, never pickle."""
from __future__ import annotations

import os
import zipfile
from typing import Sequence

import numpy as np

from residual_rl_ros.core.atomic import atomic_file
from residual_rl_ros.core.types import Episode

_FORMAT_VERSION = 1


def save_episodes(path: str | os.PathLike, episodes: Sequence[Episode]) -> None:
    """Write episodes to `path` atomically (temp file + rename)."""
    arrays: dict[str, np.ndarray] = {'format_version': np.array(_FORMAT_VERSION),
                                     'count': np.array(len(episodes))}
    for i, ep in enumerate(episodes):
        arrays[f'{i}/proprio'] = np.asarray(ep.proprio, np.float32)
        arrays[f'{i}/task_state'] = np.asarray(ep.task_state, np.float32)
        arrays[f'{i}/actions'] = np.asarray(ep.actions, np.float32)
        arrays[f'{i}/success'] = np.array(bool(ep.success))
        for camera, frames in ep.images.items():
            arrays[f'{i}/images/{camera}'] = np.asarray(frames, np.uint8)
    with atomic_file(path) as f:
        np.savez_compressed(f, **arrays)


def load_episodes(path: str | os.PathLike) -> list[Episode]:
    """Read episodes written by `save_episodes`; raise ValueError naming the file when it is bad."""
    try:
        with np.load(path, allow_pickle=False) as data:
            files = set(data.files)
            if int(data['format_version']) != _FORMAT_VERSION:
                raise ValueError(f'{path}: unsupported demo format {int(data["format_version"])}')
            episodes = []
            for i in range(int(data['count'])):
                prefix = f'{i}/images/'
                images = {k[len(prefix):]: data[k] for k in files if k.startswith(prefix)}
                episodes.append(Episode(proprio=data[f'{i}/proprio'], task_state=data[f'{i}/task_state'],
                                        actions=data[f'{i}/actions'], success=bool(data[f'{i}/success']),
                                        images=images))
    except (OSError, KeyError, EOFError, zipfile.BadZipFile) as exc:
        raise ValueError(f'{path}: not a readable demo file ({exc})') from exc
    for i, ep in enumerate(episodes):
        if len(ep.proprio) != len(ep.actions) + 1 or len(ep.task_state) != len(ep.proprio):
            raise ValueError(f'{path}: episode {i} has inconsistent lengths')
    return episodes
