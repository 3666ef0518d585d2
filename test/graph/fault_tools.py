"""Fault injection helpers shared by the CI fault test and bench/fault_injection.py (no pytest in here).

A realtime-sim Fetch graph (hardware-like timing), the pid of one of its node processes, a probe that
timestamps what the robot receives, and the transition keys (episode_id, tick, observation stamp) the
bags recorded and the trainer's checkpoint holds.
"""
from __future__ import annotations

import json
import subprocess
import time
from pathlib import Path

import numpy as np
import yaml
from rclpy.node import Node
from std_msgs.msg import Float64MultiArray

from residual_rl_ros import msg as ours
from residual_rl_ros.bags.reader import read_messages
from residual_rl_ros.bags.replay import TRANSITION_TYPES, sessions, transitions
from residual_rl_ros.core.node_params import TrainerParams
from residual_rl_ros.core.transitions import TransitionAssembler
from residual_rl_ros.ros import qos

RATE_HZ = 25.0                    # Fetch's control rate; realtime physics steps at it
PERIOD_S = 1.0 / RATE_HZ
Key = tuple[int, int, int]


def make_realtime(params_file: Path) -> None:
    """Physics at the task rate on a timer (like hardware); safety times out after 1.5 control periods; the
    next episode starts without waiting for the trainer's updates (a robot does not wait for its learner)."""
    params = yaml.safe_load(params_file.read_text())
    params['sim_robot']['ros__parameters'].update(physics_mode='realtime', command_timeout_s=0.5)
    params['reward_button']['ros__parameters'].update(wait_for_trainer_updates=False)
    params['safety_limit']['ros__parameters'].update(command_timeout_s=1.5 * PERIOD_S, watchdog_rate_hz=200.0)
    params_file.write_text(yaml.safe_dump(params))


def node_pid(executable: str, run_dir: Path) -> int | None:
    """The pid of the graph's `executable` process for this run_dir (None when it is not running)."""
    out = subprocess.run(['pgrep', '-f', f'lib/residual_rl_ros/{executable} .*{run_dir}'], capture_output=True,
                         text=True).stdout.split()
    return int(out[0]) if out else None


class FaultProbe:
    """Monotonic arrival times of commands to the robot, proposals and trainer status messages."""

    def __init__(self, context) -> None:
        self.node = Node('fault_probe', context=context)
        self.commands: list[float] = []
        self.proposals: list[float] = []
        self.status: list[tuple[float, int]] = []       # (arrival, env_steps)
        self.node.create_subscription(Float64MultiArray, 'sim_robot/commands',
                                      lambda m: self.commands.append(time.monotonic()), qos.COMMAND)
        self.node.create_subscription(ours.PolicyActionRecord, 'action_proposal',
                                      lambda m: self.proposals.append(time.monotonic()), qos.CONTROL)
        self.node.create_subscription(ours.TrainerStatus, 'trainer_status',
                                      lambda m: self.status.append((time.monotonic(), int(m.env_steps))),
                                      qos.LATCHED)

    def hold_after(self, killed_at: float) -> dict:
        """What the robot got after a policy node died at `killed_at`: seconds from the last proposal to
        the first hold (None when no proposal was flowing: the safety node was already holding)."""
        before = [t for t in self.proposals if t <= killed_at]
        last = before[-1] if before else None
        flowing = last is not None and killed_at - last <= 2 * PERIOD_S
        # the command answering the last proposal arrives within a few ms; what follows are the holds
        holds = [t for t in self.commands if last is not None and t > last + 0.015]
        held_window = [t for t in self.commands if killed_at < t < killed_at + 0.5]
        return {'flowing': flowing, 'time_to_hold_s': holds[0] - last if flowing and holds else None,
                'holds_in_0.5s': len(held_window)}

    def max_gap(self, times: list[float], start: float, end: float) -> float:
        inside = [start] + [t for t in times if start < t < end] + [end]
        return float(np.max(np.diff(inside)))

    def destroy(self) -> None:
        self.node.destroy_node()


def bag_keys(bag_dir: Path, relabel_window_s: float = TrainerParams().relabel_window_s) -> set[Key]:
    """Every transition the bags under `bag_dir` rebuild (with the trainer's relabel window: a later label
    replaces a timeout's end), by key (its observation stamp is wall time)."""
    keys: set[Key] = set()
    for files in sessions([bag_dir]):
        assembler = TransitionAssembler(lambda a: a, relabel_window_s=relabel_window_s)
        for batch in transitions(read_messages(files, TRANSITION_TYPES), assembler):
            keys.update(transition.source for transition in batch)
            assembler.ended.clear()
    return keys


def checkpoint_keys(run_dir: Path) -> tuple[set[Key], float, int]:
    """The trainer checkpoint's stored transition keys, its wall time (s) and its stored count."""
    folder = run_dir / 'checkpoint'
    state_file = folder / 'live_state.json'
    stored = json.loads(state_file.read_text())['stored']
    keys = {tuple(map(int, k)) for k in np.load(folder / 'stored_keys.npy')}
    return keys, state_file.stat().st_mtime, stored


def lost_transitions(run_dir: Path, margin_s: float = 6.0) -> dict:
    """Bag transitions older than the latest checkpoint (minus `margin_s` for data in flight and the
    relabel window) that the checkpoint does not hold; plus stored keys that no bag holds."""
    keys, written_s, stored = checkpoint_keys(run_dir)
    recorded = bag_keys(run_dir / 'bags')
    cutoff_ns = int((written_s - margin_s) * 1e9)
    due = {k for k in recorded if k[2] < cutoff_ns}
    return {'recorded': len(recorded), 'due': len(due), 'stored': stored, 'lost': sorted(due - keys),
            'not_in_bags': len(keys - recorded)}
