"""The helper processes of bench/control_loop.py: the busy trainer, the real nodes under a chosen executor,
and the bare relay chain (same messages and QoS, no work); plus the random weights the real residual runs,
and starting / stopping / metering those processes.

Started by control_loop.py as `python bench/control_loop.py --role <role>`; not a command of its own.
"""
from __future__ import annotations

import os
import signal
import subprocess
import sys
import types
from pathlib import Path

import numpy as np

JOINTS, PROPRIO, TASK, CHUNK = 12, 32, 10, 8      # the GR-1 humanoid task
NAMES = [f'joint_{i}' for i in range(JOINTS)]


# -- helper processes -----------------------------------------------------------------------------------

def make_weights(size: str, cameras: int, version: int = 1):
    """Random residual weights (nonzero last layer) at humanoid dimensions, as ActorWeights."""
    import torch

    from residual_rl_ros.core.actor_export import actor_weights
    from residual_rl_ros.core.networks import PolicySpec, ResidualPolicy
    from residual_rl_ros.core.normalizers import identity_normalizers
    from residual_rl_ros.core.recipe import ResidualRecipe
    from residual_rl_ros.core.training.config import recipe_preset

    recipe = ResidualRecipe() if size == 'paper' else recipe_preset(size)
    spec = PolicySpec(PROPRIO + TASK, JOINTS, CHUNK, tuple(f'cam{i}' for i in range(cameras)), (84, 84))
    torch.manual_seed(version)
    policy = ResidualPolicy(spec, recipe.network)
    torch.nn.init.normal_(policy.actor.net[-1].weight, std=0.05)
    state_norm, action_norm = identity_normalizers(spec.state_dim, spec.action_dim)
    learner = types.SimpleNamespace(policy=policy, state_normalizer=state_norm, action_normalizer=action_norm,
                                    counters={'policy_version': version}, spec=spec, recipe=recipe)
    return actor_weights(learner)


def write_weights(path: Path, size: str, cameras: int) -> None:
    from residual_rl_ros.core.actor_export import save_actor_weights
    save_actor_weights(path, make_weights(size, cameras))


def run_trainer(size: str, cameras: int) -> None:
    """Learner updates in a loop on random transitions, one torch thread: a trainer saturating one core."""
    import torch

    from residual_rl_ros.core.learner import ResidualLearner
    from residual_rl_ros.core.networks import PolicySpec
    from residual_rl_ros.core.recipe import ResidualRecipe
    from residual_rl_ros.core.replay import MixedSampler, ReplayBuffer
    from residual_rl_ros.core.training.config import recipe_preset
    from residual_rl_ros.core.types import Observation, Transition

    torch.set_num_threads(1)
    recipe = ResidualRecipe() if size == 'paper' else recipe_preset(size)
    spec = PolicySpec(PROPRIO + TASK, JOINTS, CHUNK, tuple(f'cam{i}' for i in range(cameras)), (84, 84))
    rng = np.random.default_rng(0)
    buffer = ReplayBuffer(spec, 2048)
    obs = [Observation(rng.normal(size=PROPRIO).astype(np.float32), rng.normal(size=TASK).astype(np.float32),
                       {c: rng.integers(0, 256, (84, 84, 3), np.uint8) for c in spec.camera_names}) for _ in range(2)]
    for t in range(1024):
        buffer.add(Transition(obs[t % 2], rng.uniform(-1, 1, JOINTS).astype(np.float32), t % CHUNK,
                              rng.uniform(-1, 1, JOINTS).astype(np.float32), float(rng.random() < 0.1),
                              obs[(t + 1) % 2],
                              rng.uniform(-1, 1, JOINTS).astype(np.float32), (t + 1) % CHUNK, t % 100 == 99, False))
    learner, sampler = ResidualLearner(recipe, spec), MixedSampler({'online': buffer}, {'online': 1.0})
    while True:
        learner.update(sampler)


def make_executor(kind: str):
    from rclpy.executors import SingleThreadedExecutor
    if kind == 'events':
        from rclpy.experimental import EventsExecutor
        return EventsExecutor()
    return SingleThreadedExecutor()


def spin(node, kind: str) -> None:
    """Spin `node` with the chosen executor until Ctrl-C."""
    executor = make_executor(kind)
    executor.add_node(node)
    try:
        executor.spin()
    except KeyboardInterrupt:
        pass


def run_node_with(module: str, kind: str) -> None:
    """A real node (residual_policy, safety_limit) spun by the chosen executor."""
    import importlib

    import rclpy
    rclpy.init(args=sys.argv)
    nodes = importlib.import_module(f'residual_rl_ros.nodes.{module}')
    node = next(v for k, v in vars(nodes).items() if k.replace('_', '').lower() == module.replace('_', '').lower())()
    spin(node, kind)


def run_relay(stage: str, kind: str) -> None:
    """A bare node of the baseline chain: the same messages and QoS as the real stage, no work."""
    import rclpy
    from rclpy.node import Node
    from std_msgs.msg import Float64MultiArray

    from residual_rl_ros.msg import BaseAction, Observation, PolicyActionRecord
    from residual_rl_ros.ros import qos

    rclpy.init()
    node = Node(f'relay_{stage}')
    if stage == 'policy':
        pub = node.create_publisher(PolicyActionRecord, 'action_proposal', qos.CONTROL)
        stamps: dict = {}
        node.create_subscription(Observation, 'observation', lambda m: stamps.__setitem__('obs', m.header.stamp),
                                 qos.CONTROL)

        def on_base(msg: BaseAction) -> None:
            record = PolicyActionRecord(joint_names=list(msg.joint_names), base_action=list(msg.action),
                                        residual=[0.0] * len(msg.action), executed_action=list(msg.action),
                                        chunk_phase=msg.chunk_phase, chunk_length=msg.chunk_length)
            record.header.stamp = msg.observation_stamp
            pub.publish(record)
        node.create_subscription(BaseAction, 'base_action', on_base, qos.CONTROL)
    else:
        commands = node.create_publisher(Float64MultiArray, 'commands', qos.COMMAND)
        records = node.create_publisher(PolicyActionRecord, 'action_records', qos.RECORD)

        def on_proposal(msg: PolicyActionRecord) -> None:
            commands.publish(Float64MultiArray(data=list(msg.executed_action)))
            records.publish(msg)
        node.create_subscription(PolicyActionRecord, 'action_proposal', on_proposal, qos.CONTROL)
    spin(node, kind)


# -- process plumbing ---------------------------------------------------------------------------------

def start(cmd: list[str], log: Path, env: dict) -> subprocess.Popen:
    return subprocess.Popen(cmd, stdout=log.open('w'), stderr=subprocess.STDOUT, env=env, start_new_session=True)


def stop(processes: list[subprocess.Popen]) -> None:
    for p in processes:
        if p.poll() is None:
            os.killpg(p.pid, signal.SIGINT)
    for p in processes:
        try:
            p.wait(timeout=10)
        except subprocess.TimeoutExpired:
            os.killpg(p.pid, signal.SIGKILL)
            p.wait()


def cpu_seconds(pid: int) -> float:
    """User + system CPU seconds of a process so far (all its threads)."""
    fields = Path(f'/proc/{pid}/stat').read_text().rsplit(')', 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf('SC_CLK_TCK')     # utime, stime
