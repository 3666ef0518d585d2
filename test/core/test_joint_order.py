"""Joint values reordered by name: order, missing, unknown, and bad input named."""
import math

import numpy as np
import pytest
from hypothesis import given, strategies as st

from residual_rl_ros.core.joint_order import JointOrder, reorder_by_name


def test_values_come_back_in_the_wanted_order() -> None:
    order = reorder_by_name(['c', 'a', 'b'], [3.0, 1.0, 2.0], ['a', 'b', 'c'])
    assert order.values.tolist() == [1.0, 2.0, 3.0] and order.values.dtype == np.float64
    assert order.missing == () and order.unknown == ()


@given(st.permutations(['a', 'b', 'c', 'd', 'e']))
def test_any_permutation_maps_back(names) -> None:
    values = [float(ord(n)) for n in names]
    assert JointOrder('abcde').reorder(names, values).values.tolist() == [float(ord(n)) for n in 'abcde']


def test_missing_joint_is_nan_and_named_in_wanted_order() -> None:
    order = reorder_by_name(['b'], [2.0], ['a', 'b', 'c'])
    assert math.isnan(order.values[0]) and order.values[1] == 2.0 and math.isnan(order.values[2])
    assert order.missing == ('a', 'c') and order.unknown == ()


def test_unknown_names_are_reported_in_the_order_given_and_ignored() -> None:
    order = reorder_by_name(['z', 'a', 'elbow'], [9.0, 1.0, 8.0], ['a'])
    assert order.values.tolist() == [1.0] and order.unknown == ('z', 'elbow') and order.missing == ()


def test_a_given_nan_passes_through_and_is_not_missing() -> None:
    order = reorder_by_name(['a', 'b'], [math.nan, math.inf], ['b', 'a'])
    assert order.values[0] == math.inf and math.isnan(order.values[1]) and order.missing == ()


@pytest.mark.parametrize('names, values', [(['a', 'b'], [1.0]), (['a'], [1.0, 2.0]), ([], [1.0])])
def test_length_mismatch_is_a_named_error(names, values) -> None:
    with pytest.raises(ValueError, match=f'{len(names)} joint names but {len(values)} values'):
        reorder_by_name(names, values, ['a', 'b'])


@pytest.mark.parametrize('names', [['a', 'b', 'a'], ['a', 'b', 'x', 'x']])
def test_a_repeated_name_is_a_named_error_not_a_pick(names) -> None:
    repeated = 'a' if names.count('a') > 1 else 'x'
    with pytest.raises(ValueError, match=rf"joint names repeat: \['{repeated}'\]"):
        reorder_by_name(names, list(range(len(names))), ['a', 'b'])


def test_repeated_wanted_names_are_a_named_error() -> None:
    with pytest.raises(ValueError, match=r"wanted joint names repeat: \['a'\]"):
        JointOrder(['a', 'b', 'a'])


def test_empty() -> None:
    assert reorder_by_name([], [], []).values.shape == (0,)
    order = reorder_by_name([], [], ['a'])
    assert math.isnan(order.values[0]) and order.missing == ('a',)
    assert reorder_by_name(['a'], [1.0], []).unknown == ('a',)


def test_numpy_and_array_values_are_accepted_and_each_call_gets_fresh_values() -> None:
    order = JointOrder(['a', 'b'])
    first = order.reorder(('b', 'a'), np.array([2.0, 1.0]))
    second = order.reorder(['a', 'b'], np.array([5.0, 6.0], np.float32))
    assert first.values.tolist() == [1.0, 2.0] and second.values.tolist() == [5.0, 6.0] and len(order) == 2
