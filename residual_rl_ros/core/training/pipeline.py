"""From nothing to a trained base policy: noisy scripted demos -> chunked BC -> ONNX -> loaded -> measured.

Reuses the existing pieces: `sim.collect_demos.collect_demos`, `core.bc.train_bc`, `core.bc.export_onnx`,
`core.base_policy.load_base_policy`; BC success is measured with the same episode code as the residual
evaluation (`rollout.run_episode` with residual 0) on the same fresh evaluation seeds.

    from residual_rl_ros.core.training.pipeline import build_bc_base
    base = build_bc_base('fetch_pick_place', 'artifacts/fetch', demos=50, noise=0.3)
    base.bc_success, base.onnx_path, base.demos_path

Simulator modules are imported inside the functions, so importing this module pulls in no simulator.
"""
from __future__ import annotations

import dataclasses
import json
import time
from pathlib import Path

import numpy as np

from residual_rl_ros.core.base_policy import load_base_policy
from residual_rl_ros.core.bc import BCConfig, export_onnx, train_bc
from residual_rl_ros.core.chunking import ChunkExecutor
from residual_rl_ros.core.demos import load_episodes, save_episodes
from residual_rl_ros.core.normalizers import ActionNormalizer
from residual_rl_ros.core.training.rollout import run_episode, zero_residual
from residual_rl_ros.core.types import BasePolicy, Episode, Task

DEFAULT_EVAL_SEED_OFFSET = 1_000_000_000        # same as ResFiTRunConfig.eval_seed_offset


@dataclasses.dataclass
class BaseArtifacts:
    """What `build_bc_base` produced."""

    demos_path: Path
    onnx_path: Path
    demos: list[Episode]
    policy: BasePolicy
    bc_success: float
    eval_episodes: int
    timings_s: dict[str, float]


def bounds_normalizer(task: Task) -> ActionNormalizer:
    """Maps the task's action bounds to [-1, 1] (used to run a base policy alone, residual 0)."""
    low, high = np.asarray(task.action_low, np.float64), np.asarray(task.action_high, np.float64)
    return ActionNormalizer((low + high) / 2.0, np.maximum((high - low) / 2.0, 1e-9))


def evaluate_base(task: Task, policy: BasePolicy, episodes: int,
                  seed_offset: int = DEFAULT_EVAL_SEED_OFFSET) -> float:
    """Success rate of the base policy alone on seeds seed_offset + i."""
    executor, normalizer = ChunkExecutor(policy), bounds_normalizer(task)
    residual = zero_residual(len(task.action_low))
    return float(np.mean([run_episode(task, executor, normalizer, residual, seed_offset + i).success
                          for i in range(episodes)]))


def collect_task_demos(task: Task, episodes: int, noise: float, seed: int = 0,
                       only_successes: bool = True, printer=None) -> list[Episode]:
    """Scripted-expert demos with Gaussian action noise (see `sim.collect_demos`)."""
    from residual_rl_ros.sim.collect_demos import collect_demos
    from residual_rl_ros.sim.demonstrators import make_demonstrator

    def progress(attempts: int, kept: int, successes: int) -> None:
        if printer is not None and (attempts % 10 == 0 or kept == episodes):
            printer(f'demos: {kept}/{episodes} kept, {successes}/{attempts} successful')
    return collect_demos(task, make_demonstrator(task), episodes, seed, noise, only_successes=only_successes,
                         progress=progress)


def build_bc_base(task_name: str, out_dir: str | Path, *, demos: int = 50, noise: float = 0.3,
                  demo_seed: int = 0, bc: BCConfig | None = None, bc_seed: int = 0, eval_episodes: int = 50,
                  eval_seed_offset: int = DEFAULT_EVAL_SEED_OFFSET, reuse: bool = True,
                  task: Task | None = None, printer=print) -> BaseArtifacts:
    """Collect demos, train and export a BC base to `out_dir/{demos.npz,bc.onnx}`, load it, measure it.

    With `reuse`, existing files in `out_dir` are kept (demos and model are then not rebuilt). A
    `task` may be passed to reuse an open simulator; otherwise one is made and closed here.
    """
    from residual_rl_ros.sim.registry import make_task
    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    demos_path, onnx_path = out / 'demos.npz', out / 'bc.onnx'
    own_task = task is None
    task = task or make_task(task_name, seed=demo_seed)
    timings: dict[str, float] = {}
    try:
        start = time.monotonic()
        if reuse and demos_path.exists():
            episodes = load_episodes(demos_path)
        else:
            episodes = collect_task_demos(task, demos, noise, demo_seed, printer=printer)
            save_episodes(demos_path, episodes)
        timings['demos_s'] = time.monotonic() - start
        printer(f'demos: {len(episodes)} episodes, {sum(len(e.actions) for e in episodes)} steps '
                f'({timings["demos_s"]:.0f}s)')
        start = time.monotonic()
        if not (reuse and onnx_path.exists()):
            config = bc or BCConfig()
            def bc_progress(row: dict) -> None:
                printer(f'BC step {row["step"]}/{config.num_steps}  loss {row["loss"]:.4f}')
            export_onnx(train_bc(episodes, config, seed=bc_seed, progress=bc_progress), onnx_path)
            onnx_path.with_suffix('.onnx.json').write_text(json.dumps(
                {'config': dataclasses.asdict(config), 'seed': bc_seed, 'demos': str(demos_path),
                 'noise': noise, 'demo_seed': demo_seed}, indent=2) + '\n')
        timings['bc_s'] = time.monotonic() - start
        policy = load_base_policy(str(onnx_path))
        start = time.monotonic()
        success = evaluate_base(task, policy, eval_episodes, eval_seed_offset)
        timings['eval_s'] = time.monotonic() - start
        printer(f'BC base {onnx_path}: success {success:.1%} on {eval_episodes} episodes '
                f'(bc {timings["bc_s"]:.0f}s, eval {timings["eval_s"]:.0f}s)')
    finally:
        if own_task:
            task.close()
    return BaseArtifacts(demos_path, onnx_path, episodes, policy, success, eval_episodes, timings)
