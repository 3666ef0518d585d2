"""Replay writes: `add_many` and the assembler's shared-object fast path store exactly what `add` one by one
stores (every array, counters, n-step targets), across terminated, truncated, open and wrapped episodes."""
from __future__ import annotations

import copy
import dataclasses

import numpy as np
import pytest
from resfit_factory import SPEC, episode, observation

from residual_rl_ros.core.episodes import EpisodeEvent, EventKind, EventSource
from residual_rl_ros.core.replay import ReplayBuffer
from residual_rl_ros.core.transitions import ActionRecord, TransitionAssembler
from residual_rl_ros.core.types import Transition

pytestmark = pytest.mark.core


def _stream(rng: np.random.Generator) -> list[Transition]:
    """Episodes ending every way: terminated, truncated, cut open (the next one just starts), one whose
    transitions are equal copies rather than the same objects, and one that repeats its last frame."""
    stream = episode(rng, 5, terminated=True) + episode(rng, 4, terminated=False, truncated=True)
    stream += episode(rng, 3, terminated=False)                    # left open: the next episode closes it
    stream += [copy.deepcopy(t) for t in episode(rng, 4, terminated=True)]
    repeat = episode(rng, 3, terminated=False)
    repeat.append(dataclasses.replace(repeat[-1], observation=repeat[-1].next_observation,
                                      base_action=repeat[-1].next_base_action,
                                      chunk_phase=repeat[-1].next_chunk_phase))
    return stream + repeat + episode(rng, 6, terminated=False)


def _assert_same(a: ReplayBuffer, b: ReplayBuffer) -> None:
    assert (a.counter, a.provisional, len(a)) == (b.counter, b.provisional, len(b))
    for name in a.arrays:
        np.testing.assert_array_equal(a.arrays[name], b.arrays[name], err_msg=name)
    slots = np.flatnonzero(a._valid_starts(np.arange(len(a))))
    assert slots.size
    first, second = a.gather(slots), b.gather(slots)
    for field in ('reward', 'discount', 'next_state', 'next_base_action', 'next_phase', 'action'):
        np.testing.assert_array_equal(getattr(first, field), getattr(second, field), err_msg=field)


@pytest.mark.parametrize('capacity', [200, 17])
def test_add_many_stores_what_add_stores(capacity: int) -> None:
    stream = _stream(np.random.default_rng(0))
    one_by_one = ReplayBuffer(SPEC, capacity, n_step=3, gamma=0.9)
    for t in stream:
        one_by_one.add(t)
    batched = ReplayBuffer(SPEC, capacity, n_step=3, gamma=0.9)
    cuts = [0, 2, 3, 11, 12, 20, len(stream)]                      # calls that split episodes anywhere
    for start, end in zip(cuts, cuts[1:]):
        batched.add_many(stream[start:end])
    _assert_same(one_by_one, batched)
    if capacity > 2 * len(stream):                                 # nothing overwritten by the ring
        assert one_by_one.arrays['terminated'].sum() == 2 and one_by_one.arrays['truncated'].sum() == 1
    else:
        assert one_by_one.counter > capacity
    one_by_one.end_episode()
    batched.end_episode()
    _assert_same(one_by_one, batched)


def _assembled(rng: np.random.Generator) -> list[Transition]:
    """Transitions from the TransitionAssembler: each hands its next observation and base action on as the
    very objects of the following transition."""
    assembler = TransitionAssembler(lambda a: np.clip(a / 2.0, -1.0, 1.0), grace_s=0.0)
    out, stamp = [], 0
    for episode_id, (steps, kind) in enumerate([(6, EventKind.SUCCESS), (5, EventKind.TIMEOUT),
                                                (4, EventKind.FAILURE)], start=1):
        out += assembler.add_event(EpisodeEvent(EventKind.START, EventSource.AUTO, episode_id), stamp * 1e-3)
        for tick in range(steps):
            stamp += 1
            out += assembler.add_observation(stamp, observation(rng))
            out += assembler.add_record(ActionRecord(episode_id, tick, stamp, rng.uniform(-2, 2, 3),
                                                     rng.uniform(-2, 2, 3), tick % 4, 4))
        out += assembler.add_event(EpisodeEvent(kind, EventSource.AUTO, episode_id), stamp * 1e-3)
    return out + assembler.flush(1e9, force=True)


def test_assembler_objects_take_the_fast_path_and_store_the_same_as_copies() -> None:
    stream = _assembled(np.random.default_rng(1))
    assert len(stream) == 6 + 4 + 4
    assert all(b.observation is a.next_observation and b.base_action is a.next_base_action
               for a, b in zip(stream, stream[1:]) if a.source[0] == b.source[0])
    shared, copies, batched = (ReplayBuffer(SPEC, 64, n_step=3, gamma=0.9) for _ in range(3))
    for t in stream:
        shared.add(t)
    for t in stream:
        copies.add(copy.deepcopy(t))                               # no shared object: compared by value
    batched.add_many(stream)
    _assert_same(shared, copies)
    _assert_same(shared, batched)
