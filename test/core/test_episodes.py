"""The episode authority's lifecycle: late labels, double clicks, undo, labels during reset."""
from residual_rl_ros.core.episodes import EpisodeLifecycle, EventKind, EventSource, Phase

OP = EventSource.OPERATOR


def _kinds(decision) -> list[tuple[EventKind, int]]:
    return [(e.kind, e.episode_id) for e in decision.events]


def _ended(kind: EventKind = EventKind.TIMEOUT, window_s: float = 3.0) -> EpisodeLifecycle:
    life = EpisodeLifecycle(first_episode_id=5, label_window_s=window_s)
    assert _kinds(life.start(OP, 0.0)) == [(EventKind.START, 5)]
    assert _kinds(life.end(kind, EventSource.SIM, 10.0)) == [(kind, 5)]
    return life


def test_full_cycle_idle_running_labelled_resetting_idle() -> None:
    life = _ended(EventKind.SUCCESS)
    assert life.phase == Phase.IDLE and life.last_ended == 5
    assert _kinds(life.begin_reset(EventSource.AUTO)) == [(EventKind.RESET, 5)]
    assert life.phase == Phase.RESETTING
    assert not life.start(OP, 11.0).accepted          # no start while resetting
    life.finish_reset()
    assert _kinds(life.start(OP, 12.0)) == [(EventKind.START, 6)]
    refused = life.begin_reset(OP)
    assert not refused.accepted and 'running' in refused.message


def test_late_label_after_timeout_is_attached_to_the_ended_episode_even_after_the_next_start() -> None:
    life = _ended(EventKind.TIMEOUT)
    life.begin_reset(EventSource.AUTO)
    life.finish_reset()
    life.start(OP, 10.5)                               # episode 6 runs
    decision = life.end(EventKind.SUCCESS, OP, 11.0, episode_id=5)
    assert decision.accepted and _kinds(decision) == [(EventKind.SUCCESS, 5)]
    assert life.episodes[5].outcome == EventKind.SUCCESS and life.running and life.current == 6


def test_label_with_id_zero_while_idle_goes_to_the_last_ended_episode() -> None:
    life = _ended(EventKind.ABORT)
    assert _kinds(life.end(EventKind.FAILURE, OP, 11.0)) == [(EventKind.FAILURE, 5)]


def test_labels_during_reset_label_the_episode_that_just_ended() -> None:
    life = _ended(EventKind.TIMEOUT)
    life.begin_reset(EventSource.AUTO)
    decision = life.end(EventKind.SUCCESS, OP, 10.2)
    assert _kinds(decision) == [(EventKind.SUCCESS, 5)] and life.phase == Phase.RESETTING


def test_late_label_outside_the_window_is_refused() -> None:
    life = _ended(EventKind.TIMEOUT, window_s=1.0)
    decision = life.end(EventKind.SUCCESS, OP, 11.5)
    assert not decision.accepted and 'too late' in decision.message and decision.events == ()


def test_double_click_is_ignored_with_a_message_and_a_conflicting_label_needs_undo() -> None:
    life = _ended(EventKind.SUCCESS)
    again = life.end(EventKind.SUCCESS, OP, 10.1)
    assert again.accepted and again.events == () and 'double click' in again.message
    conflict = life.end(EventKind.FAILURE, OP, 10.2)
    assert not conflict.accepted and 'undo' in conflict.message
    abort = life.end(EventKind.ABORT, OP, 10.3)
    assert not abort.accepted and abort.events == ()


def test_truncation_after_truncation_publishes_nothing() -> None:
    life = _ended(EventKind.TIMEOUT)
    decision = life.end(EventKind.ABORT, OP, 10.1)
    assert decision.accepted and decision.events == ()


def test_undo_of_the_label_that_ended_the_episode_leaves_it_truncated() -> None:
    life = _ended(EventKind.SUCCESS)
    decision = life.undo(OP, 11.0)
    assert _kinds(decision) == [(EventKind.UNDO, 5), (EventKind.ABORT, 5)]
    assert life.episodes[5].outcome == EventKind.ABORT
    assert _kinds(life.end(EventKind.FAILURE, OP, 11.5)) == [(EventKind.FAILURE, 5)]   # relabel after undo
    assert not life.undo(OP, 20.0).accepted        # too late


def test_undo_of_a_late_label_restores_the_timeout_and_only_one_level_is_kept() -> None:
    life = _ended(EventKind.TIMEOUT)
    life.end(EventKind.SUCCESS, OP, 10.5)
    assert _kinds(life.undo(OP, 11.0)) == [(EventKind.UNDO, 5), (EventKind.TIMEOUT, 5)]
    assert not life.undo(OP, 11.1).accepted


def test_undo_window_and_nothing_to_undo() -> None:
    life = EpisodeLifecycle(label_window_s=2.0)
    assert life.undo(OP, 0.0).message == 'nothing to undo'
    life.start(OP, 0.0)
    life.end(EventKind.FAILURE, OP, 1.0)
    assert not life.undo(OP, 3.5).accepted
    assert life.episodes[1].outcome == EventKind.FAILURE


def test_nothing_to_label_before_any_episode() -> None:
    decision = EpisodeLifecycle().end(EventKind.SUCCESS, OP, 0.0)
    assert not decision.accepted and decision.events == ()
