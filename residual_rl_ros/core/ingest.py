"""Sensor synchronization for the ingestion node: joints by name, freshness, image preprocessing."""
from __future__ import annotations

import dataclasses
from typing import Sequence

import cv2
import numpy as np


def select_joints(names: Sequence[str], values: Sequence[float], wanted: Sequence[str], field: str) -> np.ndarray:
    """`values` reordered to `wanted` by name; ValueError naming missing joints or a length mismatch."""
    if len(values) != len(names):
        raise ValueError(f'JointState {field} has {len(values)} values for {len(names)} names')
    index = {name: i for i, name in enumerate(names)}
    missing = [w for w in wanted if w not in index]
    if missing:
        raise ValueError(f'JointState lacks joint(s) {missing[:8]}{" ..." if len(missing) > 8 else ""}')
    out = np.asarray(values, np.float64)[[index[w] for w in wanted]]
    if not np.all(np.isfinite(out)):
        bad = [w for w, v in zip(wanted, out) if not np.isfinite(v)]
        raise ValueError(f'JointState {field} is not finite for joint(s) {bad[:8]}')
    return out


def preprocess_image(rgb: np.ndarray, size_px: int) -> np.ndarray:
    """Center-crop to a square, then resize to size_px x size_px (area interpolation), uint8 RGB."""
    height, width = rgb.shape[:2]
    side = min(height, width)
    top, left = (height - side) // 2, (width - side) // 2
    square = rgb[top:top + side, left:left + side]
    if side == size_px:
        return np.ascontiguousarray(square)
    return cv2.resize(square, (size_px, size_px), interpolation=cv2.INTER_AREA)


@dataclasses.dataclass
class _Sample:
    value: object
    stamp_ns: int
    received_s: float


class SensorSync:
    """Pairs each joint-state tick with the other sensors' samples.

    A tick is ready when every sensor has a sample stamped no earlier than the tick minus
    `tolerance_s` (0 for a simulator that stamps all sensors of a step alike). A tick waits at most
    `max_wait_s` for that; then it goes out with the unsatisfied sensors listed as stale. Sensors whose
    last sample arrived more than their `max_age_s` ago are stale too.
    """

    def __init__(self, max_age_s: dict[str, float], tolerance_s: float, max_wait_s: float) -> None:
        self.max_age_s = dict(max_age_s)
        self.tolerance_ns = int(tolerance_s * 1e9)
        self.max_wait_s = max_wait_s
        self._latest: dict[str, _Sample] = {}

    def put(self, sensor: str, value: object, stamp_ns: int, received_s: float) -> None:
        self._latest[sensor] = _Sample(value, stamp_ns, received_s)

    def get(self, sensor: str) -> object:
        return self._latest[sensor].value

    def lagging(self, tick_stamp_ns: int) -> list[str]:
        """Sensors with no sample at least as new as the tick (minus the tolerance)."""
        return sorted(n for n in self.max_age_s
                      if n not in self._latest or self._latest[n].stamp_ns < tick_stamp_ns - self.tolerance_ns)

    def stale(self, tick_stamp_ns: int, now_s: float) -> list[str]:
        """Lagging sensors plus those whose last sample arrived longer ago than their limit."""
        old = {n for n, limit in self.max_age_s.items()
               if n in self._latest and now_s - self._latest[n].received_s > limit}
        return sorted(old | set(self.lagging(tick_stamp_ns)))
