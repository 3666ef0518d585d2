"""Scripted demonstrators solve their tasks; demo collection records executed actions and round-trips."""
from __future__ import annotations

import os

import numpy as np
import pytest

os.environ.setdefault('MUJOCO_GL', 'egl')

from residual_rl_ros.core.demos import load_episodes  # noqa: E402
from residual_rl_ros.sim import make_task  # noqa: E402
from residual_rl_ros.sim.collect_demos import collect_demos, main, run_episode  # noqa: E402
from residual_rl_ros.sim.demonstrators import make_demonstrator  # noqa: E402

pytestmark = pytest.mark.core


@pytest.fixture(scope='module')
def fetch():
    task = make_task('fetch_pick_place')
    yield task
    task.close()


def test_fetch_expert_solves_at_least_4_of_5_without_noise(fetch) -> None:
    episodes = collect_demos(fetch, make_demonstrator(fetch), 5, seed=0, noise_std=0.0)
    assert sum(e.success for e in episodes) >= 4


def test_adroit_expert_solves_at_least_2_of_3_without_noise() -> None:
    with make_task('adroit_relocate') as task:
        episodes = collect_demos(task, make_demonstrator(task), 3, seed=0, noise_std=0.0)
    assert sum(e.success for e in episodes) >= 2


def test_recorded_actions_are_the_noisy_clipped_executed_ones(fetch) -> None:
    expert = make_demonstrator(fetch)
    clean = run_episode(fetch, expert, seed=3, noise_std=0.0, rng=np.random.default_rng(0))
    noisy = run_episode(fetch, expert, seed=3, noise_std=0.5, rng=np.random.default_rng(0))
    for episode in (clean, noisy):
        assert episode.actions.dtype == np.float32
        assert np.all(episode.actions >= fetch.action_low) and np.all(episode.actions <= fetch.action_high)
        assert len(episode.proprio) == len(episode.task_state) == len(episode.actions) + 1
    assert np.any(np.abs(noisy.actions) == 1.0)             # clipping happened at this noise level
    assert not np.allclose(noisy.actions[0], clean.actions[0])
    # Replaying the recorded actions from the same seed reproduces the recorded states.
    fetch.reset(3)
    replayed = [fetch.step(a).observation.task_state for a in noisy.actions]
    np.testing.assert_allclose(np.stack(replayed), noisy.task_state[1:], atol=1e-6)


def test_collection_is_reproducible_and_stops_at_success(fetch) -> None:
    expert = make_demonstrator(fetch)
    a = collect_demos(fetch, expert, 2, seed=5, noise_std=0.2)
    b = collect_demos(fetch, expert, 2, seed=5, noise_std=0.2)
    for x, y in zip(a, b):
        np.testing.assert_array_equal(x.actions, y.actions)
    for e in a:
        assert e.success or len(e.actions) == fetch.max_episode_steps


def test_only_successes_gives_up_with_a_clear_error(fetch) -> None:
    class Idle:
        def reset(self) -> None: ...

        def act(self, observation):
            return np.zeros(4, np.float32)

    with pytest.raises(RuntimeError, match='successful episodes'):
        collect_demos(fetch, Idle(), 1, seed=0, only_successes=True, max_attempts=1)


def test_demos_with_images_round_trip_through_save_and_load(tmp_path) -> None:
    with make_task('fetch_pick_place', image=True) as task:
        episodes = collect_demos(task, make_demonstrator(task), 1, seed=1, noise_std=0.1)
    from residual_rl_ros.core.demos import save_episodes

    save_episodes(tmp_path / 'd.npz', episodes)
    loaded = load_episodes(tmp_path / 'd.npz')
    assert len(loaded) == 1
    np.testing.assert_array_equal(loaded[0].actions, episodes[0].actions)
    np.testing.assert_array_equal(loaded[0].proprio, episodes[0].proprio)
    assert loaded[0].success == episodes[0].success
    assert loaded[0].images['front'].shape == (len(episodes[0].proprio), 84, 84, 3)
    assert loaded[0].images['front'].dtype == np.uint8


def test_cli_writes_a_loadable_demo_file(tmp_path, capsys) -> None:
    out = tmp_path / 'fetch.npz'
    assert main(['--task', 'fetch_pick_place', '--episodes', '2', '--noise', '0.1',
                 '--only-successes', '--out', str(out)]) == 0
    episodes = load_episodes(out)
    assert len(episodes) == 2 and all(e.success for e in episodes)
    assert 'wrote 2 episodes' in capsys.readouterr().out
