"""The main job: from nothing to a residual trained live on the simulated GR-1 humanoid.

1. scripted, noisy demonstrations -> an action-chunked BC base policy (ONNX) -> its success alone;
2. the `humanoid_train` graph (the same one `ros2 launch residual_rl_ros humanoid_train.launch.py`
   starts), each node its own process over DDS on localhost: episodes, success rate and policy version
   print as it goes;
3. a report: run_dir/report.png (success-rate curve) and run_dir/summary.json.

    python -m residual_rl_ros.apps.humanoid_train [--run-dir runs/humanoid] [--env-steps 20000]
Re-running with the same run dir reuses the demos and the base, and resumes training from its checkpoint.
"""
from __future__ import annotations

import argparse
import json
import os
import sys
from pathlib import Path

import yaml

from residual_rl_ros.apps.report import read_episodes, success_curve, write_report
from residual_rl_ros.apps.task_params import params_for_task
from residual_rl_ros.bringup import runner
from residual_rl_ros.bringup.graphs import GRAPHS
from residual_rl_ros.core.types import Task

GRAPH = 'humanoid_train'


# Per-task defaults of the options below: the settings of the measured live runs (README, "Measured"). The GR-1
# base comes from 12 demos at noise 0.4 (65-73% alone), weak enough to leave room for the residual.
TASK_DEFAULTS = {
    'humanoid_gr1': {'env_steps': 12_000, 'demos': 12, 'demo_noise': 0.4, 'eval_episodes': 20,
                     'warmup_env_steps': 3000, 'eval_every': 3},
    'fetch_pick_place': {'env_steps': 20_000, 'demos': 50, 'demo_noise': 0.3, 'eval_episodes': 30,
                         'warmup_env_steps': 5000, 'eval_every': 4},
}
GENERIC_DEFAULTS = {'env_steps': 20_000, 'demos': 50, 'demo_noise': 0.3, 'eval_episodes': 30,
                    'warmup_env_steps': None, 'eval_every': None}      # None: config/humanoid_train.yaml


def parse_args(argv: list[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument('--run-dir', default='runs/humanoid', help='folder for every output of the run')
    parser.add_argument('--task', default='humanoid_gr1', help='simulated task (humanoid_gr1, fetch_pick_place, '
                        'adroit_relocate)')
    parser.add_argument('--env-steps', type=int, help='live env steps to train for (GR-1 12000, Fetch 20000)')
    parser.add_argument('--demos', type=int, help='scripted demonstrations for BC (GR-1 12, Fetch 50)')
    parser.add_argument('--demo-noise', type=float, help='action noise of the demonstrations (GR-1 0.4, Fetch 0.3)')
    parser.add_argument('--eval-episodes', type=int, help='episodes to measure the BC base (GR-1 20, Fetch 30)')
    parser.add_argument('--warmup-env-steps', type=int,
                        help='trainer warm-up (base + uniform noise) before updates (GR-1 3000, Fetch 5000; '
                             'other tasks: config/humanoid_train.yaml)')
    parser.add_argument('--recipe-file', default=None,
                        help="YAML of recipe overrides for the trainer (e.g. 'learner: {actor_lr: 3.0e-5}')")
    parser.add_argument('--eval-every', type=int,
                        help='every Nth live episode is an evaluation episode (GR-1 3, Fetch 4; other tasks: '
                             'config/humanoid_train.yaml)')
    args = parser.parse_args(argv)
    for key, value in TASK_DEFAULTS.get(args.task, GENERIC_DEFAULTS).items():
        if getattr(args, key) is None:
            setattr(args, key, value)
    return args


def run_params(run_dir: Path, env_steps: int, task: Task, warmup_env_steps: int | None = None,
               eval_every: int | None = None, recipe_file: str | None = None) -> Path:
    """The graph's params file for this run: the shipped config, fitted to the task, with this run's length."""
    prefix = runner.package_prefix()
    template = yaml.safe_load((prefix / 'share' / 'residual_rl_ros' / 'config' / f'{GRAPH}.yaml').read_text())
    params = params_for_task(template, task, run_dir)
    params['trainer']['ros__parameters']['max_env_steps'] = env_steps
    if warmup_env_steps is not None:
        params['trainer']['ros__parameters']['warmup_env_steps'] = warmup_env_steps
    if recipe_file is not None:
        params['trainer']['ros__parameters']['recipe_file'] = str(Path(recipe_file).resolve())
    if eval_every is not None:
        params['reward_button']['ros__parameters']['eval_every_episodes'] = eval_every
    path = run_dir / 'params.yaml'
    path.write_text(yaml.safe_dump(params, sort_keys=False))
    return path


def summarize(run_dir: Path, bc_success: float, bc_eval_episodes: int) -> dict:
    """The run's figures from episodes.jsonl: final training and evaluation success rates."""
    episodes = read_episodes(run_dir)
    steps, rate = success_curve(episodes, 20)
    eval_steps, eval_rate = success_curve(episodes, 10, evaluation=True)
    return {'bc_success': bc_success, 'bc_eval_episodes': bc_eval_episodes,
            'env_steps': int(max(steps[-1] if len(steps) else 0, eval_steps[-1] if len(eval_steps) else 0)),
            'final_success_last_20': float(rate[-1]) if len(rate) else None,
            'final_eval_success_last_10': float(eval_rate[-1]) if len(eval_rate) else None,
            'eval_episodes': int(len(eval_steps))}


def _percent(value: float | None) -> str:
    return 'n/a' if value is None else f'{value:.0%}'


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    run_dir = Path(args.run_dir).resolve()
    run_dir.mkdir(parents=True, exist_ok=True)
    os.environ.setdefault('MUJOCO_GL', 'egl')
    os.environ.setdefault('ROS_AUTOMATIC_DISCOVERY_RANGE', 'LOCALHOST')   # a simulation: keep DDS on this machine
    print(f'[humanoid_train] run dir {run_dir}', flush=True)
    from residual_rl_ros.core.training.pipeline import build_bc_base
    from residual_rl_ros.sim.registry import make_task
    task = make_task(args.task, seed=0)
    try:
        base = build_bc_base(args.task, run_dir, demos=args.demos, noise=args.demo_noise,
                             eval_episodes=args.eval_episodes, task=task,
                             printer=lambda line: print(f'[humanoid_train] {line}', flush=True))
        params_file = run_params(run_dir, args.env_steps, task, args.warmup_env_steps, args.eval_every,
                                 args.recipe_file)
    finally:
        task.close()
    plans = runner.plan(GRAPHS[GRAPH], {'params_file': str(params_file), 'run_dir': str(run_dir)})
    print(f'[humanoid_train] starting the {GRAPH} graph: {", ".join(p.name for p in plans)} '
          f'({args.env_steps} env steps)', flush=True)
    code = runner.run(plans)
    summary = summarize(run_dir, base.bc_success, base.eval_episodes)
    summary.update(report=str(write_report(run_dir, f'Residual RL, live through the ROS graph: {args.task}',
                                           base.bc_success)), graph_exit_code=code)
    (run_dir / 'summary.json').write_text(json.dumps(summary, indent=2) + '\n')
    print(f'[humanoid_train] done: BC {base.bc_success:.0%}; ResFiT evaluation (last 10) '
          f'{_percent(summary["final_eval_success_last_10"])}, training (last 20, exploring) '
          f'{_percent(summary["final_success_last_20"])} after {summary["env_steps"]} env steps; '
          f'report {summary["report"]}', flush=True)
    return code


if __name__ == '__main__':
    sys.exit(main())
