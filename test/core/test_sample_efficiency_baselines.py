"""The sample-efficiency baselines (RLPD-style, SB3 SAC, filtered BC) and the ablation bench, end to end
on real MuJoCo Fetch with tiny sizes: each runs a few hundred env steps and yields a result entry."""
from __future__ import annotations

import importlib.util
import sys
from pathlib import Path

import numpy as np
import pytest

from residual_rl_ros.core.training.baselines import ConstantPolicy, record_episode, rlpd_recipe, rlpd_run
from residual_rl_ros.core.training.config import ResFiTRunConfig, apply_overrides, recipe_preset

pytestmark = pytest.mark.core
pytest.importorskip('gymnasium_robotics')

BENCH = Path(__file__).resolve().parents[2] / 'bench'
STEPS = 200
TINY = ['--steps', str(STEPS), '--eval-interval', '100', '--eval-episodes', '2', '--demos', '3', '--bc-steps', '30',
        '--preset', 'tiny', '--set', 'learner.critic_warmup_updates=10', '--set', 'learner.batch_size=32',
        '--set', 'network.actor_hidden_sizes=[32,32]', '--set', 'network.critic_hidden_sizes=[32,32]',
        '--run-set', 'warmup_env_steps=50', '--run-set', 'log_interval_steps=100000']


def _load(name: str):
    sys.path.insert(0, str(BENCH))
    spec = importlib.util.spec_from_file_location(name, BENCH / f'{name}.py')
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


se = _load('sample_efficiency')
ablations = _load('ablations')


@pytest.fixture(scope='module')
def base(tmp_path_factory):
    """A tiny real BC base (3 noisy scripted demos, 30 BC steps, ONNX) shared by the tests here."""
    args = se.parse_args(TINY)
    return se.build_base(args, 0, tmp_path_factory.mktemp('bench'))


def test_bc_set_overrides_the_base_recipe_and_names_a_bad_key():
    config = se.bc_config(se.parse_args(['--bc-steps', '300', '--bc-set', 'chunk_length=1', '--bc-set', 'loss=mse']))
    assert (config.num_steps, config.chunk_length, config.loss) == (300, 1, 'mse')
    with pytest.raises(Exception, match='chunk_lenght'):
        se.bc_config(se.parse_args(['--bc-set', 'chunk_lenght=1']))


@pytest.fixture
def task():
    from residual_rl_ros.sim.registry import make_task
    task = make_task('fetch_pick_place', seed=0)
    yield task
    task.close()


@pytest.mark.timeout(300)
@pytest.mark.parametrize('method', ['resfit', 'rlpd', 'sac', 'filtered_bc'])
def test_method_runs_its_budget_and_yields_a_result_entry(method, base, tmp_path):
    args = se.parse_args(TINY + ['--methods', method])
    entry = se.run_method(method, args, 0, base, tmp_path / method)
    history = entry['history']
    assert history[0]['env_steps'] == 0
    assert STEPS <= history[-1]['env_steps'] < STEPS + 50                  # at most one episode past
    assert len(history) >= 3                                                # start, 100, 200 (or the end)
    assert all(0.0 <= h['success_rate'] <= 1.0 and h['eval_episodes'] == 2 for h in history)
    assert entry['final_success_rate'] == history[-1]['success_rate']
    assert entry['steps_to_threshold'] in [None] + [h['env_steps'] for h in history]
    assert entry['cpu_s'] > 0


def test_rlpd_acts_over_the_whole_action_space_without_a_base(base, task):
    recipe = rlpd_recipe(apply_overrides(recipe_preset('tiny'), ['learner.critic_warmup_updates=0',
                                                                 'learner.batch_size=16']))
    config = ResFiTRunConfig(total_env_steps=60, warmup_env_steps=60, eval_at_start=False, eval_episodes=1)
    run = rlpd_run(task, base.demos, recipe, config, printer=None)
    assert np.all(run.learner.residual_bound == 1.0) and run.config.warmup_noise == 1.0
    np.testing.assert_array_equal(run.learner.action_normalizer.normalize(task.action_low), -1.0)
    np.testing.assert_array_equal(run.learner.action_normalizer.normalize(task.action_high), 1.0)
    while run.env_steps < 60:
        run.train_episode()
    online = run.buffers['online'].sample(64, np.random.default_rng(0))
    assert np.all(online.base_action == 0.0)                               # no base: constant middle action
    assert np.abs(online.action).max() > 0.8                               # warm-up spans the bounds


def test_recorded_rollout_replays_to_the_same_outcome(base, task):
    episode = record_episode(task, base.policy, seed=7)
    assert episode.proprio.shape[0] == episode.actions.shape[0] + 1 == episode.task_state.shape[0]
    assert np.all(episode.actions >= task.action_low) and np.all(episode.actions <= task.action_high)
    task.reset(7)
    results = [task.step(a) for a in episode.actions]
    np.testing.assert_allclose(results[-1].observation.task_state, episode.task_state[-1], atol=1e-6)
    assert results[-1].success == episode.success


def test_task_env_passes_the_sb3_env_checker_and_uses_our_seeds(task):
    from stable_baselines3.common.env_checker import check_env

    from residual_rl_ros.core.training.sb3_sac import TaskEnv
    check_env(TaskEnv(task, seed=3), warn=False)
    env = TaskEnv(task, seed=3)
    first, _ = env.reset()
    np.testing.assert_array_equal(first[-3:], task.reset(3 * 10**6).task_state[-3:])   # same goal
    rewards, terminated, truncated = [], False, False
    while not (terminated or truncated):
        _, reward, terminated, truncated, info = env.step(np.zeros(4, np.float32))
        rewards.append(reward)
    assert sum(rewards) == (1.0 if info['is_success'] else 0.0)
    assert terminated == (info['is_success'] or len(rewards) < task.max_episode_steps)


def test_constant_policy_is_a_base_policy():
    from residual_rl_ros.core.types import BasePolicy
    policy = ConstantPolicy(np.array([0.5, -1.0]))
    assert isinstance(policy, BasePolicy)
    assert policy.act(None).shape == (1, 2)


def test_report_gives_each_baselines_steps_over_resfits():
    def result(steps, final=0.5):
        return {'steps_to_threshold': steps, 'final_success_rate': final, 'best_success_rate': final,
                'wall_s': 1.0, 'cpu_s': 1.0}
    results = {'seeds': {'0': {'resfit': result(2000), 'rlpd': result(8000), 'sac': result(None)}}}
    lines = se.report(results, 0.9, budget=10_000)
    assert 'seed 0 steps-to-90% rlpd / ResFiT: 4.00x' in lines
    assert any(line.startswith('seed 0 steps-to-90% sac / ResFiT: > 5.00x') for line in lines)


def test_keep_reuses_entries_only_from_a_run_with_the_same_options(tmp_path):
    import json
    args = se.parse_args(TINY + ['--out', str(tmp_path), '--keep'])
    entry = {'steps_to_threshold': None, 'history': []}
    stored = {'args': dict(vars(args), methods=['sac']), 'seeds': {'0': {'sac': entry, 'base': {}}}}
    (tmp_path / 'results.json').write_text(json.dumps(stored))
    assert se.previous_results(tmp_path / 'results.json', args) == {'0': {'sac': entry}}
    other = se.parse_args(TINY + ['--out', str(tmp_path), '--keep', '--eval-episodes', '5'])
    with pytest.raises(ValueError, match='eval_episodes'):
        se.previous_results(tmp_path / 'results.json', other)


def test_every_ablation_variant_is_a_valid_one_change_config():
    reference = recipe_preset('cpu')
    for name, (recipe_set, run_set) in ablations.VARIANTS.items():
        recipe = apply_overrides(reference, list(recipe_set))
        apply_overrides(ResFiTRunConfig(), list(run_set))
        if name == 'no_layer_norm':
            assert recipe.network.layer_norm is False
    assert set(ablations.DEFAULT_VARIANTS) <= set(ablations.VARIANTS)


@pytest.mark.timeout(300)
def test_ablation_bench_runs_two_variants_end_to_end(base, tmp_path):
    import shutil
    shutil.copytree(Path(base.onnx_path).parent, tmp_path / 'base_seed0')   # reuse the fixture's base
    argv = TINY + ['--out', str(tmp_path), '--variants', 'reference', 'no_layer_norm', '--steps', '100']
    assert ablations.main(argv) == 0
    import json
    results = json.loads((tmp_path / 'results.json').read_text())
    entry = results['seeds']['0']
    assert {'bc', 'reference', 'no_layer_norm'} <= set(entry)
    assert entry['no_layer_norm']['history'][-1]['env_steps'] >= 100
    assert (tmp_path / 'ablations.png').stat().st_size > 0
