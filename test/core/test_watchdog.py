"""Watchdogs: silent inputs are named with their age, at a defined level, with the graph's behaviour."""
import pytest

from residual_rl_ros.core.watchdog import ERROR, OK, WARN, SensorWatch, TrainerWatch, UpstreamWatch, silence


def test_silence_names_the_input_its_age_and_the_behaviour() -> None:
    check = silence('base_policy', 1.0, 1.75, 0.5, True, 'base_action', 'safety holds')
    assert check.level == ERROR and check.message == 'base_action: silent for 0.75 s (timeout 0.5 s)'
    assert check.behaviour == 'safety holds'
    assert silence('x', 1.0, 1.4, 0.5, True, 'x', '').level == OK
    assert silence('x', None, 9.0, 0.5, False, 'x', '').level == OK            # not expected: fine
    assert 'never received' in silence('x', None, 9.0, 0.5, True, 'x', '').message


def test_sensor_watch_warns_on_stale_ticks_and_errors_without_joint_states() -> None:
    watch = SensorWatch(joint_timeout_s=0.2)
    assert watch.check(0.0).level == ERROR                                     # no joint state yet
    watch.on_joint_state(1.0)
    watch.on_tick([])
    watch.on_tick(['camera:wrist'])
    check = watch.check(1.1)
    assert check.level == WARN and check.message == 'stale sensors: camera:wrist in 1/2 ticks'
    assert 'holds' in check.behaviour
    watch.on_tick([])
    assert watch.check(1.15).level == OK                                       # counts restart per period
    check = watch.check(1.5)
    assert check.level == ERROR and 'joint_states: silent for 0.50 s' in check.message


def test_upstream_watch_names_the_silent_stage_only_when_it_is_owed() -> None:
    watch = UpstreamWatch(base_timeout_s=0.3, proposal_timeout_s=0.2)
    assert [c.level for c in watch.checks(0.0)] == [OK, OK]                    # idle, nothing seen yet
    watch.on_base_action(1.0)
    watch.on_episode(True, 1.0)
    assert [c.level for c in watch.checks(1.1)] == [OK, OK]                    # episode just started
    base, residual = watch.checks(1.25)
    assert base.level == OK and residual.level == ERROR
    assert residual.message.startswith('action_proposal (residual_policy): silent for 0.25 s')
    watch.on_proposal(1.3)
    base, residual = watch.checks(1.45)
    assert base.level == ERROR and 'base_action' in base.message and residual.level == OK
    watch.on_episode(False, 1.5)
    watch.on_base_action(1.5)
    assert [c.level for c in watch.checks(1.6)] == [OK, OK]        # between episodes: no proposals owed


def test_trainer_watch_warns_then_errors_while_episodes_run_and_says_the_policy_keeps_its_weights() -> None:
    watch = TrainerWatch(warn_after_s=5.0, error_after_s=10.0)
    assert watch.check(0.0).level == OK                                       # no trainer at all (deploy)
    watch.on_status(env_steps=100, policy_version=3, now_s=0.0)
    for t in range(1, 8):                                                      # records flow, status stops
        watch.on_record(float(t))
    check = watch.check(7.0)
    assert check.level == WARN and check.message == 'trainer_status silent for 7.0 s while episodes run'
    assert check.behaviour == 'the residual keeps running its current weights (v3)'
    for t in range(8, 13):
        watch.on_record(float(t))
    assert watch.check(12.0).level == ERROR
    assert watch.check(40.0).level == OK                                       # no episode running: idle is fine


def test_trainer_watch_sees_a_trainer_that_reports_but_stores_nothing() -> None:
    watch = TrainerWatch(warn_after_s=5.0, error_after_s=10.0)
    for t in range(0, 12):
        watch.on_status(env_steps=50, policy_version=1, now_s=float(t))
        watch.on_record(float(t))
    check = watch.check(11.0)
    assert check.level == ERROR and check.message.startswith('trainer env_steps stuck at 50 for 11.0 s while 12 '
                                                             'records were executed')
    watch.on_status(env_steps=51, policy_version=1, now_s=11.5)
    assert watch.check(11.5).level == OK


def test_trainer_watch_thresholds_are_validated() -> None:
    with pytest.raises(ValueError, match=r'need 0 < warn_after_s \(5.0\) <= error_after_s \(1.0\)'):
        TrainerWatch(5.0, 1.0)
