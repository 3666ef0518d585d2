"""Demonstrations from bags recorded by other tools: sensor_msgs/JointState + a command topic -> Episodes.

A YAML mapping names the topics and joints:

    joint_states: {topic: /joint_states, joints: [j1, j2, j3], use_velocity: false}
    command: {topic: /forward_position_controller/commands, joints: [j1, j2, j3]}  # Float64MultiArray or JointState
    task_state: {topic: /object_state, joints: [cube_x, cube_y, cube_z]}          # optional JointState
    episodes: {gap_s: 1.0, min_steps: 5, success: true}

Every command message is one step; its observation is the newest joint state (and task state) received
at or before it, and the episode's final observation the newest one after its last command. A pause
longer than `gap_s` between commands starts a new episode. JointState joints are taken by name, in the
mapping's order; a Float64MultiArray command is taken as is (its length must match `command.joints`).
"""
from __future__ import annotations

import dataclasses
from pathlib import Path
from typing import Iterable

import numpy as np
import yaml

from residual_rl_ros.bags.decode import deserialize
from residual_rl_ros.bags.reader import read_messages
from residual_rl_ros.core.joint_order import reorder_by_name
from residual_rl_ros.core.types import Episode

JOINT_STATE, FLOAT_ARRAY = 'sensor_msgs/msg/JointState', 'std_msgs/msg/Float64MultiArray'


@dataclasses.dataclass(frozen=True)
class DemoMapping:
    state_topic: str
    state_joints: tuple[str, ...]
    command_topic: str
    command_joints: tuple[str, ...]
    use_velocity: bool = False
    task_topic: str = ''
    task_joints: tuple[str, ...] = ()
    gap_s: float = 1.0
    min_steps: int = 2
    success: bool = True

    @classmethod
    def from_yaml(cls, path: str | Path) -> 'DemoMapping':
        """ValueError naming the file and the missing or bad key."""
        try:
            doc = yaml.safe_load(Path(path).read_text()) or {}
            state, command = doc['joint_states'], doc['command']
            task, episodes = doc.get('task_state') or {}, doc.get('episodes') or {}
            mapping = cls(state_topic=state['topic'], state_joints=tuple(state['joints']),
                          command_topic=command['topic'], command_joints=tuple(command['joints']),
                          use_velocity=bool(state.get('use_velocity', False)), task_topic=task.get('topic', ''),
                          task_joints=tuple(task.get('joints', ())), gap_s=float(episodes.get('gap_s', 1.0)),
                          min_steps=int(episodes.get('min_steps', 2)), success=bool(episodes.get('success', True)))
        except (OSError, yaml.YAMLError) as exc:
            raise ValueError(f'{path}: unreadable demo mapping ({exc})') from exc
        except (KeyError, TypeError, AttributeError) as exc:
            raise ValueError(f'{path}: demo mapping needs joint_states.topic/joints and command.topic/joints '
                             f'(problem: {exc!r})') from exc
        if mapping.gap_s <= 0 or mapping.min_steps < 1:
            raise ValueError(f'{path}: episodes.gap_s must be > 0 and min_steps >= 1')
        return mapping


def _by_name(msg, names: tuple[str, ...], field: str, topic: str) -> np.ndarray:
    try:
        order = reorder_by_name(msg.name, getattr(msg, field), names)
    except ValueError as exc:
        raise ValueError(f'{topic}: bad {field} ({exc}; the message has joints {list(msg.name)})') from exc
    if order.missing:
        raise ValueError(f'{topic}: joints {list(order.missing)} not in the message (it has {list(msg.name)})')
    return order.values.astype(np.float32)


def import_episodes(paths: Iterable[str | Path], mapping: DemoMapping) -> list[Episode]:
    """Episodes (robot units) from the bags under `paths`, per `mapping`; see the module docstring."""
    proprio = task = None
    steps: list[tuple[np.ndarray, np.ndarray, np.ndarray]] = []     # (proprio, task, action)
    episodes: list[Episode] = []
    last_command_ns = None

    def close() -> None:
        if len(steps) >= mapping.min_steps and proprio is not None:
            obs = np.stack([s[0] for s in steps] + [proprio])
            tasks = np.stack([s[1] for s in steps] + [task if task is not None else steps[-1][1]])
            episodes.append(Episode(proprio=obs, task_state=tasks, actions=np.stack([s[2] for s in steps]),
                                    success=mapping.success))
        steps.clear()

    topics = {mapping.state_topic, mapping.command_topic, mapping.task_topic} - {''}
    for message in read_messages(paths):
        if message.topic not in topics:
            continue
        msg = deserialize(message.data, message.msgtype)
        if message.topic == mapping.state_topic:
            proprio = _by_name(msg, mapping.state_joints, 'position', message.topic)
            if mapping.use_velocity:
                proprio = np.concatenate([proprio, _by_name(msg, mapping.state_joints, 'velocity', message.topic)])
        elif message.topic == mapping.task_topic:
            task = _by_name(msg, mapping.task_joints, 'position', message.topic)
        else:
            if last_command_ns is not None and message.stamp_ns - last_command_ns > mapping.gap_s * 1e9:
                close()
            last_command_ns = message.stamp_ns
            if message.msgtype == JOINT_STATE:
                action = _by_name(msg, mapping.command_joints, 'position', message.topic)
            elif message.msgtype == FLOAT_ARRAY:
                action = np.asarray(msg.data, np.float32)
                if len(action) != len(mapping.command_joints):
                    raise ValueError(f'{message.topic}: command has {len(action)} values, the mapping names '
                                     f'{len(mapping.command_joints)} joints')
            else:
                raise ValueError(f'{message.topic}: command type {message.msgtype} is not {JOINT_STATE} or '
                                 f'{FLOAT_ARRAY}')
            if proprio is not None and (task is not None or not mapping.task_topic):
                steps.append((proprio, task if task is not None else np.zeros(0, np.float32), action))
    close()
    return episodes
