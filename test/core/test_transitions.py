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


def _one_step_episode(asm: TransitionAssembler, episode: int, stamp: int) -> None:
    asm.add_event(_event(EventKind.START, episode), 0.0)
    asm.add_observation(stamp, _obs(0.0))
    asm.add_record(_record(episode, 0, stamp, 0.0, 0.0))


def test_late_label_within_the_relabel_window_replaces_the_timeout() -> None:
    asm = TransitionAssembler(normalize_action=lambda a: a, grace_s=0.5, relabel_window_s=3.0)
    _one_step_episode(asm, 1, 1)
    assert asm.add_event(_event(EventKind.TIMEOUT, 1), 1.0) == []
    assert asm.add_event(_event(EventKind.START, 2), 1.1) == []       # the window holds the episode open
    assert asm.flush(2.0) == []
    asm.add_event(_event(EventKind.SUCCESS, 1), 2.5)                  # operator's late label
    assert asm.flush(5.0) == []                                       # the window restarts at the relabel
    out = asm.flush(5.6)
    assert len(out) == 1 and out[0].terminated and out[0].reward == 1.0
    assert [e.kind for e in asm.ended] == [EventKind.SUCCESS] and asm.stats['relabels'] == 1


def test_undo_then_corrected_label_gives_the_corrected_reward() -> None:
    asm = TransitionAssembler(normalize_action=lambda a: a, relabel_window_s=2.0)
    _one_step_episode(asm, 1, 1)
    asm.add_event(_event(EventKind.SUCCESS, 1), 1.0)
    asm.add_event(_event(EventKind.UNDO, 1), 1.5)
    asm.add_event(_event(EventKind.FAILURE, 1), 1.5)
    out = asm.flush(4.0)
    assert len(out) == 1 and out[0].terminated and out[0].reward == 0.0
    assert asm.stats['undos'] == 1 and asm.ended[0].kind == EventKind.FAILURE


def test_undo_alone_leaves_the_episode_truncated() -> None:
    asm = TransitionAssembler(normalize_action=lambda a: a, relabel_window_s=1.0)
    _one_step_episode(asm, 1, 1)
    asm.add_event(_event(EventKind.SUCCESS, 1), 1.0)
    asm.add_event(_event(EventKind.UNDO, 1), 1.2)
    assert asm.flush(3.0) == [] and asm.stats['dropped_truncated_tail'] == 1
    assert asm.ended[0].kind == EventKind.ABORT


def test_label_after_finalization_is_counted_not_applied() -> None:
    asm = TransitionAssembler(normalize_action=lambda a: a, grace_s=0.1)
    _one_step_episode(asm, 1, 1)
    asm.add_event(_event(EventKind.TIMEOUT, 1), 1.0)
    asm.flush(2.0)
    assert asm.add_event(_event(EventKind.SUCCESS, 1), 2.1) == []
    assert asm.stats['late_labels_dropped'] == 1 and asm.stats['successes'] == 0


def test_an_ended_episode_carries_whether_it_started_as_an_evaluation() -> None:
    asm = TransitionAssembler(normalize_action=lambda a: a, grace_s=0.0)
    asm.add_event(EpisodeEvent(EventKind.START, EventSource.AUTO, 1, 'evaluation', evaluation=True), 0.0)
    asm.add_event(_event(EventKind.FAILURE, 1), 1.0)
    asm.add_event(_event(EventKind.START, 2), 2.0)
    asm.add_event(_event(EventKind.SUCCESS, 2), 3.0)
    asm.flush(4.0)
    assert [(e.episode_id, e.kind, e.evaluation) for e in asm.ended] == [
        (1, EventKind.FAILURE, True), (2, EventKind.SUCCESS, False)]


def test_a_record_received_twice_is_dropped_not_paired_with_itself() -> None:
    asm = TransitionAssembler(normalize_action=lambda a: a, grace_s=0.0)
    out = []
    for tick in range(3):
        out += asm.add_observation(tick + 1, _obs(float(tick)))
        out += asm.add_record(_record(1, tick, tick + 1, float(tick), float(tick)))
        out += asm.add_record(_record(1, tick, tick + 1, float(tick), float(tick)))     # published twice
    out += asm.add_event(_event(EventKind.SUCCESS, 1), 1.0) + asm.flush(2.0)
    assert [t.source[1] for t in out] == [0, 1, 2] and asm.stats['duplicate_records'] == 3
    assert [float(t.next_observation.proprio[0]) for t in out] == [1.0, 2.0, 2.0]
