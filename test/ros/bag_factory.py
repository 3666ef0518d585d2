"""Small synthetic recordings for the bag tests: episodes as our topics would carry them, serialized with
rosbags (the bytes a raw subscription delivers), plus demos and a black-box base policy to train with."""
from __future__ import annotations

import os
from pathlib import Path

import numpy as np

from residual_rl_ros.bags.typestore import typestore
from residual_rl_ros.bags.writer import BagWriter
from residual_rl_ros.core.types import Episode, Observation

JOINTS = ['j0', 'j1']
PROPRIO, TASK = 2, 2
TOPICS = {'/observation': 'residual_rl_ros/msg/Observation',
          '/action_records': 'residual_rl_ros/msg/PolicyActionRecord',
          '/episode_events': 'residual_rl_ros/msg/EpisodeEvent'}


class HoldPolicy:
    """A black-box base policy: the first two proprio values, as a 2-step chunk."""

    chunk_length = 2

    def reset(self) -> None:
        pass

    def act(self, observation: Observation) -> np.ndarray:
        return np.tile(np.clip(observation.proprio[:2], -1, 1), (2, 1)).astype(np.float32)


def hold_policy() -> HoldPolicy:
    return HoldPolicy()


def demos(rng: np.random.Generator, count: int = 3, length: int = 8) -> list[Episode]:
    return [Episode(proprio=rng.uniform(-1, 1, (length + 1, PROPRIO)).astype(np.float32),
                    task_state=rng.uniform(-1, 1, (length + 1, TASK)).astype(np.float32),
                    actions=rng.uniform(-1, 1, (length, 2)).astype(np.float32), success=True)
            for _ in range(count)]


def _stamp(ns: int):
    return typestore().types['builtin_interfaces/msg/Time'](sec=ns // 10**9, nanosec=ns % 10**9)


def _header(ns: int):
    return typestore().types['std_msgs/msg/Header'](stamp=_stamp(ns), frame_id='')


def messages(episodes: int = 3, steps: int = 10, start_ns: int = 10**18, dt_ns: int = 50_000_000,
             seed: int = 0, first_episode: int = 1) -> tuple[list[tuple[str, bytes, int]], int]:
    """(topic, raw bytes, receive ns) of `episodes` episodes of `steps` ticks (SUCCESS, then TIMEOUT
    alternately), and the number of transitions they rebuild (a TIMEOUT drops its last record)."""
    store, rng = typestore(), np.random.default_rng(seed)
    t = typestore().types
    out, expected, now, tick = [], 0, start_ns, 0

    def add(topic, msg, msgtype):
        nonlocal now
        out.append((topic, store.serialize_cdr(msg, msgtype), now))
        now += dt_ns // 4

    for e in range(first_episode, first_episode + episodes):
        event = t['residual_rl_ros/msg/EpisodeEvent']
        add('/episode_events', event(header=_header(now), event=0, source=1, episode_id=e, note='', evaluation=False),
            TOPICS['/episode_events'])
        for k in range(steps):
            obs_ns = now
            add('/observation', t['residual_rl_ros/msg/Observation'](
                header=_header(obs_ns), oldest_sensor_stamp=_stamp(obs_ns), joint_names=JOINTS,
                joint_position=rng.uniform(-1, 1, PROPRIO), joint_velocity=np.zeros(0),
                task_state=rng.uniform(-1, 1, TASK), camera_names=[], images=[], stale_sensors=[]),
                TOPICS['/observation'])
            base = rng.uniform(-1, 1, 2)
            add('/action_records', t['residual_rl_ros/msg/PolicyActionRecord'](
                header=_header(obs_ns), episode_id=e, tick=tick, joint_names=JOINTS, base_action=base,
                residual=np.zeros(2), executed_action=np.clip(base + 0.1, -1, 1), chunk_phase=k % 2,
                chunk_length=2, policy_version=0, intervention=False, exploration=True),
                TOPICS['/action_records'])
            tick += 1
            now += dt_ns
        success = e % 2 == 1
        add('/episode_events', event(header=_header(now), event=1 if success else 4, source=1, episode_id=e,
                                     note='', evaluation=False), TOPICS['/episode_events'])
        expected += steps if success else steps - 1
        now += 2 * 10**9          # a reset between episodes (longer than the assembler's grace)
    return out, expected


def write_bag(folder: Path, prefix: str = 'rec', storage: str = 'mcap', **kwargs) -> tuple[list, int]:
    """Write `messages(**kwargs)` to splits under `folder`; returns (messages, expected transitions)."""
    msgs, expected = messages(**kwargs)
    with BagWriter(folder, prefix, TOPICS, storage=storage) as writer:
        for topic, raw, ns in msgs:
            writer.write(topic, raw, ns)
    return msgs, expected


def all_types_messages() -> list[tuple[str, str, object]]:
    """(topic, type, CDR bytes) of one message of every type the graph records, fields filled."""
    t, store = typestore().types, typestore()
    header = t['std_msgs/msg/Header'](stamp=t['builtin_interfaces/msg/Time'](sec=5, nanosec=6), frame_id='cam')
    image = t['sensor_msgs/msg/Image'](header=header, height=2, width=3, encoding='rgb8', is_bigendian=0, step=9,
                                       data=np.arange(18, dtype=np.uint8))
    msgs = [
        ('/observation', 'residual_rl_ros/msg/Observation', t['residual_rl_ros/msg/Observation'](
            header=header, oldest_sensor_stamp=header.stamp, joint_names=['a', 'b'],
            joint_position=np.array([1.0, 2.0]), joint_velocity=np.array([0.5, 0.25]), task_state=np.zeros(0),
            camera_names=['front'], images=[image], stale_sensors=[])),
        ('/policy_weights', 'residual_rl_ros/msg/PolicyWeights', t['residual_rl_ros/msg/PolicyWeights'](
            header=header, version=3, format='safetensors', sha256='ab' * 32, config_json='{}',
            data=np.frombuffer(os.urandom(3000), np.uint8))),
        ('/trainer_status', 'residual_rl_ros/msg/TrainerStatus', t['residual_rl_ros/msg/TrainerStatus'](
            header=header, state=2, policy_version=3, env_steps=10, critic_updates=20, actor_updates=5, episodes=2,
            success_rate=0.5, critic_loss=0.1, actor_loss=-0.2, q_mean=0.3, online_transitions=10,
            demo_transitions=100, intervention_transitions=0, updates_per_s=12.0, message='ok', owed_env_steps=7,
            eval_success_rate=0.75)),
        ('/base_action', 'residual_rl_ros/msg/BaseAction', t['residual_rl_ros/msg/BaseAction'](
            header=header, observation_stamp=header.stamp, joint_names=['a'], action=np.array([0.1]),
            chunk_phase=1, chunk_length=4)),
        ('/joint_states', 'sensor_msgs/msg/JointState', t['sensor_msgs/msg/JointState'](
            header=header, name=['a', 'b'], position=np.array([1.0, 2.0]), velocity=np.zeros(0),
            effort=np.zeros(0))),
        ('/commands', 'std_msgs/msg/Float64MultiArray', t['std_msgs/msg/Float64MultiArray'](
            layout=t['std_msgs/msg/MultiArrayLayout'](dim=[], data_offset=0), data=np.array([1.5, -2.5]))),
    ]
    return [(topic, msgtype, store.serialize_cdr(msg, msgtype)) for topic, msgtype, msg in msgs]
