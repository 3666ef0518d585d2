"""Replay: n-step targets at episode ends, boundaries, wraparound, persistence, memory and batch mixing."""
from __future__ import annotations

import dataclasses

import numpy as np
import pytest
from resfit_factory import SPEC, episode

from residual_rl_ros.core.recipe import ReplayRecipe, ResidualRecipe
from residual_rl_ros.core.replay import MixedSampler, ReplayBuffer, make_buffers, observation_state

pytestmark = pytest.mark.core


def _buffer(steps_lists, capacity: int = 64, n_step: int = 3, gamma: float = 0.5) -> ReplayBuffer:
    buffer = ReplayBuffer(SPEC, capacity, n_step=n_step, gamma=gamma)
    for steps in steps_lists:
        for t in steps:
            buffer.add(t)
    return buffer


def test_terminated_stops_bootstrapping_with_hand_computed_returns():
    rng = np.random.default_rng(0)
    ep = episode(rng, 4, rewards=[1, 2, 3, 4], terminated=True)
    buffer = _buffer([ep, episode(rng, 3)])
    batch = buffer.gather(np.arange(4))
    np.testing.assert_allclose(batch.reward, [1 + .5 * 2 + .25 * 3, 2 + .5 * 3 + .25 * 4, 3 + .5 * 4, 4])
    np.testing.assert_allclose(batch.discount, [0.125, 0, 0, 0])
    np.testing.assert_array_equal(batch.next_state[0], observation_state(ep[2].next_observation))
    np.testing.assert_array_equal(batch.next_state[3], observation_state(ep[3].next_observation))


def test_truncated_bootstraps_from_last_next_observation_and_never_crosses_into_next_episode():
    rng = np.random.default_rng(1)
    ep = episode(rng, 4, rewards=[1, 2, 3, 4], terminated=False, truncated=True)
    following = episode(rng, 3, rewards=[100, 100, 100])
    batch = _buffer([ep, following]).gather(np.arange(4))
    np.testing.assert_allclose(batch.reward, [2.75, 4.5, 5.0, 4.0])
    np.testing.assert_allclose(batch.discount, [0.125, 0.125, 0.25, 0.5])
    last = ep[3]
    for i in (1, 2, 3):
        np.testing.assert_array_equal(batch.next_state[i], observation_state(last.next_observation))
        np.testing.assert_array_equal(batch.next_images['front'][i], last.next_observation.images['front'])
        np.testing.assert_array_equal(batch.next_base_action[i], last.next_base_action)
        assert batch.next_phase[i] == last.next_chunk_phase
    np.testing.assert_array_equal(batch.action, np.stack([t.action for t in ep]))


def test_open_episode_is_sampleable_and_extends_when_continued():
    rng = np.random.default_rng(2)
    ep = episode(rng, 4, rewards=[1, 2, 3, 4], terminated=False)
    buffer = _buffer([ep[:2]])
    assert buffer.provisional and len(buffer) == 3
    first = buffer.gather(np.array([0, 1]))
    np.testing.assert_allclose(first.reward, [1 + .5 * 2, 2])
    np.testing.assert_allclose(first.discount, [0.25, 0.5])
    buffer.add(ep[2])
    np.testing.assert_allclose(buffer.gather(np.array([0])).reward, [2.75])
    np.testing.assert_allclose(buffer.gather(np.array([0])).discount, [0.125])


def test_unrelated_transition_closes_open_episode_as_bootstrapped_cut():
    rng = np.random.default_rng(3)
    cut = episode(rng, 2, rewards=[1, 2], terminated=False)
    buffer = _buffer([cut, episode(rng, 2, rewards=[50, 50])])
    batch = buffer.gather(np.array([0, 1]))
    np.testing.assert_allclose(batch.reward, [2.0, 2.0])
    np.testing.assert_allclose(batch.discount, [0.25, 0.5])
    np.testing.assert_array_equal(batch.next_state[1], observation_state(cut[1].next_observation))


def test_wraparound_keeps_capacity_and_never_samples_across_overwritten_slots():
    rng = np.random.default_rng(4)
    buffer = ReplayBuffer(SPEC, 7, n_step=3, gamma=1.0)
    for e in range(5):                                   # 5 episodes x 3 slots = 15 slots > 7
        steps = episode(rng, 2, rewards=[1, 1])
        for t, step in enumerate(steps):
            step.observation.proprio[0] = 100 * e + t
            step.next_observation.proprio[0] = 100 * e + t + 1
            buffer.add(step)
    assert len(buffer) == 7 and buffer.counter == 15
    batch = buffer.sample(200, np.random.default_rng(0))
    start, nxt = batch.state[:, 0], batch.next_state[:, 0]
    assert set(np.unique(start // 100)) <= {2, 3, 4}      # episodes 0 and 1 are gone
    np.testing.assert_array_equal(start // 100, nxt // 100)
    np.testing.assert_array_equal(nxt % 100, 2)          # always bootstraps at the terminal frame
    np.testing.assert_allclose(batch.reward, 2 - start % 100)
    np.testing.assert_array_equal(batch.discount, 0)


def test_memory_accounting():
    per_step = ReplayBuffer.bytes_per_step(SPEC)
    assert per_step == 16 * 16 * 3 + 4 * (5 + 3 + 3 + 1 + 1) + 4 + 8
    assert ReplayBuffer(SPEC, 10).nbytes == 10 * per_step
    assert ReplayBuffer.capacity_for_budget(SPEC, 10 * per_step + per_step - 1) == 10
    buffers, sampler = make_buffers(ResidualRecipe(replay=ReplayRecipe(memory_budget_bytes=5 * per_step)), SPEC, 20)
    assert buffers['online'].capacity == 5 and buffers['demo'].capacity == 20
    assert buffers['online'].n_step == 3 and sampler.fractions == {'demo': 0.5, 'intervention': 0.0, 'online': 0.5}


def test_persistence_round_trip_including_open_episode(tmp_path):
    rng = np.random.default_rng(5)
    open_ep = episode(rng, 4, terminated=False)
    buffer = _buffer([episode(rng, 5), episode(rng, 3, truncated=True, terminated=False), open_ep[:2]],
                     capacity=12)
    buffer.save(tmp_path / 'online.npz')
    loaded = ReplayBuffer.load(tmp_path / 'online.npz')
    assert (loaded.counter, loaded.provisional, loaded.capacity) == (buffer.counter, True, 12)
    for name, array in buffer.arrays.items():
        np.testing.assert_array_equal(loaded.arrays[name], array)
    for b in (buffer, loaded):
        b.add(open_ep[2])
    slots = np.arange(len(buffer))
    slots = slots[buffer._valid_starts(slots)]
    for field in dataclasses.fields(buffer.gather(slots)):
        a, b = getattr(buffer.gather(slots), field.name), getattr(loaded.gather(slots), field.name)
        np.testing.assert_array_equal(a['front'] if isinstance(a, dict) else a,
                                      b['front'] if isinstance(b, dict) else b)


def test_corrupt_replay_file_is_a_clear_error(tmp_path):
    path = tmp_path / 'bad.npz'
    _buffer([episode(np.random.default_rng(6), 3)]).save(path)
    path.write_bytes(path.read_bytes()[:200])
    with pytest.raises(ValueError, match='bad.npz'):
        ReplayBuffer.load(path)


def test_mixed_sampler_fractions_and_empty_buffers():
    rng = np.random.default_rng(7)
    demo, online = _buffer([episode(rng, 5)]), _buffer([episode(rng, 5)])
    empty = ReplayBuffer(SPEC, 8)
    sampler = MixedSampler({'demo': demo, 'online': online, 'intervention': empty},
                           {'demo': 0.5, 'online': 0.3, 'intervention': 0.2})
    assert sampler.counts(10) == {'demo': 6, 'online': 4}        # empty buffer's share is redistributed
    assert sum(sampler.counts(256).values()) == 256
    batch = sampler.sample(9, rng)
    assert len(batch) == 9 and batch.images['front'].shape == (9, 16, 16, 3)
    with pytest.raises(ValueError):
        MixedSampler({'demo': empty}, {'demo': 1.0}).sample(4, rng)
