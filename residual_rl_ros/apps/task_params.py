"""Fit a graph's params (config/<graph>.yaml) to a simulated task: joints, state sizes, cameras, limits."""
from __future__ import annotations

import copy
from pathlib import Path
from typing import Any

import yaml

from residual_rl_ros.core.types import Task
from residual_rl_ros.sim.limits import task_limits


def params_for_task(template: dict[str, Any], task: Task, run_dir: Path, image: bool = False) -> dict[str, Any]:
    """A copy of `template` (node -> ros__parameters) set up for `task`; writes run_dir/joint_limits.yaml."""
    params = copy.deepcopy(template)
    observation = task.reset(seed=0)
    limits_file = run_dir / 'joint_limits.yaml'
    limits_file.write_text(yaml.safe_dump(task_limits(task), sort_keys=False))
    joints = list(task.joint_names)
    sections = {
        'sim_robot': {'task': task.name, 'image': image},
        'ingestion': {'task_state_dim': int(observation.task_state.size), 'camera_names': list(task.camera_names)},
        'base_policy': {'joint_names': list(joints)},
        'safety_limit': {'joint_names': list(joints), 'limits_file': str(limits_file)},
        'trainer': {'camera_names': list(task.camera_names), 'max_episode_steps': int(task.max_episode_steps)},
        'residual_policy': {'control_rate_hz': float(task.control_rate_hz)},
    }
    for node, values in sections.items():
        if node in params:
            params[node]['ros__parameters'].update(values)
            if not params[node]['ros__parameters'].get('camera_names', True):
                del params[node]['ros__parameters']['camera_names']   # ROS params files reject empty lists
    return params
