"""The operator dashboard's state: labels by id, success and intervention rates, curves."""
import json

from residual_rl_ros.core.dashboard import Dashboard
from residual_rl_ros.core.episodes import EventKind


def test_rates_follow_late_labels_and_undo_by_episode_id() -> None:
    board = Dashboard(window=3)
    for episode_id, outcome in ((1, EventKind.SUCCESS), (2, EventKind.FAILURE), (3, EventKind.TIMEOUT)):
        board.on_event(EventKind.START, episode_id, 0.0)
        for _ in range(4):
            board.on_record(episode_id, intervention=episode_id == 2, policy_version=1)
        board.on_event(outcome, episode_id, 1.0)
    assert board.success_rate() == 0.5 and board.intervention_rate() == 4 / 12
    board.on_event(EventKind.START, 4, 2.0)
    board.on_event(EventKind.SUCCESS, 3, 2.5)               # late label for the timed-out episode
    assert board.success_rate() == 2 / 3 and board.current == 4
    board.on_event(EventKind.UNDO, 3, 3.0)
    board.on_event(EventKind.TIMEOUT, 3, 3.0)                # the corrected outcome
    assert board.success_rate() == 0.5
    snap = board.snapshot()
    assert snap['current'] == {'id': 4, 'steps': 0, 'interventions': 0, 'start_s': 2.0}
    assert snap['episodes'][1]['labels'] == ['TIMEOUT', 'SUCCESS', 'UNDO', 'TIMEOUT']
    json.dumps(snap)                                         # the page gets it as JSON


def test_trainer_curves_drop_nan_and_safety_changes_bump_the_revision() -> None:
    board = Dashboard()
    board.on_trainer({'critic_loss': float('nan'), 'q_mean': 0.5, 'critic_updates': 3, 'policy_version': 1}, 1.0)
    assert board.curves[-1]['critic_loss'] is None and board.curves[-1]['q_mean'] == 0.5
    revision = board.revision
    board.on_safety({'level': 0})
    board.on_safety({'level': 0})
    assert board.revision == revision + 1


def test_keyboard_cli_maps_keys_to_actions_until_q() -> None:
    import io

    from residual_rl_ros.web.keyboard import run
    sent = []
    out = io.StringIO()
    accepted = run('sxYnq a', lambda payload: sent.append(payload['action']) or {'ok': True, 'message': 'ok'}, out)
    assert sent == ['start', 'success', 'failure'] and accepted == 3 and 'success: ok' in out.getvalue()


def test_joy_button_map_is_validated() -> None:
    import pytest

    from residual_rl_ros.core.dashboard import parse_button_map
    assert parse_button_map(['0:success', ' 5 : estop']) == {0: 'success', 5: 'estop'}
    with pytest.raises(ValueError, match='joy_buttons entry'):
        parse_button_map(['x:success'])


def test_health_lists_watchdogs_worst_first_and_logs_level_changes() -> None:
    board = Dashboard()
    board.on_health('safety_limit: watchdog trainer', 0, 'env_steps 5', now_s=1.0)
    board.on_health('ingestion: sensors', 1, 'stale sensors: camera:wrist in 3/25 ticks', 'safety holds', now_s=1.0)
    revision = board.revision
    board.on_health('ingestion: sensors', 1, 'stale sensors: camera:wrist in 3/25 ticks', 'safety holds', now_s=2.0)
    assert board.revision == revision                        # same verdict: nothing new to show
    board.on_health('safety_limit: watchdog trainer', 2, 'trainer_status silent for 31.0 s while episodes run',
                    'the residual keeps running its current weights (v3)', now_s=3.0)
    health = board.snapshot()['health']
    assert [h['name'] for h in health] == ['safety_limit: watchdog trainer', 'ingestion: sensors']
    assert health[0]['level'] == 2 and health[0]['behaviour'].endswith('(v3)')
    assert 'safety_limit: watchdog trainer: ERROR trainer_status silent' in board.log[0]
    json.dumps(board.snapshot())
