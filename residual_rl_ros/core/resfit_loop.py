"""Command line: residual fine-tuning (ResFiT) of a BC base policy on a simulated task, in one process.

    python -m residual_rl_ros.core.resfit_loop --task fetch_pick_place --base artifacts/fetch_bc.onnx \\
        --demos demos/fetch.npz --steps 50000 --out runs/fetch_resfit [--preset cpu] [--seed 0] \\
        [--set learner.actor_lr=3e-4 ...] [--run-set warmup_env_steps=5000 ...] [--resume]

Writes `metrics.jsonl` (one JSON line per evaluation), `config.json`, periodic safetensors learner
checkpoints and a resumable `checkpoint/` folder under --out. The loop itself is
`residual_rl_ros.core.training.loop.ResFiTRun`.
"""
from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path
from typing import Sequence

from residual_rl_ros.core.base_policy import load_base_policy
from residual_rl_ros.core.config_fields import from_dict, to_dict
from residual_rl_ros.core.demos import load_episodes
from residual_rl_ros.core.training.config import PRESETS, ResFiTRunConfig, apply_overrides, recipe_preset
from residual_rl_ros.core.training.loop import CHECKPOINT_DIR, ResFiTRun


def parse_args(argv: Sequence[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument('--task', required=True, help='simulated task name (residual_rl_ros.sim.registry)')
    parser.add_argument('--base', required=True, help="base policy: .onnx, .pt or 'module:factory'")
    parser.add_argument('--demos', required=True, help='demo episodes (.npz, core.demos format)')
    parser.add_argument('--out', required=True, help='run folder')
    parser.add_argument('--steps', type=int, help='total env steps (ResFiTRunConfig.total_env_steps)')
    parser.add_argument('--seed', type=int, default=0, help='seed of the run and of the learner')
    parser.add_argument('--preset', default='cpu', choices=PRESETS,
                        help='recipe preset (core.training.config.recipe_preset)')
    parser.add_argument('--set', action='append', default=[], metavar='SECTION.KEY=VALUE',
                        help='recipe override, e.g. learner.actor_lr=3e-4; repeatable')
    parser.add_argument('--run-set', action='append', default=[], metavar='KEY=VALUE',
                        help='ResFiTRunConfig override, e.g. warmup_env_steps=5000; repeatable')
    parser.add_argument('--image', action='store_true', help='image observations (task cameras)')
    parser.add_argument('--resume', action='store_true',
                        help='continue from OUT/checkpoint with the saved recipe and run config (--steps and '
                             '--run-set still apply; --preset/--set/--seed are ignored)')
    return parser.parse_args(argv)


def main(argv: Sequence[str] | None = None) -> int:
    from residual_rl_ros.sim.registry import make_task
    args = parse_args(argv)
    try:
        recipe = apply_overrides(recipe_preset(args.preset, seed=args.seed), args.set)
        run_items = list(args.run_set) + ([f'total_env_steps={args.steps}'] if args.steps is not None else [])
        config = apply_overrides(ResFiTRunConfig(), run_items + [f'seed={args.seed}'])
        saved = Path(args.out) / 'config.json'
        if args.resume and saved.exists():      # the original schedule; only --steps / --run-set change it
            config = apply_overrides(from_dict(ResFiTRunConfig, json.loads(saved.read_text())['run']), run_items)
        demos = load_episodes(args.demos)
        base = load_base_policy(args.base)
    except ValueError as exc:
        print(f'error: {exc}', file=sys.stderr)
        return 2
    out = Path(args.out)
    task = make_task(args.task, image=args.image, seed=args.seed)
    try:
        if args.resume and (out / CHECKPOINT_DIR).exists():
            run = ResFiTRun.resume(out, task, base, demos, config)
            print(f'resumed from {out / CHECKPOINT_DIR} at env step {run.env_steps}', flush=True)
        else:
            run = ResFiTRun(task, base, demos, recipe, config, out)
        if not args.resume or not (out / 'config.json').exists():
            out.mkdir(parents=True, exist_ok=True)
            (out / 'config.json').write_text(json.dumps(
                {'args': vars(args), 'run': to_dict(config), 'recipe': to_dict(recipe)}, indent=1) + '\n')
        print(f'{args.task}: {len(run.demos)} demos in the demo buffer ({len(run.buffers["demo"])} frames), '
              f'spec {run.learner.spec}', flush=True)
        history = run.run()
    finally:
        task.close()
    first, last = history[0], history[-1]
    print(f'done: success {first["success_rate"]:.1%} at step {first["env_steps"]} -> '
          f'{last["success_rate"]:.1%} at step {last["env_steps"]} ({last["wall_s"]:.0f}s); '
          f'metrics in {out / "metrics.jsonl"}', flush=True)
    return 0


if __name__ == '__main__':
    sys.exit(main())
