"""Joint limits in the ros2_control `joint_limits` YAML schema, validated with errors naming the joint.

    joint_limits:
      right_shoulder_pitch:
        has_position_limits: true
        min_position: -1.5
        max_position: 1.5
        has_velocity_limits: true
        max_velocity: 2.0          # units/s of the command
        has_acceleration_limits: false
        max_acceleration: .nan

A limit whose `has_*` flag is false is ignored (NaN means "no limit", as in ros2_control).
"""
from __future__ import annotations

import dataclasses
import math
from typing import Any, Mapping, Sequence

import numpy as np

_KEYS = {'has_position_limits', 'min_position', 'max_position', 'has_velocity_limits', 'max_velocity',
         'has_acceleration_limits', 'max_acceleration', 'has_effort_limits', 'max_effort',
         'has_jerk_limits', 'max_jerk', 'has_deceleration_limits', 'max_deceleration', 'has_soft_limits',
         'k_position', 'k_velocity', 'soft_lower_limit', 'soft_upper_limit', 'angle_wraparound'}


@dataclasses.dataclass(frozen=True)
class LimitArrays:
    """Per-joint limits as arrays in a fixed joint order; inf where a joint has no such limit."""

    joint_names: tuple[str, ...]
    min_position: np.ndarray
    max_position: np.ndarray
    max_velocity: np.ndarray
    max_acceleration: np.ndarray

    def reorder(self, joint_names: Sequence[str]) -> 'LimitArrays':
        """The limits for `joint_names` (matched by name); ValueError naming missing joints."""
        index = {name: i for i, name in enumerate(self.joint_names)}
        missing = [n for n in joint_names if n not in index]
        if missing:
            raise ValueError(f'no joint limits for joint(s) {missing}; limits cover {list(self.joint_names)}')
        order = np.array([index[n] for n in joint_names], dtype=int)
        return LimitArrays(tuple(joint_names), self.min_position[order], self.max_position[order],
                           self.max_velocity[order], self.max_acceleration[order])


def _number(joint: str, key: str, value: Any) -> float:
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        raise ValueError(f'joint_limits.{joint}.{key}: expected a number, got {value!r}')
    return float(value)


def _flag(joint: str, key: str, entry: Mapping[str, Any]) -> bool:
    value = entry.get(key, False)
    if not isinstance(value, bool):
        raise ValueError(f'joint_limits.{joint}.{key}: expected true/false, got {value!r}')
    return value


def _positive(joint: str, key: str, entry: Mapping[str, Any], enabled: bool) -> float:
    if not enabled:
        return math.inf
    if key not in entry:
        raise ValueError(f'joint_limits.{joint}: has_{key.split("_", 1)[1]}_limits is true but {key} is missing')
    value = _number(joint, key, entry[key])
    if not value > 0.0 or math.isinf(value):
        raise ValueError(f'joint_limits.{joint}.{key}={value!r}: must be a finite number > 0')
    return value


def parse_joint_limits(config: Mapping[str, Any], joint_names: Sequence[str] | None = None) -> LimitArrays:
    """Validate a `joint_limits` mapping (joint -> keys); order by `joint_names` when given."""
    if not isinstance(config, Mapping) or not config:
        raise ValueError('joint_limits: expected a non-empty mapping of joint name -> limits')
    names, lows, highs, vels, accs = [], [], [], [], []
    for joint, entry in config.items():
        if not isinstance(entry, Mapping):
            raise ValueError(f'joint_limits.{joint}: expected a mapping of limits, got {entry!r}')
        unknown = sorted(set(entry) - _KEYS)
        if unknown:
            raise ValueError(f'joint_limits.{joint}: unknown key(s) {unknown}')
        low, high = -math.inf, math.inf
        if _flag(joint, 'has_position_limits', entry):
            low = _number(joint, 'min_position', entry.get('min_position'))
            high = _number(joint, 'max_position', entry.get('max_position'))
            if not (math.isfinite(low) and math.isfinite(high) and low <= high):
                raise ValueError(f'joint_limits.{joint}: min_position={low} and max_position={high} must be '
                                 f'finite with min <= max')
        names.append(str(joint))
        lows.append(low)
        highs.append(high)
        vels.append(_positive(joint, 'max_velocity', entry, _flag(joint, 'has_velocity_limits', entry)))
        accs.append(_positive(joint, 'max_acceleration', entry, _flag(joint, 'has_acceleration_limits', entry)))
    limits = LimitArrays(tuple(names), np.array(lows), np.array(highs), np.array(vels), np.array(accs))
    return limits.reorder(joint_names) if joint_names is not None else limits


def joint_limits_yaml_dict(joint_names: Sequence[str], low: np.ndarray, high: np.ndarray,
                           max_velocity: np.ndarray | None = None) -> dict[str, dict[str, Any]]:
    """A `joint_limits` mapping for position bounds (and optional velocity limits), e.g. from a task."""
    out = {}
    for i, name in enumerate(joint_names):
        entry: dict[str, Any] = {'has_position_limits': True, 'min_position': _short(low[i]),
                                 'max_position': _short(high[i]), 'has_velocity_limits': max_velocity is not None}
        if max_velocity is not None:
            entry['max_velocity'] = float(max_velocity[i])
        out[name] = entry
    return out


def _short(value: Any) -> float:
    """The shortest decimal that reads back as the same float32 (0.05, not 0.05000000074505806)."""
    return float(str(np.float32(value)))
