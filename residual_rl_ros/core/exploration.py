"""Exploration noise held for several control steps: a persistent push instead of per-step jitter.

The paper draws warm-up and exploration noise independently at every step. Where a base policy fails by
stalling (e.g. hovering above an object it never grasps), a correction only pays when it persists for
several steps, and i.i.d. noise almost never produces one. `HeldNoise` redraws its value every
`hold_steps` steps and at each episode start, so the marginal distribution of each draw is unchanged
(uniform stays uniform, Gaussian stays Gaussian) while it lasts long enough to move the robot.
"""
from __future__ import annotations

from typing import Callable

import numpy as np


class HeldNoise:
    """A noise vector redrawn every `hold_steps` calls (1 = a fresh draw on every call)."""

    def __init__(self, hold_steps: int = 1) -> None:
        if hold_steps < 1:
            raise ValueError(f'hold_steps must be >= 1, got {hold_steps}')
        self.hold_steps = int(hold_steps)
        self.value: np.ndarray | None = None
        self.steps_left = 0

    def reset(self) -> None:
        """Start of an episode: the next call draws afresh."""
        self.steps_left = 0

    def sample(self, draw: Callable[[], np.ndarray]) -> np.ndarray:
        """The held value, calling `draw()` for a new one when the hold is over."""
        if self.steps_left <= 0 or self.value is None:
            self.value = np.asarray(draw(), np.float32)
            self.steps_left = self.hold_steps
        self.steps_left -= 1
        return self.value.copy()
