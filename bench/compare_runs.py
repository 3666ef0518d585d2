"""Learning curves of in-process ResFiT runs (`core.resfit_loop` folders), one panel per learner seed.

    python bench/compare_runs.py --out doc/bench/sample_efficiency_fetch_weak50.png --title "Fetch, weak base" \\
        --seeds 0 1 2 "bound 0.1=runs/s5/n50w_s{seed}" "gripper bound 1.0=runs/s5/n50w_g10_s{seed}"

Each LABEL=PATTERN names a variant; `{seed}` in PATTERN becomes each seed. Reads PATTERN/metrics.jsonl
(evaluation rows), draws success against env steps with the first variant's step-0 value as the BC line,
and writes the curves to OUT (PNG) and OUT with .json.
"""
from __future__ import annotations

import argparse
import json
from pathlib import Path


def read_curve(run_dir: Path) -> list[dict]:
    """Evaluation rows (env_steps, success_rate) of one run; [] when the run has none yet."""
    path = run_dir / 'metrics.jsonl'
    if not path.exists():
        return []
    rows = [json.loads(line) for line in path.open() if line.strip()]
    return [{'env_steps': r['env_steps'], 'success_rate': r['success_rate']} for r in rows if 'success_rate' in r]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument('variants', nargs='+', help='LABEL=PATTERN, PATTERN with {seed}')
    parser.add_argument('--seeds', type=int, nargs='+', default=[0, 1, 2])
    parser.add_argument('--out', required=True, help='PNG path (the curves go beside it as .json)')
    parser.add_argument('--title', default='')
    args = parser.parse_args()
    import matplotlib
    matplotlib.use('Agg')
    import matplotlib.pyplot as plt
    variants = [v.split('=', 1) for v in args.variants]
    curves: dict[str, dict[str, list[dict]]] = {label: {} for label, _ in variants}
    fig, axes = plt.subplots(1, len(args.seeds), figsize=(5.3 * len(args.seeds), 4.2), squeeze=False)
    for ax, seed in zip(axes[0], args.seeds):
        for i, (label, pattern) in enumerate(variants):
            curve = curves[label][str(seed)] = read_curve(Path(pattern.format(seed=seed)))
            if curve and i == 0:
                ax.axhline(curve[0]['success_rate'], color='k', ls='--', lw=1, label='BC (base)')
            ax.plot([c['env_steps'] for c in curve], [c['success_rate'] for c in curve], '-o', ms=3,
                    color=f'C{i}', label=label)
        ax.axhline(0.9, color='gray', ls=':', lw=1)
        ax.set(xlabel='environment steps', ylabel='success rate', ylim=(-0.02, 1.02), title=f'learner seed {seed}')
        ax.legend(fontsize=8, loc='lower right')
    fig.suptitle(args.title)
    fig.tight_layout()
    out = Path(args.out)
    fig.savefig(out, dpi=110)
    out.with_suffix('.json').write_text(json.dumps({'title': args.title, 'curves': curves}, indent=1) + '\n')
    print(f'wrote {out} and {out.with_suffix(".json")}')


if __name__ == '__main__':
    main()
