"""Live training through the ROS graph (separate processes over DDS), per task: BC alone vs ResFiT live.

    python bench/live_graph.py --tasks fetch_pick_place humanoid_gr1 --env-steps 20000 --out runs/bench_live
    python bench/live_graph.py --run-dirs runs/live_fetch_v4 runs/live_gr1 --out runs/bench_live  # finished runs

Each task runs the main job (`residual_rl_ros.apps.humanoid_train --task T`): scripted noisy demos ->
BC base (ONNX) -> its success alone -> the `humanoid_train` graph fitted to the task, trained live for
--env-steps (warm-up and schedule as the in-process run: --warmup-env-steps 5000; every --eval-every-th
episode is an evaluation episode, deterministic residual, as the in-process run evaluates). With
--run-dirs, finished runs of that command are read instead (their task from params.yaml).

Then, per task, the final live actor (run_dir/actor_latest.safetensors) and the BC base alone are evaluated
in-process on the same --final-eval-episodes seeds (bench/policy_eval.py): the paired difference and its
standard error say whether live training lifted the base beyond evaluation noise.

Writes OUT/live_graph.json and OUT/live_graph.png (training and evaluation success against env steps, with
each task's BC line) and prints the figures. --offline-results adds the in-process ResFiT curve of the same
task (a bench/sample_efficiency.py results.json or a `core.resfit_loop` run folder with metrics.jsonl).
Not a test: minutes to hours on 2 cores.
"""
from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))     # run from a checkout

import yaml  # noqa: E402

from residual_rl_ros.apps.report import read_episodes, success_curve  # noqa: E402
from residual_rl_ros.core.training.config import ResFiTRunConfig  # noqa: E402

sys.path.insert(0, str(Path(__file__).resolve().parent))     # its sibling module, also when imported
from policy_eval import evaluate_live_and_bc, paired_difference  # noqa: E402


def run_task(task: str, out: Path, env_steps: int, demos: int, noise: float, warmup: int, eval_every: int) -> Path:
    run_dir = out / task
    cmd = [sys.executable, '-m', 'residual_rl_ros.apps.humanoid_train', '--task', task, '--run-dir', str(run_dir),
           '--env-steps', str(env_steps), '--demos', str(demos), '--demo-noise', str(noise),
           '--warmup-env-steps', str(warmup), '--eval-every', str(eval_every)]
    print(f'[live_graph] {" ".join(cmd)}', flush=True)
    subprocess.run(cmd, check=False, env=dict(os.environ, MUJOCO_GL=os.environ.get('MUJOCO_GL', 'egl')))
    return run_dir


def read_run(run_dir: Path) -> dict:
    """A finished live run's summary, task and success curves (training: last 20; evaluation: last 10)."""
    summary = json.loads((run_dir / 'summary.json').read_text())
    task = yaml.safe_load((run_dir / 'params.yaml').read_text())['sim_robot']['ros__parameters']['task']
    episodes = read_episodes(run_dir)
    steps, rate = success_curve(episodes)
    eval_steps, eval_rate = success_curve(episodes, 10, evaluation=True)
    summary.update(task=task, run_dir=str(run_dir), curve_env_steps=steps.tolist(), curve_success=rate.tolist(),
                   eval_curve_env_steps=eval_steps.tolist(), eval_curve_success=eval_rate.tolist())
    return summary


def final_evaluation(result: dict, episodes: int) -> dict:
    """BC alone vs the final live actor, in-process on the same evaluation seeds (paired; two processes)."""
    run_dir = Path(result['run_dir'])
    success = evaluate_live_and_bc(result['task'], run_dir, episodes, ResFiTRunConfig().eval_seed_offset,
                                   'live_graph')
    return paired_difference(success['bc'], success['live'])


def plot(results: list[dict], offline: dict[str, list[dict]], path: Path) -> None:
    import matplotlib
    matplotlib.use('Agg')
    import matplotlib.pyplot as plt
    fig, axes = plt.subplots(1, len(results), figsize=(6 * len(results), 4), squeeze=False)
    for ax, result in zip(axes[0], results):
        ax.plot(result['curve_env_steps'], result['curve_success'], alpha=0.6,
                label='live: training episodes (exploring), last 20')
        if result.get('eval_curve_env_steps'):
            ax.plot(result['eval_curve_env_steps'], result['eval_curve_success'], marker='.',
                    label='live: evaluation episodes (deterministic), last 10')
        ax.axhline(result['bc_success'], color='gray', linestyle='--', label=f'BC alone ({result["bc_success"]:.0%})')
        for curve in offline.get(result['task'], []):
            ax.plot(curve['env_steps'], curve['success'], linestyle=':', marker='x',
                    label=f'ResFiT in-process, same recipe ({curve["source"]})')
        ax.set(title=result['task'], xlabel='env steps', ylabel='success rate', ylim=(-0.02, 1.02))
        ax.grid(alpha=0.3)
        ax.legend(loc='lower right')
    fig.tight_layout()
    fig.savefig(path, dpi=100)


def load_offline(paths: list[str]) -> dict[str, list[dict]]:
    """{task: [{'env_steps', 'success', 'source'}, ...]} from sample_efficiency results (first ResFiT seed)
    or from `core.resfit_loop` run folders (config.json + metrics.jsonl)."""
    curves = {}
    for path in map(Path, paths):
        if path.is_dir():
            task = json.loads((path / 'config.json').read_text())['args']['task']
            history = [json.loads(line) for line in (path / 'metrics.jsonl').read_text().splitlines() if line]
        else:
            data = json.loads(path.read_text())
            seeds = [entry for _, entry in sorted(data.get('seeds', {}).items()) if 'resfit' in entry]
            if not seeds:
                continue
            task, history = data['task'], seeds[0]['resfit']['history']
        curves.setdefault(task, []).append({'env_steps': [h['env_steps'] for h in history],
                                            'success': [h['success_rate'] for h in history], 'source': path.name})
    return curves


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument('--tasks', nargs='+', default=['fetch_pick_place', 'humanoid_gr1'])
    parser.add_argument('--run-dirs', nargs='*', default=[], help='finished live runs to read instead of --tasks')
    parser.add_argument('--env-steps', type=int, default=20_000)
    parser.add_argument('--demos', type=int, default=50)
    parser.add_argument('--demo-noise', type=float, default=0.3)
    parser.add_argument('--warmup-env-steps', type=int, default=5000, help='as the in-process Fetch run')
    parser.add_argument('--eval-every', type=int, default=4, help='every Nth live episode is an evaluation episode')
    parser.add_argument('--final-eval-episodes', type=int, nargs='+', default=[200],
                        help='same-seed episodes for BC vs the final actor: one number, or one per task')
    parser.add_argument('--offline-results', nargs='*', default=[],
                        help='bench/sample_efficiency results.json or core.resfit_loop run folders')
    parser.add_argument('--out', default='runs/bench_live')
    args = parser.parse_args()
    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    run_dirs = [Path(d) for d in args.run_dirs] or [
        run_task(t, out, args.env_steps, args.demos, args.demo_noise, args.warmup_env_steps, args.eval_every)
        for t in args.tasks]
    results = [read_run(d) for d in run_dirs]
    counts = args.final_eval_episodes * len(results) if len(args.final_eval_episodes) == 1 \
        else args.final_eval_episodes
    for result, episodes in zip(results, counts):
        if episodes > 0:
            result['final_evaluation'] = final_evaluation(result, episodes)
    (out / 'live_graph.json').write_text(json.dumps(results, indent=2) + '\n')
    plot(results, load_offline(args.offline_results), out / 'live_graph.png')
    for r in results:
        print(describe(r), flush=True)
    print(f'[live_graph] wrote {out / "live_graph.json"} and {out / "live_graph.png"}')
    return 0


def describe(r: dict) -> str:
    final = r.get('final_eval_success_last_10')
    line = (f'[live_graph] {r["task"]}: BC {r["bc_success"]:.0%} ({r["bc_eval_episodes"]} episodes) -> live '
            f'evaluation episodes (last 10) {"n/a" if final is None else f"{final:.0%}"}, training (last 20, '
            f'exploring) {r["final_success_last_20"]:.0%} after {r["env_steps"]} env steps')
    paired = r.get('final_evaluation')
    if paired:
        lifted = paired['difference'] > 2 * paired['paired_se']
        line += (f'; same {paired["episodes"]} seeds in-process: BC {paired["first"]:.1%} vs final live actor '
                 f'{paired["second"]:.1%} (x{paired["second"] / max(paired["first"], 1e-9):.2f}), difference '
                 f'{paired["difference"]:+.1%} +- {paired["paired_se"]:.1%} (paired SE; '
                 f'{"above BC" if lifted else "not above BC"} at 2 SE; seeds won only by BC '
                 f'{paired["only_first"]}, only by the live actor {paired["only_second"]})')
    return line


if __name__ == '__main__':
    sys.exit(main())
