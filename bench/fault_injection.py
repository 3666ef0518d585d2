"""SIGKILL the residual node, the base node and the trainer at random moments of a running training graph.

    python bench/fault_injection.py --trials 21 --seed 0

The graph is the Fetch training graph of the graph tests (scripted noisy base, tiny recipe) with
hardware-like realtime physics at 25 Hz, started by the venv runner, which respawns a killed node after
1 s. Each trial waits a random 1-4 s, kills one victim (the three in shuffled rounds; a policy node right
after its next proposal, so the kill lands while the policy acts) and measures:

* residual / base: seconds from the last proposal to the first hold the robot received (must be <= 2
  control periods = 80 ms; "idle" when no episode was running, the safety node was holding already) and
  seconds from the kill to the first proposal of the respawned graph (recovery);
* trainer: the longest gap between commands to the robot while it was down (must stay < 1 s: the policy
  acts with its weights, then, as the simulated graph waits for the trainer's updates before the next
  START, the safety node holds), the longest gap between proposals, and seconds from the kill to the
  restarted trainer's first status (checkpoint loaded, bags backfilled).

At the end the graph waits for one more trainer checkpoint, stops, and compares the transitions the bags
recorded with those the checkpoint stores: every transition recorded more than `--margin-s` before the
checkpoint must be stored (none lost to a kill). There is no baseline to take a ratio against: the figures
are deadlines (2 control periods) and counts. Exit status 1 when a deadline is missed or a transition lost.
"""
from __future__ import annotations

import argparse
import os
import signal
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path

import numpy as np
import rclpy
import yaml
from rclpy.context import Context
from rclpy.executors import SingleThreadedExecutor

ROOT = Path(__file__).resolve().parents[1]
sys.path[:0] = [str(ROOT), str(ROOT / 'test' / 'graph'), str(ROOT / 'test')]   # graph conftest first

from conftest import _fetch_params, child_env  # noqa: E402  (the graph tests' Fetch graph)
from fault_tools import PERIOD_S, FaultProbe, lost_transitions, make_realtime, node_pid  # noqa: E402

VICTIMS = ('residual_policy', 'base_policy', 'trainer')


class Graph:
    """The runner process and its output lines (with arrival times), plus a spinning probe."""

    def __init__(self, run_dir: Path, params_file: Path, context: Context) -> None:
        launcher = Path(sys.executable).with_name('residual_rl_ros_launch')
        self.proc = subprocess.Popen([str(launcher), 'humanoid_train', f'params_file:={params_file}',
                                      f'run_dir:={run_dir}'], env=child_env(), stdout=subprocess.PIPE,
                                     stderr=subprocess.STDOUT, text=True)
        self.lines: list[tuple[float, str]] = []
        self.log = open(run_dir / 'graph.log', 'w')
        threading.Thread(target=self._pump, daemon=True).start()
        self.probe = FaultProbe(context)
        self.executor = SingleThreadedExecutor(context=context)
        self.executor.add_node(self.probe.node)

    def _pump(self) -> None:
        for line in self.proc.stdout:
            self.lines.append((time.monotonic(), line))
            self.log.write(line)

    def spin_until(self, predicate, timeout_s: float) -> bool:
        deadline = time.monotonic() + timeout_s
        while not predicate():
            if time.monotonic() > deadline or self.proc.poll() is not None:
                return False
            self.executor.spin_once(timeout_sec=0.01)
        return True

    def spin_for(self, seconds: float) -> None:
        end = time.monotonic() + seconds
        self.spin_until(lambda: time.monotonic() >= end, seconds + 1.0)

    def line_after(self, since: float, text: str) -> tuple[float, str] | None:
        return next(((t, line) for t, line in self.lines if t > since and text in line), None)

    def stop(self) -> None:
        self.proc.send_signal(signal.SIGINT)
        try:
            self.proc.wait(timeout=60)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            self.proc.wait()
        self.probe.destroy()
        self.log.close()


def build_run(run_dir: Path) -> Path:
    from residual_rl_ros.core.demos import save_episodes
    from residual_rl_ros.sim.collect_demos import collect_demos
    from residual_rl_ros.sim.demonstrators import make_demonstrator
    from residual_rl_ros.sim.registry import make_task
    task = make_task('fetch_pick_place', seed=0)
    save_episodes(run_dir / 'demos.npz', collect_demos(task, make_demonstrator(task), 6, seed=0, noise_std=0.1))
    task.close()
    params_file = run_dir / 'params.yaml'
    params_file.write_text(yaml.safe_dump(_fetch_params(run_dir)))
    make_realtime(params_file)
    return params_file


def kill_policy_node(graph: Graph, victim: str, run_dir: Path) -> dict:
    pid = node_pid(victim, run_dir)
    count = len(graph.probe.proposals)     # the moment: right after the next proposal (idle: within 5 s anyway)
    graph.spin_until(lambda: len(graph.probe.proposals) > count, 5.0)
    os.kill(pid, signal.SIGKILL)
    killed_at = time.monotonic()
    graph.spin_for(0.6)
    figures = graph.probe.hold_after(killed_at)
    back = graph.spin_until(lambda: any(t > killed_at + 0.5 for t in graph.probe.proposals), 120.0)
    first = next((t for t in graph.probe.proposals if t > killed_at + 0.5), None)
    figures.update(recovery_s=first - killed_at if back else None, respawned=node_pid(victim, run_dir) != pid)
    return figures


def kill_trainer(graph: Graph, run_dir: Path) -> dict:
    pid = node_pid('trainer', run_dir)
    os.kill(pid, signal.SIGKILL)
    killed_at = time.monotonic()
    back = graph.spin_until(lambda: graph.line_after(killed_at, 'trainer ready') is not None, 180.0)
    ready_at = graph.line_after(killed_at, 'trainer ready')[0] if back else time.monotonic()
    graph.spin_until(lambda: any(t > ready_at for t, _ in graph.probe.status), 10.0)
    status_at = next((t for t, _ in graph.probe.status if t > ready_at), None)
    backfill = graph.line_after(killed_at, 'backfill from')
    return {'recovery_s': status_at - killed_at if status_at else None,
            'proposal_gap_s': graph.probe.max_gap(graph.probe.proposals, killed_at, ready_at),
            'command_gap_s': graph.probe.max_gap(graph.probe.commands, killed_at, ready_at),
            'respawned': node_pid('trainer', run_dir) not in (None, pid),
            'backfill': backfill[1].split('backfill from ')[1].split(': ', 1)[1].strip() if backfill else ''}


def run(trials: int, seed: int, margin_s: float, run_dir: Path) -> int:
    rng = np.random.default_rng(seed)
    params_file = build_run(run_dir)
    context = Context()
    rclpy.init(context=context)
    graph = Graph(run_dir, params_file, context)
    failures, rows = 0, []
    try:
        assert graph.spin_until(lambda: len(graph.probe.proposals) > 50, 240.0), 'the graph did not start'
        victims = [v for _ in range((trials + 2) // 3) for v in rng.permutation(VICTIMS)][:trials]
        for i, victim in enumerate(victims):
            graph.spin_for(float(rng.uniform(1.0, 4.0)))
            row = kill_trainer(graph, run_dir) if victim == 'trainer' else kill_policy_node(graph, victim, run_dir)
            rows.append((victim, row))
            late = row.get('time_to_hold_s') is not None and row['time_to_hold_s'] > 2 * PERIOD_S
            bad = late or row['recovery_s'] is None or not row['respawned'] or (
                victim != 'trainer' and row['holds_in_0.5s'] < 10) or row.get('command_gap_s', 0.0) >= 1.0
            failures += int(bad)
            print(f'trial {i + 1:2d} {victim:15s} ' + '  '.join(f'{k} {_fmt(v)}' for k, v in row.items())
                  + ('  FAIL' if bad else ''), flush=True)
        last_kill = time.monotonic()
        checkpoint = run_dir / 'checkpoint' / 'live_state.json'
        wall_last_kill = time.time()
        graph.spin_until(lambda: checkpoint.exists() and checkpoint.stat().st_mtime > wall_last_kill + margin_s,
                         240.0)
        print(f'final checkpoint {time.monotonic() - last_kill:.1f} s after the last kill', flush=True)
    finally:
        graph.stop()
        rclpy.shutdown(context=context)
    loss = lost_transitions(run_dir, margin_s)
    summary(rows)
    print(f"transitions: recorded in bags {loss['recorded']}, recorded >= {margin_s:g} s before the final "
          f"checkpoint {loss['due']}, stored by the trainer {loss['stored']}, lost {len(loss['lost'])}"
          f"{' ' + str(loss['lost'][:5]) if loss['lost'] else ''}, stored but not in bags {loss['not_in_bags']}")
    return 1 if failures or loss['lost'] else 0


def _fmt(value) -> str:
    if isinstance(value, float):
        return f'{value:.3f}'
    return 'n/a' if value is None else str(value)


def summary(rows: list[tuple[str, dict]]) -> None:
    for victim in VICTIMS:
        mine = [r for v, r in rows if v == victim]
        if not mine:
            continue
        recovery = [r['recovery_s'] for r in mine if r['recovery_s'] is not None]
        line = f'{victim:15s} kills {len(mine)}  recovered {len(recovery)}'
        if recovery:
            line += f'  recovery median {np.median(recovery):.2f} s max {max(recovery):.2f} s'
        holds = [r['time_to_hold_s'] for r in mine if r.get('time_to_hold_s') is not None]
        if holds:
            line += (f'  time-to-hold (while acting: {len(holds)}) median {1e3 * np.median(holds):.1f} ms max '
                     f'{1e3 * max(holds):.1f} ms (limit {2e3 * PERIOD_S:.0f} ms)')
        gaps = [r['command_gap_s'] for r in mine if 'command_gap_s' in r]
        if gaps:
            line += (f'  longest gap while down: commands {1e3 * max(gaps):.0f} ms, proposals '
                     f'{max(r["proposal_gap_s"] for r in mine):.1f} s')
        print(line)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument('--trials', type=int, default=21)
    parser.add_argument('--seed', type=int, default=0)
    parser.add_argument('--margin-s', type=float, default=6.0,
                        help='transitions recorded this long before the final checkpoint must be in it')
    parser.add_argument('--run-dir', type=Path, default=None, help='keep the run here (default: a temp folder)')
    args = parser.parse_args()
    os.environ.setdefault('ROS_AUTOMATIC_DISCOVERY_RANGE', 'LOCALHOST')
    if args.run_dir is not None:
        args.run_dir.mkdir(parents=True, exist_ok=True)
        return run(args.trials, args.seed, args.margin_s, args.run_dir.resolve())
    with tempfile.TemporaryDirectory(prefix='fault_injection_') as folder:
        return run(args.trials, args.seed, args.margin_s, Path(folder))


if __name__ == '__main__':
    sys.exit(main())
