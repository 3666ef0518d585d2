"""Declare config dataclass fields with a description and a valid range, in one place.

Every node parameter and every recipe knob is a dataclass field made with `param()`. The ROS adapter
turns the metadata into `ParameterDescriptor`s; `validate()` enforces the same ranges without ROS.
"""
from __future__ import annotations

import dataclasses
import math
from typing import Any, Mapping, TypeVar

T = TypeVar('T')


def param(default: Any, description: str, *, low: float | None = None, high: float | None = None,
          choices: tuple[Any, ...] | None = None, read_only: bool = False) -> Any:
    """A dataclass field with a description and an optional inclusive range or set of choices."""
    meta = {'description': description, 'low': low, 'high': high, 'choices': choices,
            'read_only': read_only}
    if isinstance(default, (list, dict, tuple)):
        return dataclasses.field(default_factory=lambda d=default: type(d)(d), metadata=meta)
    if dataclasses.is_dataclass(default):
        return dataclasses.field(default_factory=lambda d=default: dataclasses.replace(d), metadata=meta)
    return dataclasses.field(default=default, metadata=meta)


def check_value(name: str, value: Any, meta: Mapping[str, Any]) -> None:
    """Raise ValueError naming `name` when `value` is outside the field's range or choices."""
    low, high, choices = meta.get('low'), meta.get('high'), meta.get('choices')
    values = value if isinstance(value, (list, tuple)) else [value]
    for item in values:
        if isinstance(item, (int, float)) and not isinstance(item, bool):
            if isinstance(item, float) and math.isnan(item):
                raise ValueError(f'{name}={value!r}: NaN is not allowed')
            if low is not None and item < low:
                raise ValueError(f'{name}={value!r} is below the minimum {low}')
            if high is not None and item > high:
                raise ValueError(f'{name}={value!r} is above the maximum {high}')
        if choices is not None and item not in choices:
            raise ValueError(f'{name}={value!r} is not one of {list(choices)}')


def validate(config: Any) -> Any:
    """Check every field of a (possibly nested) config dataclass against its metadata; return it."""
    for field in dataclasses.fields(config):
        value = getattr(config, field.name)
        if dataclasses.is_dataclass(value):
            validate(value)
        else:
            check_value(f'{type(config).__name__}.{field.name}', value, field.metadata)
    return config


def from_dict(cls: type[T], values: Mapping[str, Any]) -> T:
    """Build a config dataclass from a mapping, rejecting unknown keys by name; nested dicts recurse."""
    fields = {f.name: f for f in dataclasses.fields(cls)}
    unknown = sorted(set(values) - set(fields))
    if unknown:
        raise ValueError(f'unknown {cls.__name__} key(s) {unknown}; known keys: {sorted(fields)}')
    kwargs: dict[str, Any] = {}
    for name, value in values.items():
        nested = _nested_type(cls, name)
        kwargs[name] = from_dict(nested, value) if nested and isinstance(value, Mapping) else value
    return validate(cls(**kwargs))


def _nested_type(cls: type, name: str) -> type | None:
    """The dataclass type of field `name` when its default is a dataclass instance, else None."""
    instance = cls()
    value = getattr(instance, name)
    return type(value) if dataclasses.is_dataclass(value) else None


def to_dict(config: Any) -> dict[str, Any]:
    """A plain, JSON/YAML-ready dict of a config dataclass."""
    return dataclasses.asdict(config)
