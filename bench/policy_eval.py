"""In-process evaluation of BC + residual policies on the same evaluation seeds (shared by the live benches).

Deterministic residual, `core/training/rollout.py` episodes, seeds `seed_offset + i` for every policy, so
two policies can be compared seed by seed (paired). As a script, BC alone against the final learners of
in-process runs (`core.resfit_loop` / bench/sample_efficiency.py checkpoints), one process per policy:

    python bench/policy_eval.py --task fetch_pick_place --base artifacts/fetch_bc.onnx \
        --checkpoints runs/a/learner_00050008.safetensors runs/b/learner_00050010.safetensors --episodes 200
"""
from __future__ import annotations

import argparse
import json
import math
import multiprocessing
import sys
import time
from concurrent.futures import ProcessPoolExecutor
from pathlib import Path
from typing import Callable

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))     # run from a checkout without installing

from residual_rl_ros.core.actor_export import policy_from_weights, read_actor_weights_file  # noqa: E402
from residual_rl_ros.core.base_policy import load_base_policy  # noqa: E402
from residual_rl_ros.core.chunking import ChunkExecutor  # noqa: E402
from residual_rl_ros.core.normalizers import ActionNormalizer  # noqa: E402
from residual_rl_ros.core.training.rollout import ResidualFn, run_episode, zero_residual  # noqa: E402

Policy = tuple[ActionNormalizer, ResidualFn]


def evaluate(task_name: str, base_path: Path, policies: dict[str, Policy], episodes: int, seed_offset: int,
             label: str = 'eval') -> dict[str, list[bool]]:
    """Success per evaluation seed for each (action normalizer, residual) policy."""
    from residual_rl_ros.sim.registry import make_task
    task = make_task(task_name, seed=0)
    executor = ChunkExecutor(load_base_policy(str(base_path)))
    results = {}
    try:
        for name, (normalizer, residual) in policies.items():
            start = time.monotonic()
            results[name] = [run_episode(task, executor, normalizer, residual, seed_offset + i).success
                             for i in range(episodes)]
            print(f'[{label}] {name:>6}: {np.mean(results[name]):6.1%} success on {episodes} episodes '
                  f'({time.monotonic() - start:.0f} s)', flush=True)
    finally:
        task.close()
    return results


def live_and_bc(run_dir: Path) -> dict[str, Policy]:
    """The final actor of a live run (run_dir/actor_latest.safetensors) and the BC base alone (zero residual)."""
    actor = policy_from_weights(read_actor_weights_file(run_dir / 'actor_latest.safetensors'))
    normalizer = actor.action_normalizer
    return {'live': (normalizer, actor.residual), 'bc': (normalizer, zero_residual(normalizer.dim))}


def _success_in_worker(task_name: str, base: str, name: str, build: Callable[[str], Policy], source: str,
                       episodes: int, seed_offset: int, label: str) -> list[bool]:
    """`evaluate` of the one policy `build(source)` in a worker process (one torch thread)."""
    import torch
    torch.set_num_threads(1)
    return evaluate(task_name, Path(base), {name: build(source)}, episodes, seed_offset, label)[name]


def _live_policy(run_dir: str) -> Policy:
    return live_and_bc(Path(run_dir))['live']


def _bc_of_run(run_dir: str) -> Policy:
    return live_and_bc(Path(run_dir))['bc']


def _evaluate_in_workers(task_name: str, base: Path, jobs: dict[str, tuple[Callable[[str], Policy], str]],
                         episodes: int, seed_offset: int, label: str, workers: int = 2) -> dict[str, list[bool]]:
    """Each named (builder, source) policy on the same seeds, in `workers` processes at once."""
    with ProcessPoolExecutor(workers, mp_context=multiprocessing.get_context('spawn')) as pool:
        futures = {name: pool.submit(_success_in_worker, task_name, str(base), name, build, source, episodes,
                                     seed_offset, label) for name, (build, source) in jobs.items()}
        return {name: future.result() for name, future in futures.items()}


def evaluate_live_and_bc(task_name: str, run_dir: Path, episodes: int, seed_offset: int,
                         label: str = 'eval') -> dict[str, list[bool]]:
    """`live_and_bc(run_dir)` on the same seeds, the two policies in two processes at once (one core each)."""
    jobs = {'live': (_live_policy, str(run_dir)), 'bc': (_bc_of_run, str(run_dir))}
    return _evaluate_in_workers(task_name, Path(run_dir) / 'bc.onnx', jobs, episodes, seed_offset, label)


def paired_difference(a: list[bool], b: list[bool]) -> dict:
    """mean(b) - mean(a) on the same seeds, its paired standard error, and the seeds won by one side only."""
    x, y = np.asarray(a, float), np.asarray(b, float)
    n = len(x)
    diff = y - x
    se = float(diff.std(ddof=1) / math.sqrt(n)) if n > 1 else float('nan')
    return {'episodes': n, 'first': float(x.mean()), 'second': float(y.mean()), 'difference': float(diff.mean()),
            'paired_se': se, 'only_first': int(np.sum((x == 1) & (y == 0))),
            'only_second': int(np.sum((y == 1) & (x == 0)))}


def _checkpoint_policy(path: str) -> Policy:
    """The deterministic residual of a learner checkpoint (`core.checkpoint.save_checkpoint` output)."""
    from residual_rl_ros.core.checkpoint import load_checkpoint
    learner = load_checkpoint(path)
    return learner.action_normalizer, lambda obs, base, phase: learner.act(obs, base, phase, explore=False)


def _bc_of_task(task_name: str) -> Policy:
    """BC alone, with the task's own bounds mapped to [-1, 1] (as `training.pipeline.evaluate_base`)."""
    from residual_rl_ros.core.training.pipeline import bounds_normalizer
    from residual_rl_ros.sim.registry import make_task
    task = make_task(task_name, seed=0)
    try:
        normalizer = bounds_normalizer(task)
    finally:
        task.close()
    return normalizer, zero_residual(normalizer.dim)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split('\n\n')[0])
    parser.add_argument('--task', default='fetch_pick_place')
    parser.add_argument('--base', required=True, help='the BC base (ONNX) every run was trained on')
    parser.add_argument('--checkpoints', nargs='+', required=True, help='learner_*.safetensors of finished runs')
    parser.add_argument('--episodes', type=int, default=200)
    parser.add_argument('--seed-offset', type=int, default=1_000_000_000)
    parser.add_argument('--workers', type=int, default=2)
    parser.add_argument('--out', help='write the per-seed results and paired differences here (JSON)')
    args = parser.parse_args(argv)
    jobs = {'bc': (_bc_of_task, args.task), **{path: (_checkpoint_policy, path) for path in args.checkpoints}}
    results = _evaluate_in_workers(args.task, Path(args.base), jobs, args.episodes, args.seed_offset, 'eval',
                                   args.workers)
    report = {'episodes': args.episodes, 'base': args.base, 'success': {k: float(np.mean(v)) for k, v in
                                                                       results.items()},
              'vs_bc': {k: paired_difference(results['bc'], v) for k, v in results.items() if k != 'bc'}}
    for name, paired in report['vs_bc'].items():
        print(f'[policy_eval] {name}: BC {paired["first"]:.1%} -> {paired["second"]:.1%} on the same '
              f'{paired["episodes"]} seeds, {paired["difference"]:+.1%} +- {paired["paired_se"]:.1%} paired SE')
    if args.out:
        Path(args.out).write_text(json.dumps(dict(report, per_seed=results), indent=1))
    return 0


if __name__ == '__main__':
    sys.exit(main())
