"""Env steps per second: each simulated task alone, against the whole live loop through DDS.

    python bench/sim_throughput.py [--tasks ...] [--steps 600] [--image]
                                   [--live-task fetch_pick_place --live-from RUN_DIR --live-seconds 60]

sim alone   registry `make_task(name)`: reset, then step the middle of the action range, resetting at
            episode ends; wall and CPU steps/s of this process.
live loop   the `humanoid_train` graph (nine processes over DDS, sim_robot in lockstep: a physics step
            per safe command) fitted to --live-task; its BC base and demos are copied from --live-from
            (a run folder of `python -m residual_rl_ros.apps.humanoid_train`). Counts `action_records`
            (one per executed env step) over --live-seconds after a --live-skip-s settling time, episode
            resets included, once with the trainer in warm-up (no learner updates: the DDS loop alone)
            and once training from the first step (the recipe's updates paid in lockstep).
The ratio live / alone is what the graph costs over the simulator.
"""
from __future__ import annotations

import argparse
import os
import shutil
import signal
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np
import yaml

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))     # run from a checkout


def sim_alone(name: str, steps: int, image: bool) -> dict[str, float]:
    from residual_rl_ros.sim.registry import make_task

    task = make_task(name, image=image, seed=0)
    try:
        action = (np.asarray(task.action_low) + np.asarray(task.action_high)) / 2.0
        task.reset(seed=0)
        episode_steps, episodes = 0, 0
        wall, cpu = time.perf_counter(), time.process_time()
        for _ in range(steps):
            result = task.step(action)
            episode_steps += 1
            if result.success or result.failure or episode_steps >= task.max_episode_steps:
                episodes += 1
                task.reset(seed=episodes)
                episode_steps = 0
        wall, cpu = time.perf_counter() - wall, time.process_time() - cpu
    finally:
        task.close()
    return {'steps_per_s': steps / wall, 'steps_per_cpu_s': steps / cpu, 'resets': episodes}


def live_params(run_dir: Path, task_name: str, warmup_env_steps: int, port: int) -> Path:
    from residual_rl_ros.apps.humanoid_train import run_params
    from residual_rl_ros.sim.registry import make_task

    task = make_task(task_name, seed=0)
    try:
        path = run_params(run_dir, 10**8, task, warmup_env_steps=warmup_env_steps)
    finally:
        task.close()
    params = yaml.safe_load(path.read_text())
    params['operator_ui']['ros__parameters']['port'] = port       # beside any other running graph
    path.write_text(yaml.safe_dump(params, sort_keys=False))
    return path


def live_loop(args: argparse.Namespace, warmup_env_steps: int, folder: Path) -> dict[str, float]:
    """Env steps/s of the humanoid_train graph, counted from action_records in this process."""
    import rclpy
    from rclpy.node import Node

    from residual_rl_ros.msg import PolicyActionRecord
    from residual_rl_ros.ros import qos

    run_dir = folder / f'run_warmup{warmup_env_steps}'
    run_dir.mkdir(parents=True)
    for name in ('demos.npz', 'bc.onnx', 'bc.onnx.json'):
        if (Path(args.live_from) / name).exists():
            shutil.copy(Path(args.live_from) / name, run_dir / name)
    params = live_params(run_dir, args.live_task, warmup_env_steps, 18000 + os.getpid() % 1000)
    log = (folder / f'graph_warmup{warmup_env_steps}.log').open('w')
    graph = subprocess.Popen(['residual_rl_ros_launch', 'humanoid_train', f'params_file:={params}',
                              f'run_dir:={run_dir}'], stdout=log, stderr=subprocess.STDOUT, start_new_session=True)
    node = Node('sim_throughput_counter')
    arrivals: list[float] = []
    node.create_subscription(PolicyActionRecord, 'action_records', lambda _: arrivals.append(time.monotonic()),
                             qos.RECORD)
    try:
        deadline = time.monotonic() + 300
        while not arrivals:
            assert time.monotonic() < deadline and graph.poll() is None, f'no env step; see {log.name}'
            rclpy.spin_once(node, timeout_sec=0.1)
        start = arrivals[0] + args.live_skip_s
        end = start + args.live_seconds
        while time.monotonic() < end:
            rclpy.spin_once(node, timeout_sec=0.1)
    finally:
        os.killpg(graph.pid, signal.SIGINT)
        try:
            graph.wait(timeout=30)
        except subprocess.TimeoutExpired:
            os.killpg(graph.pid, signal.SIGKILL)
        node.destroy_node()
    counted = np.asarray(arrivals)
    counted = counted[(counted >= start) & (counted < end)]
    return {'steps_per_s': len(counted) / args.live_seconds, 'steps': int(len(counted))}


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument('--tasks', nargs='+', default=None, help='default: every registered task')
    parser.add_argument('--steps', type=int, default=600)
    parser.add_argument('--image', action='store_true', help='also time the tasks rendering their cameras')
    parser.add_argument('--live-task', default='', help='also run the live loop for this task')
    parser.add_argument('--live-from', default='', help='run folder holding demos.npz and bc.onnx for the task')
    parser.add_argument('--live-seconds', type=float, default=60.0)
    parser.add_argument('--live-skip-s', type=float, default=10.0, help='settling time after the first step')
    args = parser.parse_args()
    os.environ.setdefault('MUJOCO_GL', 'egl')
    from residual_rl_ros.sim.registry import task_names
    alone = {}
    for name in args.tasks or task_names():
        for image in (False, True) if args.image else (False,):
            r = sim_alone(name, args.steps, image)
            alone[(name, image)] = r
            print(f'sim alone  {name:18s} {"image" if image else "state"}: {r["steps_per_s"]:7.1f} env steps/s '
                  f'({r["steps_per_cpu_s"]:.1f} per CPU s, {r["resets"]} resets in {args.steps} steps)', flush=True)
    if not args.live_task:
        return 0
    if not (Path(args.live_from) / 'bc.onnx').exists():
        raise SystemExit(f'--live-from {args.live_from!r} has no bc.onnx (make one with '
                         f'python -m residual_rl_ros.apps.humanoid_train --task {args.live_task})')
    os.environ.setdefault('ROS_AUTOMATIC_DISCOVERY_RANGE', 'LOCALHOST')
    os.environ.setdefault('ROS_DOMAIN_ID', str(100 + os.getpid() % 100))
    base = alone.get((args.live_task, False)) or sim_alone(args.live_task, args.steps, False)
    import rclpy
    rclpy.init()
    try:
        with tempfile.TemporaryDirectory(prefix='sim_throughput_') as tmp:
            for label, warmup in (('DDS loop, trainer in warm-up', 10**8), ('training from the first step', 0)):
                r = live_loop(args, warmup, Path(tmp))
                print(f'live loop  {args.live_task:18s} {label}: {r["steps_per_s"]:7.1f} env steps/s '
                      f'({r["steps"]} steps in {args.live_seconds:g} s; x{r["steps_per_s"] / base["steps_per_s"]:.3f} '
                      f'of the sim alone)', flush=True)
    finally:
        rclpy.shutdown()
    return 0


if __name__ == '__main__':
    sys.exit(main())
