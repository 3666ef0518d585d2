"""Command line: train a BC base policy from a demo file and export it.

    python -m residual_rl_ros.core.bc.train --demos demos/fetch.npz --arch mlp --chunk 4 \\
        --out artifacts/fetch_bc.onnx [--steps 3000] [--seed 0] [--set learning_rate=3e-4 ...]

The output format follows the extension: .onnx (ONNX, verified with onnxruntime) or .pt/.ts (TorchScript).
"""
from __future__ import annotations

import argparse
import dataclasses
import json
import sys
import time
from pathlib import Path
from typing import Any, Sequence

import torch

from residual_rl_ros.core.base_policy import ONNX_SUFFIXES, TORCHSCRIPT_SUFFIXES
from residual_rl_ros.core.bc.config import BCConfig
from residual_rl_ros.core.bc.export import export_onnx, export_torchscript
from residual_rl_ros.core.bc.trainer import evaluate_loss, train_bc
from residual_rl_ros.core.config_fields import from_dict, to_dict
from residual_rl_ros.core.demos import load_episodes


def parse_args(argv: Sequence[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument('--demos', required=True, help='demo episodes (.npz written by core.demos)')
    parser.add_argument('--out', required=True, help='output model: .onnx, .pt or .ts')
    parser.add_argument('--arch', choices=('mlp', 'transformer'), help='network (default: BCConfig.arch)')
    parser.add_argument('--chunk', type=int, help='chunk length K (default: BCConfig.chunk_length)')
    parser.add_argument('--steps', type=int, help='gradient steps (default: BCConfig.num_steps)')
    parser.add_argument('--seed', type=int, default=0, help='random seed (training is deterministic per seed)')
    parser.add_argument('--threads', type=int, default=0, help='torch CPU threads; 0 = torch default')
    parser.add_argument('--set', action='append', default=[], metavar='KEY=VALUE',
                        help='any BCConfig field, value parsed as JSON when possible; repeatable')
    return parser.parse_args(argv)


def build_config(args: argparse.Namespace) -> BCConfig:
    values: dict[str, Any] = to_dict(BCConfig())
    for item in args.set:
        key, sep, raw = item.partition('=')
        if not sep:
            raise ValueError(f'--set {item!r}: expected KEY=VALUE')
        try:
            values[key.strip()] = json.loads(raw)
        except json.JSONDecodeError:
            values[key.strip()] = raw
    for key, value in (('arch', args.arch), ('chunk_length', args.chunk), ('num_steps', args.steps)):
        if value is not None:
            values[key] = value
    return from_dict(BCConfig, values)


def main(argv: Sequence[str] | None = None) -> int:
    args = parse_args(argv)
    try:
        config = build_config(args)
        out = Path(args.out)
        if out.suffix.lower() not in ONNX_SUFFIXES + TORCHSCRIPT_SUFFIXES:
            raise ValueError(f'--out {args.out!r}: extension must be .onnx, .pt or .ts')
        episodes = load_episodes(args.demos)
    except ValueError as exc:
        print(f'error: {exc}', file=sys.stderr)
        return 2
    if args.threads > 0:
        torch.set_num_threads(args.threads)
    used = [ep for ep in episodes if ep.success or not config.successful_only]
    print(f'{len(episodes)} episodes ({len(used)} used), {sum(len(ep.actions) for ep in used)} steps; '
          f'arch={config.arch} chunk={config.chunk_length} steps={config.num_steps}', flush=True)
    start = time.monotonic()

    def report(stats: dict[str, float]) -> None:
        print(f"epoch {stats['epoch']:7.1f}  step {int(stats['step']):6d}/{config.num_steps}  "
              f"loss {stats['loss']:.4f}  lr {stats['lr']:.2e}  {time.monotonic() - start:5.1f}s", flush=True)

    try:
        model = train_bc(episodes, config, seed=args.seed, progress=report)
    except ValueError as exc:
        print(f'error: {exc}', file=sys.stderr)
        return 2
    print(f'final {config.loss} loss on all training samples (eval mode): '
          f'{evaluate_loss(model, used, config.loss):.4f}', flush=True)
    exporter = export_onnx if out.suffix.lower() in ONNX_SUFFIXES else export_torchscript
    exporter(model, out)
    out.with_suffix(out.suffix + '.json').write_text(json.dumps(
        {'config': dataclasses.asdict(config), 'seed': args.seed, 'demos': str(args.demos)}, indent=2) + '\n')
    print(f'wrote {out} (verified) and {out}.json in {time.monotonic() - start:.1f}s', flush=True)
    return 0


if __name__ == '__main__':
    sys.exit(main())
