"""Declare a node's ROS parameters from its config dataclass, and read them back validated.

Field metadata made by `core.config_fields.param` becomes a `ParameterDescriptor` (description, range,
read-only). Nested dataclasses become dotted names (`learner.batch_size`). Unknown parameters in a
params file are rejected by name, so a typo never silently falls back to a default.
"""
from __future__ import annotations

import dataclasses
import typing
from typing import Any, Iterator, TypeVar

from rcl_interfaces.msg import FloatingPointRange, IntegerRange, ParameterDescriptor
from rclpy.node import Node
from rclpy.parameter import Parameter

from residual_rl_ros.core.config_fields import from_dict

T = TypeVar('T')

_ARRAY_TYPES = {str: Parameter.Type.STRING_ARRAY, float: Parameter.Type.DOUBLE_ARRAY,
                int: Parameter.Type.INTEGER_ARRAY, bool: Parameter.Type.BOOL_ARRAY}
_SCALAR_TYPES = {str: Parameter.Type.STRING, float: Parameter.Type.DOUBLE, int: Parameter.Type.INTEGER,
                 bool: Parameter.Type.BOOL}


def declare_config(node: Node, cls: type[T], prefix: str = '') -> T:
    """Declare every field of `cls` on `node` and return the validated config built from the values."""
    values: dict[str, Any] = {}
    for name, field, hint, default in _leaves(cls, prefix):
        ptype = _parameter_type(hint, name)
        descriptor = _descriptor(field, ptype)
        initial = default if _has_value(default) else ptype
        value = node.declare_parameter(name, initial, descriptor).value
        _set_nested(values, name[len(prefix):], default if value is None else _plain(value))
    _reject_undeclared(node, prefix)
    return from_dict(cls, values)


def _leaves(cls: type, prefix: str) -> Iterator[tuple[str, dataclasses.Field, Any, Any]]:
    hints = typing.get_type_hints(cls)
    instance = cls()
    for field in dataclasses.fields(cls):
        default = getattr(instance, field.name)
        if dataclasses.is_dataclass(default):
            yield from _leaves(type(default), f'{prefix}{field.name}.')
        else:
            yield f'{prefix}{field.name}', field, hints[field.name], default


def _parameter_type(hint: Any, name: str) -> Parameter.Type:
    origin = typing.get_origin(hint)
    if origin in (list, tuple):
        item = typing.get_args(hint)[0]
        if item in _ARRAY_TYPES:
            return _ARRAY_TYPES[item]
    elif hint in _SCALAR_TYPES:
        return _SCALAR_TYPES[hint]
    raise TypeError(f'parameter {name}: unsupported type {hint!r}')


def _descriptor(field: dataclasses.Field, ptype: Parameter.Type) -> ParameterDescriptor:
    meta = field.metadata
    desc = ParameterDescriptor(description=meta.get('description', ''), type=ptype.value,
                               read_only=bool(meta.get('read_only', False)))
    low, high = meta.get('low'), meta.get('high')
    if low is not None and high is not None:
        if ptype == Parameter.Type.DOUBLE:
            desc.floating_point_range = [FloatingPointRange(from_value=float(low), to_value=float(high))]
        elif ptype == Parameter.Type.INTEGER:
            desc.integer_range = [IntegerRange(from_value=int(low), to_value=int(high), step=1)]
    if meta.get('choices'):
        desc.additional_constraints = f'one of {list(meta["choices"])}'
    return desc


def _has_value(default: Any) -> bool:
    return not (isinstance(default, (list, tuple)) and len(default) == 0)


def _plain(value: Any) -> Any:
    return list(value) if not isinstance(value, (str, bytes)) and hasattr(value, '__len__') else value


def _set_nested(values: dict[str, Any], dotted: str, value: Any) -> None:
    *parents, leaf = dotted.split('.')
    for part in parents:
        values = values.setdefault(part, {})
    values[leaf] = value


def _reject_undeclared(node: Node, prefix: str) -> None:
    """Raise ValueError for parameter overrides (params file, --ros-args -p) that match no field."""
    overrides = node._parameter_overrides  # noqa: SLF001 - rclpy keeps them here, no public accessor
    unknown = sorted(name for name in overrides
                     if name.startswith(prefix) and not node.has_parameter(name)
               and name != 'use_sim_time' and not name.startswith('qos_overrides.'))
    if unknown:
        raise ValueError(f'node {node.get_name()!r}: unknown parameter(s) {unknown}')
