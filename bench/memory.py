"""Replay memory: bytes per stored transition (state, and two 84x84 cameras) and the buffer that fits a budget.

For each layout it prints the replay layout's own figure (`ReplayBuffer.bytes_per_step`: one slot holds a
frame - state, uint8 images, base action, phase - and its step's action, reward and flags; the next
observation is the following slot, so images are stored once), then fills a real buffer with
`ReplayBuffer.add` and measures the process RSS growth per stored step against it (baseline: the layout
figure, ratio measured / layout). Finally the capacity that fits `--budget-gb`
(`ReplayBuffer.capacity_for_budget`, which `replay.memory_budget_bytes` applies), beside a naive layout
that stores observation and next observation as float32 (what a plain buffer would hold).

    python bench/memory.py [--budget-gb 4] [--state-steps 200000] [--image-steps 10000]
"""
from __future__ import annotations

import argparse
import gc
import os

import numpy as np

from residual_rl_ros.core.networks import PolicySpec
from residual_rl_ros.core.replay import ReplayBuffer
from residual_rl_ros.core.types import Observation, Transition

PROPRIO, TASK, ACTION, CHUNK, EPISODE = 10, 18, 4, 4, 50          # Fetch pick-and-place dimensions
PAGE = os.sysconf('SC_PAGE_SIZE')


def rss_bytes() -> int:
    with open('/proc/self/statm') as f:
        return int(f.read().split()[1]) * PAGE


def naive_bytes_per_step(spec: PolicySpec) -> int:
    """obs + next_obs as float32 (state and images), base/next base/action float32, reward, 2 flags."""
    h, w = spec.image_hw
    obs = 4 * (spec.state_dim + len(spec.camera_names) * h * w * 3)
    return 2 * obs + 4 * 3 * spec.action_dim + 4 + 2


def transitions(spec: PolicySpec, steps: int, seed: int = 0):
    """`steps` chained transitions in 50-step episodes; images cycle through a small preallocated pool so
    that only the buffer grows."""
    rng = np.random.default_rng(seed)
    pool = [{c: rng.integers(0, 256, (*spec.image_hw, 3), dtype=np.uint8) for c in spec.camera_names}
            for _ in range(8)]
    action = np.zeros(ACTION, np.float32)

    def obs(t: int) -> Observation:
        return Observation(proprio=np.full(PROPRIO, t, np.float32), task_state=np.zeros(TASK, np.float32),
                           images=pool[t % len(pool)])
    for t in range(steps):
        last = t % EPISODE == EPISODE - 1
        yield Transition(observation=obs(t), base_action=action, chunk_phase=t % CHUNK, action=action,
                         reward=float(last), next_observation=obs(t + 1), next_base_action=action,
                         next_chunk_phase=(t + 1) % CHUNK, terminated=last, truncated=False)


def measure(name: str, spec: PolicySpec, steps: int) -> int:
    """Print layout and measured bytes per stored step; return the layout figure."""
    per_step = ReplayBuffer.bytes_per_step(spec)
    gc.collect()
    before = rss_bytes()
    buffer = ReplayBuffer(spec, steps)
    allocated = rss_bytes()
    for transition in transitions(spec, steps):
        if len(buffer) >= steps:
            break
        buffer.add(transition)
    gc.collect()
    grown = rss_bytes() - before
    stored = len(buffer)
    measured = grown / stored
    naive = naive_bytes_per_step(spec)
    print(f'{name:22s} layout {per_step:8,d} B/step | filled {stored:,} steps: RSS +{grown / 2**20:8.1f} MiB '
          f'(+{(allocated - before) / 2**20:.1f} MiB before the first write) = {measured:9,.0f} B/step, '
          f'{measured / per_step:.3f}x the layout | naive float32 obs+next_obs {naive:9,d} B/step '
          f'({naive / per_step:.1f}x the layout)')
    del buffer
    gc.collect()
    return per_step


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument('--budget-gb', type=float, default=4.0, help='memory budget for one replay buffer')
    parser.add_argument('--state-steps', type=int, default=200_000, help='steps to store, state-based')
    parser.add_argument('--image-steps', type=int, default=10_000, help='steps to store, two 84x84 cameras')
    args = parser.parse_args()
    if args.budget_gb <= 0 or args.state_steps < 2 or args.image_steps < 2:
        raise SystemExit('--budget-gb must be > 0 and --state-steps / --image-steps >= 2')
    layouts = {'state': PolicySpec(state_dim=PROPRIO + TASK, action_dim=ACTION, chunk_length=CHUNK),
               'state + 2x84x84 cameras': PolicySpec(state_dim=PROPRIO + TASK, action_dim=ACTION,
                                                     chunk_length=CHUNK, camera_names=('front', 'head'))}
    steps = {'state': args.state_steps, 'state + 2x84x84 cameras': args.image_steps}
    per_step = {name: measure(name, spec, steps[name]) for name, spec in layouts.items()}
    budget = int(args.budget_gb * 2**30)
    print(f'\nbudget {args.budget_gb:g} GiB per buffer:')
    for name, spec in layouts.items():
        capacity = ReplayBuffer.capacity_for_budget(spec, budget)
        naive = budget // naive_bytes_per_step(spec)
        print(f'{name:22s} {capacity:12,d} steps ({capacity / 25 / 3600:6.1f} h at 25 Hz); naive float32 '
              f'layout {naive:12,d} steps: {capacity / naive:.1f}x more')
    del per_step


if __name__ == '__main__':
    main()
