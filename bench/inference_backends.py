"""Residual actor inference at batch 1: torch eager vs inference_mode vs TorchScript vs ONNX Runtime.

    python bench/inference_backends.py [--calls 2000] [--threads 1] [--sizes paper cpu] [--cameras 0 2]

For each network size (the paper's recipe and the `cpu` preset) and each input kind (state only, and two
84x84 cameras) on the humanoid's dimensions (42-D state, 12-D action, chunk 8), builds one policy with
random weights (the zero-initialised last layer randomised so outputs differ), compiles it on every
backend, checks each backend's residual against eager torch (max abs difference), then times single calls
through the node's runner (preallocated inputs, `core/actor_backends.py`) in interleaved rounds, so a
busy machine slows every backend alike. Prints wall p50/p99 and mean CPU time (of the calling thread:
both run single-threaded) per call, and each one's ratios to eager's.
torch and ONNX Runtime use --threads intra-op threads (the control node uses 1).
"""
from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

import numpy as np
import torch

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))     # run from a checkout

from residual_rl_ros.core.actor_backends import (  # noqa: E402
    BACKENDS, backend_names, compile_actor, example_inputs, max_difference)
from residual_rl_ros.core.networks import PolicySpec, ResidualPolicy  # noqa: E402
from residual_rl_ros.core.recipe import NetworkRecipe  # noqa: E402
from residual_rl_ros.core.training.config import recipe_preset  # noqa: E402

STATE_DIM, ACTION_DIM, CHUNK = 42, 12, 8        # the GR-1 humanoid task


def network(size: str) -> NetworkRecipe:
    return NetworkRecipe() if size == 'paper' else recipe_preset(size).network


def random_policy(size: str, cameras: int, seed: int = 0) -> ResidualPolicy:
    spec = PolicySpec(STATE_DIM, ACTION_DIM, CHUNK, tuple(f'cam{i}' for i in range(cameras)), (84, 84))
    torch.manual_seed(seed)
    policy = ResidualPolicy(spec, network(size)).eval()
    torch.nn.init.normal_(policy.actor.net[-1].weight, std=0.05)     # zero-init last layer -> nonzero outputs
    return policy


def time_backends(runners: dict, spec: PolicySpec, calls: int, round_size: int = 50) -> dict[str, np.ndarray]:
    """Per-call (wall, this thread's CPU) times (s) of each runner, interleaved in rounds of `round_size` calls."""
    state, base, phase, *images = example_inputs(spec)
    pixels = {c: image[0] for c, image in zip(spec.camera_names, images)}
    times = {name: [] for name in runners}
    for name, runner in runners.items():        # warm-up (first calls allocate, JIT passes run)
        for _ in range(20):
            runner(state[0], base[0], int(phase[0]), pixels)
    for _ in range(max(calls // round_size, 1)):
        for name, runner in runners.items():
            for _ in range(round_size):
                t0, c0 = time.perf_counter(), time.thread_time()
                runner(state[0], base[0], int(phase[0]), pixels)
                times[name].append((time.perf_counter() - t0, time.thread_time() - c0))
    return {name: np.asarray(t) for name, t in times.items()}


def bench(size: str, cameras: int, backends: list[str], calls: int, threads: int) -> dict[str, dict]:
    policy = random_policy(size, cameras)
    runners, results = {}, {}
    for name in backends:
        t0 = time.perf_counter()
        try:
            runners[name] = compile_actor(policy, name, threads)
        except Exception as exc:  # noqa: BLE001 - report and go on with the others
            results[name] = {'error': f'{type(exc).__name__}: {exc}'}
            continue
        results[name] = {'build_s': time.perf_counter() - t0, 'max_abs_diff': max_difference(policy, runners[name])}
    for name, t in time_backends(runners, policy.spec, calls).items():
        wall, cpu = t[:, 0] * 1e3, t[:, 1] * 1e3
        results[name].update(p50_ms=float(np.percentile(wall, 50)), p99_ms=float(np.percentile(wall, 99)),
                             cpu_mean_ms=float(cpu.mean()))
    return results


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument('--calls', type=int, default=2000, help='timed calls per backend and case')
    parser.add_argument('--threads', type=int, default=1, help='intra-op threads of torch and ONNX Runtime')
    parser.add_argument('--sizes', nargs='+', default=['paper', 'cpu'], help='paper and/or recipe preset names')
    parser.add_argument('--cameras', nargs='+', type=int, default=[0, 2])
    parser.add_argument('--backends', nargs='+', default=list(BACKENDS))
    args = parser.parse_args()
    backends = backend_names(args.backends)
    torch.set_num_threads(args.threads)
    print(f'torch {torch.__version__}, {args.threads} intra-op thread(s), {args.calls} calls per backend; '
          f'humanoid dims: state {STATE_DIM}, action {ACTION_DIM}, chunk {CHUNK}')
    for size in args.sizes:
        for cameras in args.cameras:
            results = bench(size, cameras, backends, args.calls, args.threads)
            eager = results.get('eager', {})
            print(f'\n{size} sizes, {"state only" if cameras == 0 else f"{cameras} cameras 84x84"}:')
            for name, r in results.items():
                if 'error' in r:
                    print(f'  {name:15s} failed: {r["error"]}')
                    continue
                ratio = (f'x{r["p50_ms"] / eager["p50_ms"]:.2f} / x{r["p99_ms"] / eager["p99_ms"]:.2f} / '
                         f'x{r["cpu_mean_ms"] / eager["cpu_mean_ms"]:.2f}' if 'p50_ms' in eager else '')
                print(f'  {name:15s} p50 {r["p50_ms"]:7.3f} ms  p99 {r["p99_ms"]:7.3f} ms  '
                      f'CPU {r["cpu_mean_ms"]:7.3f} ms  of eager {ratio:22s} max|diff| {r["max_abs_diff"]:.1e}  '
                      f'build {r["build_s"]:.2f} s')
    return 0


if __name__ == '__main__':
    sys.exit(main())
