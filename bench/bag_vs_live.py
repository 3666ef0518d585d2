"""Replayed bags vs live training: does a residual retrained offline from a live run's bags do as well in sim?

Takes the run folder of a live graph training run (`python -m residual_rl_ros.apps.humanoid_train --task
fetch_pick_place --run-dir DIR --env-steps N` records its bags in DIR/bags), then

1. retrains offline from DIR/bags with apps/replay_train: the recipe stored in the live checkpoint, the
   run's trainer parameters (warm-up, episode limit, relabel window), its demos and BC base, and as many
   critic updates as the live trainer made (spread evenly over the post-warm-up transitions);
2. evaluates the live run's final actor (DIR/actor_latest.safetensors), the replay-trained one and the
   BC base alone in sim, in-process with core/training/rollout.py: deterministic residual, the same
   evaluation seeds (eval_seed_offset + i) for all three;
3. prints the success rates, their difference with its binomial standard error, and the seeds on which
   only one of the two succeeded; writes OUT/bag_vs_live.json.

    python bench/bag_vs_live.py --run-dir runs/live_fetch [--episodes 100] [--out runs/live_fetch_replay]

torch runs on one thread (the machine is shared); the retraining prints replay_train's progress.
"""
from __future__ import annotations

import argparse
import json
import math
import shutil
import sys
import time
from pathlib import Path

import numpy as np
import torch
import yaml

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))     # run from a checkout

from residual_rl_ros.apps import replay_train  # noqa: E402
from residual_rl_ros.core.actor_export import policy_from_weights, read_actor_weights_file  # noqa: E402
from residual_rl_ros.core.checkpoint import checkpoint_config  # noqa: E402
from residual_rl_ros.core.training.config import ResFiTRunConfig  # noqa: E402
from residual_rl_ros.core.training.rollout import zero_residual  # noqa: E402

sys.path.insert(0, str(Path(__file__).resolve().parent))     # its sibling module, also when imported
from policy_eval import evaluate  # noqa: E402


def retrain(run: Path, out: Path, critic_updates: int, recipe: dict) -> float:
    """Offline ResFiT from run/bags into out/ (fresh); returns wall seconds."""
    if out.exists():
        shutil.rmtree(out)
    out.mkdir(parents=True)
    (out / 'recipe.yaml').write_text(yaml.safe_dump(recipe, sort_keys=False))
    argv = ['--bags', str(run / 'bags'), '--run-dir', str(out / 'offline'), '--demos', str(run / 'demos.npz'),
            '--base', str(run / 'bc.onnx'), '--params-file', str(run / 'params.yaml'),
            '--recipe-file', str(out / 'recipe.yaml'), '--critic-updates', str(critic_updates)]
    print(f'[bag_vs_live] python -m residual_rl_ros.apps.replay_train {" ".join(argv)}', flush=True)
    start = time.monotonic()
    if replay_train.main(argv) != 0:
        raise SystemExit('[bag_vs_live] replay_train failed')
    return time.monotonic() - start


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument('--run-dir', required=True, help='folder of a live graph run (bags/, checkpoint/, ...)')
    parser.add_argument('--out', help='folder for the offline run and the result (default <run-dir>_replay)')
    parser.add_argument('--episodes', type=int, default=100, help='evaluation episodes per policy')
    parser.add_argument('--skip-retrain', action='store_true', help='evaluate an earlier retraining in --out')
    args = parser.parse_args()
    torch.set_num_threads(1)
    run = Path(args.run_dir).resolve()
    out = Path(args.out).resolve() if args.out else run.with_name(run.name + '_replay')
    live = checkpoint_config(run / 'checkpoint' / 'learner.safetensors')
    critic_updates = int(live['counters']['critic_updates'])
    task_name = yaml.safe_load((run / 'params.yaml').read_text())['sim_robot']['ros__parameters']['task']
    stored = json.loads((run / 'checkpoint' / 'live_state.json').read_text())['stored']
    print(f'[bag_vs_live] live run {run}: task {task_name}, {stored} transitions stored, {critic_updates} critic '
          f'updates, policy v{live["policy_version"]}', flush=True)
    seconds = None if args.skip_retrain else retrain(run, out, critic_updates, live['recipe'])
    offline = checkpoint_config(out / 'offline' / 'checkpoint' / 'learner.safetensors')
    actors = {name: policy_from_weights(read_actor_weights_file(path / 'actor_latest.safetensors'))
              for name, path in (('live', run), ('replay', out / 'offline'))}
    normalizer = actors['live'].action_normalizer
    policies = {'live': (normalizer, actors['live'].residual), 'replay': (actors['replay'].action_normalizer,
                                                                          actors['replay'].residual),
                'bc': (normalizer, zero_residual(normalizer.dim))}
    seed_offset = ResFiTRunConfig().eval_seed_offset
    success = evaluate(task_name, run / 'bc.onnx', policies, args.episodes, seed_offset, 'bag_vs_live')
    p_live, p_replay, n = float(np.mean(success['live'])), float(np.mean(success['replay'])), args.episodes
    se = math.sqrt(p_live * (1 - p_live) / n + p_replay * (1 - p_replay) / n)
    only_live = sum(a and not b for a, b in zip(success['live'], success['replay']))
    only_replay = sum(b and not a for a, b in zip(success['live'], success['replay']))
    diff = p_replay - p_live
    verdict = 'within noise' if abs(diff) <= 2 * se else 'NOT within noise'
    print(f'[bag_vs_live] live {p_live:.1%} (v{actors["live"].version}, {critic_updates} critic updates) | '
          f'replay-trained {p_replay:.1%} (v{actors["replay"].version}, {offline["counters"]["critic_updates"]} '
          f'critic updates) | BC {np.mean(success["bc"]):.1%} | difference {diff:+.1%} +- {se:.1%} (binomial SE; '
          f'{verdict}: |diff| <= 2 SE) | same seeds: {only_live} won by live only, {only_replay} by replay only',
          flush=True)
    result = {'run_dir': str(run), 'task': task_name, 'episodes': n, 'eval_seed_offset': seed_offset,
              'live_success': p_live, 'replay_success': p_replay, 'bc_success': float(np.mean(success['bc'])),
              'difference': diff, 'binomial_se': se, 'within_2se': abs(diff) <= 2 * se,
              'only_live': only_live, 'only_replay': only_replay, 'live_critic_updates': critic_updates,
              'replay_critic_updates': int(offline['counters']['critic_updates']),
              'live_policy_version': actors['live'].version, 'replay_policy_version': actors['replay'].version,
              'retrain_wall_s': seconds, 'per_seed': {k: [bool(x) for x in v] for k, v in success.items()}}
    (out / 'bag_vs_live.json').write_text(json.dumps(result, indent=2) + '\n')
    print(f'[bag_vs_live] wrote {out / "bag_vs_live.json"}', flush=True)
    return 0


if __name__ == '__main__':
    sys.exit(main())
