"""Live training through the ROS graph (separate processes over DDS), per task: BC alone vs ResFiT live.

    python bench/live_graph.py --tasks fetch_pick_place humanoid_gr1 --env-steps 20000 --out runs/bench_live

Each task runs the main job (`residual_rl_ros.apps.humanoid_train --task T`): scripted noisy demos ->
BC base (ONNX) -> its success alone -> the `humanoid_train` graph fitted to the task, trained live for
--env-steps (warm-up and schedule as the in-process run: --warmup-env-steps 5000; every --eval-every-th
episode is an evaluation episode, deterministic residual, as the in-process run evaluates). Writes
OUT/live_graph.json and OUT/live_graph.png (training and evaluation success against env steps, with each
task's BC line) and prints, per task, BC success, the final evaluation success and their ratio. If a bench/sample_efficiency.py result for the same task is given with
--offline-results, its ResFiT curve (the in-process run, same recipe) is drawn beside the live one.
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

from residual_rl_ros.apps.report import read_episodes, success_curve  # noqa: E402


def run_task(task: str, out: Path, env_steps: int, demos: int, noise: float, warmup: int, eval_every: int) -> dict:
    run_dir = out / task
    cmd = [sys.executable, '-m', 'residual_rl_ros.apps.humanoid_train', '--task', task, '--run-dir', str(run_dir),
           '--env-steps', str(env_steps), '--demos', str(demos), '--demo-noise', str(noise),
           '--warmup-env-steps', str(warmup), '--eval-every', str(eval_every)]
    print(f'[live_graph] {" ".join(cmd)}', flush=True)
    subprocess.run(cmd, check=False, env=dict(os.environ, MUJOCO_GL=os.environ.get('MUJOCO_GL', 'egl')))
    summary = json.loads((run_dir / 'summary.json').read_text())
    episodes = read_episodes(run_dir)
    steps, rate = success_curve(episodes)
    eval_steps, eval_rate = success_curve(episodes, 10, evaluation=True)
    summary.update(task=task, curve_env_steps=steps.tolist(), curve_success=rate.tolist(),
                   eval_curve_env_steps=eval_steps.tolist(), eval_curve_success=eval_rate.tolist())
    return summary


def plot(results: list[dict], offline: dict[str, dict], path: Path) -> None:
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
        if result['task'] in offline:
            curve = offline[result['task']]
            ax.plot(curve['env_steps'], curve['success'], label='ResFiT in-process (same recipe)')
        ax.set(title=result['task'], xlabel='env steps', ylabel='success rate', ylim=(-0.02, 1.02))
        ax.grid(alpha=0.3)
        ax.legend(loc='lower right')
    fig.tight_layout()
    fig.savefig(path, dpi=100)


def load_offline(paths: list[str]) -> dict[str, dict]:
    """{task: {'env_steps': [...], 'success': [...]}} from sample_efficiency results (first ResFiT seed)."""
    curves = {}
    for path in paths:
        data = json.loads(Path(path).read_text())
        seeds = [entry for _, entry in sorted(data.get('seeds', {}).items()) if 'resfit' in entry]
        if seeds:
            history = seeds[0]['resfit']['history']
            curves[data['task']] = {'env_steps': [h['env_steps'] for h in history],
                                    'success': [h['success_rate'] for h in history]}
    return curves


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument('--tasks', nargs='+', default=['fetch_pick_place', 'humanoid_gr1'])
    parser.add_argument('--env-steps', type=int, default=20_000)
    parser.add_argument('--demos', type=int, default=50)
    parser.add_argument('--demo-noise', type=float, default=0.3)
    parser.add_argument('--warmup-env-steps', type=int, default=5000, help='as the in-process Fetch run')
    parser.add_argument('--eval-every', type=int, default=4, help='every Nth live episode is an evaluation episode')
    parser.add_argument('--offline-results', nargs='*', default=[], help='bench/sample_efficiency results.json')
    parser.add_argument('--out', default='runs/bench_live')
    args = parser.parse_args()
    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    results = [run_task(t, out, args.env_steps, args.demos, args.demo_noise, args.warmup_env_steps, args.eval_every)
               for t in args.tasks]
    (out / 'live_graph.json').write_text(json.dumps(results, indent=2) + '\n')
    plot(results, load_offline(args.offline_results), out / 'live_graph.png')
    for r in results:
        final = r.get('final_eval_success_last_10')
        ratio = f'{final / r["bc_success"]:.2f}x' if final is not None and r['bc_success'] else 'n/a'
        print(f'[live_graph] {r["task"]}: BC {r["bc_success"]:.0%} -> live ResFiT evaluation (last 10) '
              f'{"n/a" if final is None else f"{final:.0%}"}, training (last 20, exploring) '
              f'{r["final_success_last_20"]} after {r["env_steps"]} env steps (ratio to BC {ratio})', flush=True)
    print(f'[live_graph] wrote {out / "live_graph.json"} and {out / "live_graph.png"}')
    return 0


if __name__ == '__main__':
    sys.exit(main())
