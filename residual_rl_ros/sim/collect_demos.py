"""Roll out a scripted demonstrator with Gaussian action noise and record the episodes.

    python -m residual_rl_ros.sim.collect_demos --task fetch_pick_place --episodes 50 --noise 0.3 \
        --out demos/fetch.npz

Noise is `noise_std` times the half-width of the action range, per dimension (so 0.3 means 30% of
full deflection on a [-1, 1] action); the recorded action is the one executed: clean + noise, clipped
to the task's bounds. An episode ends at success or failure (terminated) or at `max_episode_steps`.
Episode `i` is reset with seed `seed + i` (attempts count, including discarded failures), and the noise
comes from its own generator seeded with `seed`, so a collection is reproducible.
"""
from __future__ import annotations

import argparse
import sys
import time
from typing import Callable

import numpy as np

from residual_rl_ros.core.demos import save_episodes
from residual_rl_ros.core.types import Episode, Task
from residual_rl_ros.sim.demonstrators import Demonstrator

ProgressFn = Callable[[int, int, int], None]   # (attempts, kept, successes)


def run_episode(task: Task, demonstrator: Demonstrator, seed: int, noise_std: float,
                rng: np.random.Generator, max_steps: int | None = None) -> Episode:
    """One episode from `task.reset(seed)`; stops at success, failure or `max_steps`."""
    max_steps = task.max_episode_steps if max_steps is None else max_steps
    low, high = np.asarray(task.action_low, np.float32), np.asarray(task.action_high, np.float32)
    half_width = 0.5 * (high - low)
    obs = task.reset(seed)
    demonstrator.reset()
    observations, actions, success = [obs], [], False
    for _ in range(max_steps):
        clean = np.asarray(demonstrator.act(obs), np.float32)
        noisy = clean + noise_std * half_width * rng.standard_normal(clean.shape).astype(np.float32)
        action = np.clip(noisy, low, high)
        result = task.step(action)
        obs = result.observation
        observations.append(obs)
        actions.append(action)
        if result.success or result.failure:
            success = result.success
            break
    images = {cam: np.stack([o.images[cam] for o in observations]) for cam in task.camera_names}
    return Episode(proprio=np.stack([o.proprio for o in observations]),
                   task_state=np.stack([o.task_state for o in observations]),
                   actions=np.stack(actions).astype(np.float32), success=success, images=images)


def collect_demos(task: Task, demonstrator: Demonstrator, n_episodes: int, seed: int = 0,
                  noise_std: float = 0.0, *, only_successes: bool = False,
                  max_attempts: int | None = None, progress: ProgressFn | None = None) -> list[Episode]:
    """Collect `n_episodes` episodes (only successful ones when `only_successes`).

    With `only_successes`, gives up after `max_attempts` (default 10 * n_episodes) and raises
    RuntimeError naming the success count.
    """
    if n_episodes < 0:
        raise ValueError(f'n_episodes={n_episodes}: expected >= 0')
    if noise_std < 0:
        raise ValueError(f'noise_std={noise_std}: expected >= 0')
    max_attempts = 10 * n_episodes if max_attempts is None else max_attempts
    rng = np.random.default_rng(seed)
    episodes: list[Episode] = []
    attempts = successes = 0
    while len(episodes) < n_episodes:
        if only_successes and attempts >= max_attempts:
            raise RuntimeError(f'{task.name}: only {successes}/{attempts} successful episodes at '
                               f'noise {noise_std}; wanted {n_episodes}')
        episode = run_episode(task, demonstrator, seed + attempts, noise_std, rng)
        attempts += 1
        successes += int(episode.success)
        if episode.success or not only_successes:
            episodes.append(episode)
        if progress is not None:
            progress(attempts, len(episodes), successes)
    return episodes


def main(argv: list[str] | None = None) -> int:
    from residual_rl_ros.sim.demonstrators import make_demonstrator
    from residual_rl_ros.sim.registry import make_task, task_names

    parser = argparse.ArgumentParser(description=__doc__.split('\n')[0])
    parser.add_argument('--task', required=True, help=f'one of {task_names()}')
    parser.add_argument('--episodes', type=int, default=50, help='episodes to record')
    parser.add_argument('--noise', type=float, default=0.0,
                        help='Gaussian action noise std, as a fraction of the action half-range')
    parser.add_argument('--seed', type=int, default=0, help='first reset seed; also seeds the noise')
    parser.add_argument('--only-successes', action='store_true', help='keep successful episodes only')
    parser.add_argument('--image', action='store_true', help='record camera images too')
    parser.add_argument('--out', required=True, help='output .npz (core.demos format)')
    args = parser.parse_args(argv)

    task = make_task(args.task, image=args.image, seed=args.seed)
    start = time.monotonic()

    def progress(attempts: int, kept: int, successes: int) -> None:
        rate = successes / attempts
        print(f'\r{args.task}: kept {kept}/{args.episodes}  attempts {attempts}  '
              f'success {successes}/{attempts} ({rate:.0%})  {time.monotonic() - start:.0f}s',
              end='', file=sys.stderr, flush=True)

    try:
        episodes = collect_demos(task, make_demonstrator(task), args.episodes, args.seed, args.noise,
                                 only_successes=args.only_successes, progress=progress)
    finally:
        print(file=sys.stderr)
        task.close()
    save_episodes(args.out, episodes)
    n_ok = sum(e.success for e in episodes)
    steps = sum(len(e.actions) for e in episodes)
    print(f'wrote {len(episodes)} episodes ({n_ok} successful, {steps} steps) to {args.out}')
    return 0


if __name__ == '__main__':
    sys.exit(main())
