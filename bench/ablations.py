"""ResFiT ablations: the recipe with one change at a time, at equal env-step budgets, per seed.

    python bench/ablations.py --task fetch_pick_place --seeds 0 --steps 10000 --eval-episodes 20 \\
        --eval-interval 2500 --preset cpu --run-set warmup_env_steps=5000 \\
        --variants reference no_layer_norm n_step_1 utd_2 utd_4 no_demos ensemble_10 no_warmups \\
        --out runs/ablations_fetch

Every variant runs `sample_efficiency.run_method('resfit', ...)` from the same BC base (OUT/base_seedN,
reused when present) with the reference recipe (--preset + --set, schedule --run-set) plus the variant's
overrides below, and is evaluated on the same evaluation seeds. With the 'cpu' preset the reference
is plain TD3 (2 critic heads, clipped double Q) with UTD 1, n-step 3, LayerNorm, 50/50 demo batches and
both warm-ups; 'ensemble_10' is the paper's 10-head ensemble with a min-of-2 target.
Writes OUT/results.json and OUT/ablations.png, and prints per variant the final / best / mean success,
steps-to-threshold and the change against the reference.
"""
from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path
from typing import Sequence

sys.path.insert(0, str(Path(__file__).resolve().parent))
sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

import sample_efficiency as se  # noqa: E402

# name -> (recipe overrides, run-config overrides), each one change from the reference
VARIANTS: dict[str, tuple[tuple[str, ...], tuple[str, ...]]] = {
    'reference': ((), ()),
    'no_layer_norm': (('network.layer_norm=false',), ()),
    'n_step_1': (('learner.n_step=1',), ()),
    'n_step_3': (('learner.n_step=3',), ()),
    'utd_1': (('learner.critic_updates_per_env_step=1',), ()),
    'utd_2': (('learner.critic_updates_per_env_step=2',), ()),
    'utd_4': (('learner.critic_updates_per_env_step=4',), ()),
    'no_demos': (('replay.demo_fraction=0.0',), ()),
    'demos_0.5': (('replay.demo_fraction=0.5',), ()),
    'ensemble_10': (('network.num_critic_heads=10', 'network.num_target_heads=2'), ()),
    'plain_td3': (('network.num_critic_heads=2', 'network.num_target_heads=2'), ()),
    'no_env_warmup': ((), ('warmup_env_steps=0',)),
    'no_critic_warmup': (('learner.critic_warmup_updates=0',), ()),
    'no_warmups': (('learner.critic_warmup_updates=0',), ('warmup_env_steps=0',)),
}
DEFAULT_VARIANTS = ('reference', 'no_layer_norm', 'n_step_1', 'utd_2', 'utd_4', 'no_demos', 'ensemble_10',
                    'no_env_warmup', 'no_critic_warmup', 'no_warmups')


def parse_args(argv: Sequence[str] | None = None) -> argparse.Namespace:
    parser = se.add_arguments(argparse.ArgumentParser(description=__doc__.splitlines()[0]))
    parser.add_argument('--variants', nargs='+', choices=sorted(VARIANTS), default=list(DEFAULT_VARIANTS),
                        help='variants to run, in this order')
    return parser.parse_args(argv)


def mean_success(history: list[dict]) -> float:
    """Mean success over the evaluation points (an area-under-curve that does not need the threshold)."""
    return sum(h['success_rate'] for h in history) / len(history)


def report(results: dict, threshold: float) -> list[str]:
    lines = []
    for seed, entry in sorted(results['seeds'].items()):
        ref = entry.get('reference')
        for name, r in ((k, v) for k, v in entry.items() if k in VARIANTS):
            delta = '' if ref is None or name == 'reference' else (
                f'  vs reference: final {r["final_success_rate"] - ref["final_success_rate"]:+.1%}, '
                f'mean {mean_success(r["history"]) - mean_success(ref["history"]):+.1%}')
            reached = r['steps_to_threshold']
            lines.append(f'seed {seed} {name:16s} final {r["final_success_rate"]:6.1%} best '
                         f'{r["best_success_rate"]:6.1%} mean {mean_success(r["history"]):6.1%}  steps to '
                         f'{threshold:.0%}: {"not reached" if reached is None else reached:>11}  '
                         f'({r["cpu_s"]:.0f}s CPU){delta}')
    return lines


def plot(results: dict, path: Path, threshold: float) -> None:
    import matplotlib
    matplotlib.use('Agg')
    import matplotlib.pyplot as plt
    seeds = sorted(results['seeds'].items())
    fig, axes = plt.subplots(1, max(len(seeds), 1), figsize=(6 * max(len(seeds), 1), 4.5), squeeze=False)
    for ax, (seed, entry) in zip(axes[0], seeds):
        for i, name in enumerate(k for k in entry if k in VARIANTS):
            hist = entry[name]['history']
            ax.plot([h['env_steps'] for h in hist], [h['success_rate'] for h in hist], '-o', ms=3,
                    color='k' if name == 'reference' else f'C{i % 10}', lw=2 if name == 'reference' else 1,
                    label=name)
        if 'bc' in entry:
            ax.axhline(entry['bc']['success_rate'], color='gray', ls='--', lw=1, label='BC (base)')
        ax.axhline(threshold, color='gray', ls=':', lw=1)
        ax.set(xlabel='environment steps', ylabel='success rate', ylim=(-0.02, 1.02), title=f'seed {seed}')
        ax.legend(fontsize=7, loc='best')
    fig.suptitle(f'{results["task"]}: ResFiT ablations ({results["eval_episodes"]} eval episodes per point)')
    fig.tight_layout()
    fig.savefig(path, dpi=110)
    plt.close(fig)


def main(argv: Sequence[str] | None = None) -> int:
    import torch
    torch.set_num_threads(1)
    args = parse_args(argv)
    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    results: dict = {'task': args.task, 'args': vars(args), 'eval_episodes': args.eval_episodes,
                     'variants': {k: {'recipe': list(VARIANTS[k][0]), 'run': list(VARIANTS[k][1])}
                                  for k in args.variants}, 'seeds': {}}
    for seed in args.seeds:
        base = se.build_base(args, seed, out)
        entry: dict = {'bc': {'success_rate': base.bc_success, 'eval_episodes': base.eval_episodes}}
        results['seeds'][str(seed)] = entry
        for name in dict.fromkeys(args.variants):
            print(f'=== seed {seed}: {name} {VARIANTS[name]} ===', flush=True)
            recipe_set, run_set = VARIANTS[name]
            entry[name] = se.run_method('resfit', args, seed, base, out / f'{name}_seed{seed}', recipe_set, run_set)
            (out / 'results.json').write_text(json.dumps(results, indent=1) + '\n')
            plot(results, out / 'ablations.png', args.threshold)
    print('\n'.join(report(results, args.threshold)))
    print(f'wrote {out / "results.json"} and {out / "ablations.png"}')
    return 0


if __name__ == '__main__':
    sys.exit(main())
