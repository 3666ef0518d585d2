"""The one check every simulated task applies to an incoming action before it reaches the physics."""
from __future__ import annotations

import numpy as np


def checked_action(action: np.ndarray, low: np.ndarray) -> np.ndarray:
    """`action` as a flat float64 array; ValueError when its shape differs from `low`'s or it is not finite."""
    action = np.asarray(action, np.float64).reshape(-1)
    if action.shape != low.shape:
        raise ValueError(f'action shape {action.shape}: expected {low.shape}')
    if not np.all(np.isfinite(action)):
        raise ValueError('action contains NaN or inf')
    return action
