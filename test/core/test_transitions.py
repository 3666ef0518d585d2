"""Transitions rebuilt from observations, action records and episode events, in any arrival order."""
import numpy as np
import pytest

from residual_rl_ros.core.episodes import EpisodeEvent, EventKind, EventSource
from residual_rl_ros.core.transitions import ActionRecord, TransitionAssembler
from residual_rl_ros.core.types import Observation


def _obs(value: float) -> Observation:
    return Observation(proprio=np.array([value], np.float32), task_state=np.zeros(0, np.float32))


def _record(episode: int, tick: int, stamp: int, base: float, executed: float) -> ActionRecord:
    return ActionRecord(episode, tick, stamp, np.array([base]), np.array([executed]), tick % 4, 4)


def _event(kind: EventKind, episode: int) -> EpisodeEvent:
    return EpisodeEvent(kind, EventSource.SIM, episode)


def _run(order: str, end: EventKind):
    """Three ticks of episode 1 fed in `order` ('in_order' or 'records_first'); returns transitions."""
    asm = TransitionAssembler(normalize_action=lambda a: a / 2.0, grace_s=0.5)
    observations = [(100 + i, _obs(float(i))) for i in range(3)]
    records = [_record(1, i, 100 + i, base=0.1 * i, executed=0.1 * i + 0.01) for i in range(3)]
    out = asm.add_event(_event(EventKind.START, 1), 0.0)
    if order == 'in_order':
        for (stamp, obs), rec in zip(observations, records):
            out += asm.add_observation(stamp, obs)
            out += asm.add_record(rec)
    else:
        for rec in records:
            out += asm.add_record(rec)
        for stamp, obs in observations:
            out += asm.add_observation(stamp, obs)
    out += asm.add_event(_event(end, 1), 1.0)
    out += asm.flush(1.2)
    assert out == [] or len(out) == 2  # grace period not over: only the inner transitions so far
    out += asm.flush(1.6)
    return out, asm


@pytest.mark.parametrize('order', ['in_order', 'records_first'])
def test_success_episode_gives_terminal_reward_on_last_transition(order: str) -> None:
    transitions, asm = _run(order, EventKind.SUCCESS)
    assert len(transitions) == 3
    assert [t.reward for t in transitions] == [0.0, 0.0, 1.0]
    assert [t.terminated for t in transitions] == [False, False, True]
    assert not any(t.truncated for t in transitions)
    first = transitions[0]
    np.testing.assert_allclose(first.action, [0.005])              # executed action, normalized
    np.testing.assert_allclose(first.next_base_action, [0.05])     # base action of the next record
    assert first.next_chunk_phase == 1 and first.next_observation.proprio[0] == 1.0
    assert asm.stats['successes'] == 1


def test_timeout_is_truncated_and_drops_the_unbootstrappable_tail() -> None:
    transitions, asm = _run('in_order', EventKind.TIMEOUT)
    assert len(transitions) == 2 and not any(t.terminated for t in transitions)
    assert asm.stats['dropped_truncated_tail'] == 1


def test_failure_is_terminated_with_zero_reward() -> None:
    transitions, _ = _run('in_order', EventKind.FAILURE)
    assert transitions[-1].terminated and transitions[-1].reward == 0.0


def test_next_start_finalizes_at_once_and_late_records_are_counted() -> None:
    asm = TransitionAssembler(normalize_action=lambda a: a, grace_s=100.0)
    asm.add_observation(1, _obs(0.0))
    asm.add_record(_record(1, 0, 1, 0.0, 0.0))
    asm.add_event(_event(EventKind.SUCCESS, 1), 0.0)
    out = asm.add_event(_event(EventKind.START, 2), 0.1)
    assert len(out) == 1 and out[0].terminated and out[0].reward == 1.0
    assert asm.add_record(_record(1, 1, 1, 0.0, 0.0)) == []
    assert asm.stats['late_records'] == 1
