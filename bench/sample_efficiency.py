"""Sample efficiency at equal env-step budgets: BC, ResFiT and three baselines, per seed.

    python bench/sample_efficiency.py --task fetch_pick_place --seeds 0 1 2 --steps 50000 \\
        --methods bc resfit rlpd sac filtered_bc --out runs/bench_fetch [--preset cpu] \\
        [--set learner.actor_lr=3e-5 ...] [--run-set warmup_env_steps=5000 ...]

Per seed: noisy scripted demos -> BC (chunked MLP) -> ONNX (`core.training.pipeline.build_bc_base`,
demo and BC seed = the seed; files in OUT/base_seedN are reused when present), then each method for
--steps env steps, evaluated every --eval-interval env steps (at the first episode end past it) on the
same evaluation seeds (`eval_seed_offset + i`, disjoint from training seeds):

* `bc`: the base alone (a flat line);
* `resfit`: `core.training.loop.ResFiTRun` from that base (recipe --preset + --set, schedule --run-set);
* `rlpd`: the same learner and schedule without a base (`core.training.baselines.rlpd_run`: residual of
  scale 1 over the task's action bounds, TD3 noise levels, actor lr = critic lr, uniform random warm-up,
  demos in every batch at the recipe's demo_fraction);
* `sac`: Stable-Baselines3 SAC, no demos, same sparse reward and episode rules, same hidden sizes and
  UTD, learning starts after the same warm-up steps (`core.training.sb3_sac.sac_run`);
* `filtered_bc`: BC retrained on demos + successful rollouts at every checkpoint
  (`core.training.baselines.filtered_bc_run`).

Writes OUT/results.json and OUT/learning_curve.png (after every method) and prints steps-to-threshold
per method and seed and the ratio of each baseline's steps to ResFiT's ("> x" when the baseline never
got there within the budget). Wall and CPU seconds are recorded per method; on a loaded machine compare
CPU seconds. With --keep, methods already in OUT/results.json (made with the same options) are not rerun.
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
from residual_rl_ros.core.training.config import PRESETS, ResFiTRunConfig, apply_overrides, recipe_preset  # noqa: E402
from residual_rl_ros.core.training.pipeline import BaseArtifacts, build_bc_base  # noqa: E402

METHODS = ('bc', 'resfit', 'rlpd', 'sac', 'filtered_bc')
BASELINES = ('bc', 'rlpd', 'sac', 'filtered_bc')


def add_arguments(parser: argparse.ArgumentParser) -> argparse.ArgumentParser:
    """The task, budget, base, evaluation and recipe options (shared with bench/ablations.py)."""
    parser.add_argument('--task', default='fetch_pick_place')
    parser.add_argument('--seeds', type=int, nargs='+', default=[0])
    parser.add_argument('--steps', type=int, default=50_000, help='env steps per method and seed')
    parser.add_argument('--out', default='runs/bench')
    parser.add_argument('--demos', type=int, default=50, help='demo episodes (successful ones)')
    parser.add_argument('--noise', type=float, default=0.3, help='demo action noise')
    parser.add_argument('--bc-steps', type=int, default=3000, help='BC gradient steps (base and filtered BC)')
    parser.add_argument('--bc-set', action='append', default=[],
                        help='BCConfig override KEY=VALUE for the base and filtered BC (e.g. chunk_length=1)')
    parser.add_argument('--eval-episodes', type=int, default=100)
    parser.add_argument('--eval-interval', type=int, default=5000)
    parser.add_argument('--preset', default='cpu', choices=PRESETS)
    parser.add_argument('--set', action='append', default=[], help='recipe override SECTION.KEY=VALUE')
    parser.add_argument('--run-set', action='append', default=[], help='ResFiTRunConfig override KEY=VALUE')
    parser.add_argument('--threshold', type=float, default=0.9, help='success level for steps-to-threshold')
    return parser


def parse_args(argv: Sequence[str] | None = None) -> argparse.Namespace:
    parser = add_arguments(argparse.ArgumentParser(description=__doc__.splitlines()[0]))
    parser.add_argument('--methods', nargs='+', choices=METHODS, default=list(METHODS),
                        help='methods to run, in this order')
    parser.add_argument('--keep', action='store_true',
                        help='keep method results already in OUT/results.json (same options) instead of rerunning')
    return parser.parse_args(argv)


def steps_to(history: list[dict], threshold: float) -> int | None:
    """First evaluated env step count whose success rate reaches `threshold` (None if never)."""
    return next((h['env_steps'] for h in history if h['success_rate'] >= threshold), None)


def summarize(history: list[dict], threshold: float, wall_s: float, cpu_s: float) -> dict:
    return {'history': history, 'steps_to_threshold': steps_to(history, threshold),
            'final_success_rate': history[-1]['success_rate'],
            'best_success_rate': max(h['success_rate'] for h in history),
            'wall_s': round(wall_s, 1), 'cpu_s': round(cpu_s, 1)}


def run_config(args: argparse.Namespace, seed: int, run_set: Sequence[str] = ()) -> ResFiTRunConfig:
    return apply_overrides(ResFiTRunConfig(), list(args.run_set) + list(run_set) + [
        f'seed={seed}', f'total_env_steps={args.steps}', f'eval_episodes={args.eval_episodes}',
        f'eval_interval_steps={args.eval_interval}', 'checkpoint_interval_steps=0'])


def run_method(method: str, args: argparse.Namespace, seed: int, base: BaseArtifacts, out: Path,
               recipe_set: Sequence[str] = (), run_set: Sequence[str] = ()) -> dict:
    """Train and evaluate one method for one seed; the summary dict stored in results.json.

    `recipe_set` / `run_set` add overrides after --set / --run-set (the ablation bench uses them).
    """
    from residual_rl_ros.core.training import baselines
    from residual_rl_ros.sim.registry import make_task
    start_wall, start_cpu = time.monotonic(), time.process_time()
    if method == 'bc':
        history = [{'env_steps': 0, 'success_rate': base.bc_success, 'eval_episodes': base.eval_episodes}]
        return summarize(history, args.threshold, 0.0, 0.0)
    recipe = apply_overrides(recipe_preset(args.preset, seed=seed), list(args.set) + list(recipe_set))
    config = run_config(args, seed, run_set)
    task = make_task(args.task, seed=seed)
    try:
        if method == 'resfit':
            from residual_rl_ros.core.training.loop import ResFiTRun
            history = ResFiTRun(task, base.policy, base.demos, recipe, config, out).run()
        elif method == 'rlpd':
            history = baselines.rlpd_run(task, base.demos, baselines.rlpd_recipe(recipe), config, out).run()
        elif method == 'sac':
            from residual_rl_ros.core.training.sb3_sac import sac_run
            eval_task = make_task(args.task, seed=seed)
            try:
                history = sac_run(task, eval_task, total_env_steps=args.steps,
                                  eval_interval_steps=args.eval_interval, eval_episodes=args.eval_episodes,
                                  learning_starts=config.warmup_env_steps,
                                  gradient_steps=recipe.learner.critic_updates_per_env_step,
                                  hidden_sizes=tuple(recipe.network.critic_hidden_sizes),
                                  batch_size=recipe.learner.batch_size, seed=seed,
                                  eval_seed_offset=config.eval_seed_offset)
            finally:
                eval_task.close()
        elif method == 'filtered_bc':
            history = baselines.filtered_bc_run(task, base.policy, base.demos, bc_config(args),
                                                total_env_steps=args.steps, eval_interval_steps=args.eval_interval,
                                                eval_episodes=args.eval_episodes, seed=seed,
                                                eval_seed_offset=config.eval_seed_offset)
        else:
            raise ValueError(f'unknown method {method!r}; expected one of {METHODS}')
    finally:
        task.close()
    return summarize(history, args.threshold, time.monotonic() - start_wall, time.process_time() - start_cpu)


def previous_results(path: Path, args: argparse.Namespace) -> dict:
    """Per-seed method entries of an earlier run into the same folder (for --keep), after checking that
    it measured the same thing (every option but --methods and --keep equal)."""
    if not path.exists():
        return {}
    old = json.loads(path.read_text())
    ignored = {'methods', 'keep'}
    mismatched = sorted(k for k, v in vars(args).items()
                        if k not in ignored and k in old['args'] and old['args'][k] != v and k != 'seeds')
    if mismatched:
        raise ValueError(f'--keep: {path} was made with other options {mismatched}; use another --out')
    return {seed: {m: r for m, r in entry.items() if m in METHODS} for seed, entry in old['seeds'].items()}


def bc_config(args: argparse.Namespace) -> BCConfig:
    """The BC recipe of the base and of filtered BC: defaults, --bc-steps, then --bc-set overrides."""
    return apply_overrides(BCConfig(num_steps=args.bc_steps), args.bc_set)


def build_base(args: argparse.Namespace, seed: int, out: Path) -> BaseArtifacts:
    return build_bc_base(args.task, out / f'base_seed{seed}', demos=args.demos, noise=args.noise, demo_seed=seed,
                         bc=bc_config(args), bc_seed=seed, eval_episodes=args.eval_episodes)


def plot(results: dict, path: Path, threshold: float) -> None:
    import matplotlib
    matplotlib.use('Agg')
    import matplotlib.pyplot as plt
    seeds = sorted(results['seeds'].items())
    fig, axes = plt.subplots(1, max(len(seeds), 1), figsize=(5.5 * max(len(seeds), 1), 4.2), squeeze=False)
    for ax, (seed, entry) in zip(axes[0], seeds):
        for i, method in enumerate(m for m in METHODS if m in entry):
            hist = entry[method]['history']
            if method == 'bc':
                ax.axhline(hist[0]['success_rate'], color='k', ls='--', lw=1, label='BC (base)')
                continue
            ax.plot([h['env_steps'] for h in hist], [h['success_rate'] for h in hist], '-o', ms=3,
                    color=f'C{i}', label=method)
        ax.axhline(threshold, color='gray', ls=':', lw=1)
        ax.set(xlabel='environment steps', ylabel='success rate', ylim=(-0.02, 1.02), title=f'seed {seed}')
        ax.legend(fontsize=8, loc='best')
    fig.suptitle(f'{results["task"]}: success vs env steps ({results["eval_episodes"]} eval episodes per point)')
    fig.tight_layout()
    fig.savefig(path, dpi=110)
    plt.close(fig)


def _fmt(steps: int | None) -> str:
    return 'not reached' if steps is None else str(steps)


def _budget(result: dict, default: int) -> int:
    """Env steps a method actually ran (its last evaluation; results merged from runs of other lengths)."""
    history = result.get('history') or []
    return int(history[-1]['env_steps']) if history else default


def report(results: dict, threshold: float, budget: int) -> list[str]:
    """Per seed: steps-to-threshold of every method, then each baseline's steps / ResFiT's steps."""
    lines = []
    for seed, entry in sorted(results['seeds'].items()):
        for method in (m for m in METHODS if m in entry):
            r = entry[method]
            lines.append(f'seed {seed} {method:12s} final {r["final_success_rate"]:6.1%} best '
                         f'{r["best_success_rate"]:6.1%}  steps to {threshold:.0%}: '
                         f'{_fmt(r["steps_to_threshold"]):>11s}  ({r["wall_s"]:.0f}s wall, {r["cpu_s"]:.0f}s CPU)')
        if 'resfit' not in entry:
            continue
        ours = entry['resfit']['steps_to_threshold']
        ours_budget = _budget(entry['resfit'], budget)
        for method in (m for m in BASELINES if m in entry and m != 'bc'):
            theirs, their_budget = entry[method]['steps_to_threshold'], _budget(entry[method], budget)
            if ours is None and theirs is None:
                ratio = 'n/a (neither reached it)'
            elif ours is None:
                ratio = f'< {theirs / ours_budget:.2f}x (ResFiT not reached in {ours_budget} steps)'
            elif theirs is None:
                ratio = f'> {their_budget / max(ours, 1):.2f}x (baseline not reached in {their_budget} steps)'
            else:
                ratio = f'{theirs / max(ours, 1):.2f}x'
            lines.append(f'seed {seed} steps-to-{threshold:.0%} {method} / ResFiT: {ratio}')
    return lines


def main(argv: Sequence[str] | None = None) -> int:
    import torch
    torch.set_num_threads(1)
    args = parse_args(argv)
    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    results: dict = {'task': args.task, 'args': vars(args), 'eval_episodes': args.eval_episodes, 'seeds': {}}
    done = previous_results(out / 'results.json', args) if args.keep else {}
    for seed in args.seeds:
        entry: dict = dict(done.get(str(seed), {}))
        base = build_base(args, seed, out)
        entry['base'] = {'onnx': str(base.onnx_path), 'demos': str(base.demos_path), 'timings_s': base.timings_s}
        results['seeds'][str(seed)] = entry
        for method in dict.fromkeys(args.methods):          # in the order given, each once
            if method in entry:
                print(f'=== seed {seed}: {method}: kept from the previous results.json ===', flush=True)
                continue
            print(f'=== seed {seed}: {method} ===', flush=True)
            entry[method] = run_method(method, args, seed, base, out / f'{method}_seed{seed}')
            (out / 'results.json').write_text(json.dumps(results, indent=1) + '\n')
            plot(results, out / 'learning_curve.png', args.threshold)
    print('\n'.join(report(results, args.threshold, args.steps)))
    print(f'wrote {out / "results.json"} and {out / "learning_curve.png"}')
    return 0


if __name__ == '__main__':
    sys.exit(main())
