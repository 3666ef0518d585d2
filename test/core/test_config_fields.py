"""Config dataclasses: ranges, choices and unknown keys are rejected by name."""
import dataclasses

import pytest

from residual_rl_ros.core.config_fields import from_dict, param, to_dict, validate
from residual_rl_ros.core.node_params import RewardButtonParams


@dataclasses.dataclass
class Inner:
    rate_hz: float = param(50.0, 'rate', low=1.0, high=1000.0)


@dataclasses.dataclass
class Outer:
    inner: Inner = param(Inner(), 'nested')
    names: list[str] = param(['a'], 'names')
    mode: str = param('x', 'mode', choices=('x', 'y'))


def test_nested_from_dict_and_back() -> None:
    config = from_dict(Outer, {'inner': {'rate_hz': 20.0}, 'mode': 'y'})
    assert config.inner.rate_hz == 20.0 and config.mode == 'y'
    assert from_dict(Outer, to_dict(config)) == config


def test_defaults_are_not_shared_between_instances() -> None:
    first, second = Outer(), Outer()
    first.names.append('b')
    first.inner.rate_hz = 2.0
    assert second.names == ['a'] and second.inner.rate_hz == 50.0


@pytest.mark.parametrize('values, message', [
    ({'inner': {'rate_hz': 0.5}}, 'Inner.rate_hz=0.5 is below the minimum 1.0'),
    ({'inner': {'rate_hz': float('nan')}}, 'NaN is not allowed'),
    ({'mode': 'z'}, "Outer.mode='z' is not one of"),
    ({'speed': 1}, r"unknown Outer key\(s\) \['speed'\]"),
    ({'inner': {'rate': 1}}, r"unknown Inner key\(s\) \['rate'\]"),
])
def test_bad_values_are_named(values: dict, message: str) -> None:
    with pytest.raises(ValueError, match=message):
        from_dict(Outer, values)


def test_node_params_defaults_are_valid() -> None:
    validate(RewardButtonParams())
