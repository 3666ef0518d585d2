"""In-process evaluation of BC + residual policies on the same evaluation seeds (shared by the live benches).

Deterministic residual, `core/training/rollout.py` episodes, seeds `seed_offset + i` for every policy, so
two policies can be compared seed by seed (paired).
"""
from __future__ import annotations

import math
import time
from pathlib import Path

import numpy as np

from residual_rl_ros.core.actor_export import policy_from_weights, read_actor_weights_file
from residual_rl_ros.core.base_policy import load_base_policy
from residual_rl_ros.core.chunking import ChunkExecutor
from residual_rl_ros.core.normalizers import ActionNormalizer
from residual_rl_ros.core.training.rollout import ResidualFn, run_episode, zero_residual

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


def _one_of_live_and_bc(task_name: str, run_dir: str, name: str, episodes: int, seed_offset: int,
                        label: str) -> list[bool]:
    import torch
    torch.set_num_threads(1)
    policy = live_and_bc(Path(run_dir))[name]
    return evaluate(task_name, Path(run_dir) / 'bc.onnx', {name: policy}, episodes, seed_offset, label)[name]


def evaluate_live_and_bc(task_name: str, run_dir: Path, episodes: int, seed_offset: int,
                         label: str = 'eval') -> dict[str, list[bool]]:
    """`live_and_bc(run_dir)` on the same seeds, the two policies in two processes at once (one core each)."""
    import multiprocessing
    from concurrent.futures import ProcessPoolExecutor
    with ProcessPoolExecutor(2, mp_context=multiprocessing.get_context('spawn')) as pool:
        futures = {name: pool.submit(_one_of_live_and_bc, task_name, str(run_dir), name, episodes, seed_offset,
                                     label) for name in ('live', 'bc')}
        return {name: future.result() for name, future in futures.items()}


def paired_difference(a: list[bool], b: list[bool]) -> dict:
    """mean(b) - mean(a) on the same seeds, its paired standard error, and the seeds won by one side only."""
    x, y = np.asarray(a, float), np.asarray(b, float)
    n = len(x)
    diff = y - x
    se = float(diff.std(ddof=1) / math.sqrt(n)) if n > 1 else float('nan')
    return {'episodes': n, 'first': float(x.mean()), 'second': float(y.mean()), 'difference': float(diff.mean()),
            'paired_se': se, 'only_first': int(np.sum((x == 1) & (y == 0))),
            'only_second': int(np.sum((y == 1) & (x == 0)))}
