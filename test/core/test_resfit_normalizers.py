"""Normalizers: exact round trips, the widened action range, the std floor, state dicts."""
from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from residual_rl_ros.core.normalizers import ActionNormalizer, StateNormalizer

pytestmark = pytest.mark.core


def test_action_range_is_widened_by_action_scale():
    demos = np.array([[0.0, -2.0, 5.0], [1.0, 2.0, 5.0]])
    norm = ActionNormalizer.fit(demos, action_scale=0.1, min_range=0.1)
    lo, hi = norm.normalize(demos.min(0)), norm.normalize(demos.max(0))
    np.testing.assert_allclose(lo, [-1 / 1.1, -1 / 1.1, 0.0])    # constant dim: range floored, centred
    np.testing.assert_allclose(hi, -lo)
    np.testing.assert_allclose(norm.denormalize(np.ones(3)), [1.05, 2.2, 5.055])


@settings(max_examples=30, deadline=None)
@given(st.lists(st.floats(-1e3, 1e3), min_size=6, max_size=6))
def test_round_trips(values):
    data = np.array(values).reshape(2, 3)
    for norm in (ActionNormalizer.fit(data, 0.1), StateNormalizer.fit(data, 0.1)):
        np.testing.assert_allclose(norm.denormalize(norm.normalize(data)), data, rtol=1e-12, atol=1e-9)
        np.testing.assert_allclose(norm.normalize(norm.denormalize(data)), data, rtol=1e-12, atol=1e-9)


def test_state_std_floor_and_empty_state():
    norm = StateNormalizer.fit(np.array([[1.0, 0.0], [1.0, 4.0]]), min_std=0.1)
    np.testing.assert_allclose(norm.std, [0.1, 2.0])
    empty = StateNormalizer.fit(np.zeros((4, 0)))
    assert empty.dim == 0 and empty.normalize(np.zeros((2, 0))).shape == (2, 0)


def test_state_dict_round_trip_and_validation():
    action = ActionNormalizer.fit(np.random.default_rng(0).normal(size=(10, 3)), 0.2)
    state = StateNormalizer.fit(np.random.default_rng(1).normal(size=(10, 4)))
    for norm in (action, state):
        copy = type(norm).from_state_dict(norm.state_dict())
        for key, value in norm.state_dict().items():
            np.testing.assert_array_equal(copy.state_dict()[key], value)
    with pytest.raises(ValueError, match='missing'):
        StateNormalizer.from_state_dict({'mean': np.zeros(2)})
    with pytest.raises(ValueError, match='NaN'):
        ActionNormalizer.fit(np.array([[np.nan, 1.0]]), 0.1)
