"""Sample efficiency of residual fine-tuning: BC success vs ResFiT success over env steps, per seed.

    python bench/sample_efficiency.py --task fetch_pick_place --seeds 0 1 2 --steps 50000 \\
        --methods bc resfit --out runs/bench_fetch [--preset cpu] [--set learner.actor_lr=3e-5 ...]

Per seed: noisy scripted demos -> BC (chunked MLP) -> ONNX (`core.training.pipeline.build_bc_base`,
demo and BC seed = the seed; files reused when present), BC success on the evaluation seeds, then a
ResFiT run from that base (`core.training.loop.ResFiTRun`) evaluated every --eval-interval env steps.
Writes OUT/results.json and OUT/learning_curve.png and prints steps-to-90% per seed.
Methods: `bc` (the base alone) and `resfit`.
"""
from __future__ import annotations

import argparse
import json
import sys
import time
from pathlib import Path
from typing import Sequence

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))     # run from a checkout without installing

from residual_rl_ros.core.bc import BCConfig  # noqa: E402
from residual_rl_ros.core.training.config import ResFiTRunConfig, apply_overrides, recipe_preset  # noqa: E402
from residual_rl_ros.core.training.loop import ResFiTRun  # noqa: E402
from residual_rl_ros.core.training.pipeline import build_bc_base  # noqa: E402

METHODS = ('bc', 'resfit')


def parse_args(argv: Sequence[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument('--task', default='fetch_pick_place')
    parser.add_argument('--seeds', type=int, nargs='+', default=[0])
    parser.add_argument('--steps', type=int, default=50_000, help='ResFiT env steps per seed')
    parser.add_argument('--methods', nargs='+', choices=METHODS, default=list(METHODS))
    parser.add_argument('--out', default='runs/bench')
    parser.add_argument('--demos', type=int, default=50, help='demo episodes (successful ones)')
    parser.add_argument('--noise', type=float, default=0.3, help='demo action noise')
    parser.add_argument('--bc-steps', type=int, default=3000, help='BC gradient steps')
    parser.add_argument('--eval-episodes', type=int, default=100)
    parser.add_argument('--eval-interval', type=int, default=5000)
    parser.add_argument('--preset', default='cpu', choices=('paper', 'cpu', 'tiny'))
    parser.add_argument('--set', action='append', default=[], help='recipe override SECTION.KEY=VALUE')
    parser.add_argument('--run-set', action='append', default=[], help='ResFiTRunConfig override KEY=VALUE')
    parser.add_argument('--threshold', type=float, default=0.9, help='success level for steps-to-threshold')
    return parser.parse_args(argv)


def steps_to(history: list[dict], threshold: float) -> int | None:
    """First evaluated env step count whose success rate reaches `threshold` (None if never)."""
    return next((h['env_steps'] for h in history if h['success_rate'] >= threshold), None)


def plot(results: dict, path: Path, threshold: float) -> None:
    import matplotlib
    matplotlib.use('Agg')
    import matplotlib.pyplot as plt
    fig, ax = plt.subplots(figsize=(7, 4.5))
    for i, (seed, entry) in enumerate(sorted(results['seeds'].items())):
        color = f'C{i}'
        if 'resfit' in entry:
            hist = entry['resfit']['history']
            ax.plot([h['env_steps'] for h in hist], [h['success_rate'] for h in hist], '-o', color=color,
                    ms=3, label=f'ResFiT seed {seed}')
        if 'bc' in entry:
            ax.axhline(entry['bc']['success_rate'], color=color, ls='--', lw=1, label=f'BC seed {seed}')
    ax.axhline(threshold, color='gray', ls=':', lw=1)
    ax.set(xlabel='environment steps', ylabel='success rate', ylim=(0, 1.02),
           title=f'{results["task"]}: BC vs ResFiT ({results["eval_episodes"]} eval episodes per point)')
    ax.legend(fontsize=8, loc='lower right')
    fig.tight_layout()
    fig.savefig(path, dpi=120)
    plt.close(fig)


def main(argv: Sequence[str] | None = None) -> int:
    import torch
    torch.set_num_threads(1)
    args = parse_args(argv)
    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    results: dict = {'task': args.task, 'args': vars(args), 'eval_episodes': args.eval_episodes, 'seeds': {}}
    for seed in args.seeds:
        entry: dict = {}
        start = time.monotonic()
        base = build_bc_base(args.task, out / f'base_seed{seed}', demos=args.demos, noise=args.noise,
                             demo_seed=seed, bc=BCConfig(num_steps=args.bc_steps), bc_seed=seed,
                             eval_episodes=args.eval_episodes)
        entry['base'] = {'onnx': str(base.onnx_path), 'demos': str(base.demos_path), 'timings_s': base.timings_s}
        if 'bc' in args.methods:
            entry['bc'] = {'success_rate': base.bc_success, 'wall_s': round(time.monotonic() - start, 1)}
        if 'resfit' in args.methods:
            from residual_rl_ros.sim.registry import make_task
            recipe = apply_overrides(recipe_preset(args.preset, seed=seed), args.set)
            config = apply_overrides(ResFiTRunConfig(), args.run_set + [
                f'seed={seed}', f'total_env_steps={args.steps}', f'eval_episodes={args.eval_episodes}',
                f'eval_interval_steps={args.eval_interval}'])
            task = make_task(args.task, seed=seed)
            try:
                run = ResFiTRun(task, base.policy, base.demos, recipe, config, out / f'resfit_seed{seed}')
                history = run.run()
            finally:
                task.close()
            entry['resfit'] = {'history': history, 'steps_to_threshold': steps_to(history, args.threshold),
                               'final_success_rate': history[-1]['success_rate'],
                               'best_success_rate': max(h['success_rate'] for h in history),
                               'wall_s': history[-1]['wall_s']}
        results['seeds'][str(seed)] = entry
        (out / 'results.json').write_text(json.dumps(results, indent=1) + '\n')
        plot(results, out / 'learning_curve.png', args.threshold)
    for seed, entry in results['seeds'].items():
        line = f'seed {seed}:'
        if 'bc' in entry:
            line += f' BC {entry["bc"]["success_rate"]:.1%}'
        if 'resfit' in entry:
            r = entry['resfit']
            reached = r['steps_to_threshold']
            line += (f' | ResFiT final {r["final_success_rate"]:.1%} best {r["best_success_rate"]:.1%} | steps to '
                     f'{args.threshold:.0%}: {reached if reached is not None else "not reached"} '
                     f'({r["wall_s"]:.0f}s)')
        print(line)
    print(f'wrote {out / "results.json"} and {out / "learning_curve.png"}')
    return 0


if __name__ == '__main__':
    sys.exit(main())
