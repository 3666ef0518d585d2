"""Fetch pick-and-place (gymnasium-robotics `FetchPickAndPlace-v4`) as a `Task`.

Action (4,), the gym action space [-1, 1]:
  ee_dx, ee_dy, ee_dz  gripper displacement target, scaled by the env to 0.05 m per step (world frame)
  gripper              finger position change; + opens, - closes
Control rate 25 Hz (20 substeps of 2 ms); 50-step episodes.

Observation.proprio (10,): gripper position (3, m, world), finger positions (2, m),
  gripper linear velocity (3, m per step), finger velocities (2, m per step).
Observation.task_state (18,): object position (3), object minus gripper (3), object Euler angles (3),
  object linear velocity relative to the gripper (3), object angular velocity (3), goal position (3).

Success: object within 5 cm of the goal (the env's own test); the episode should end there.
Failure: the object fell off the table (more than 10 cm below the table top); irrecoverable.
"""
from __future__ import annotations

from typing import Any, Mapping

import numpy as np

from residual_rl_ros.sim._gym_task import GymTask

# Slices of gym obs['observation'] (see gymnasium_robotics fetch_env._get_obs).
_GRIP_POS, _OBJ_POS, _OBJ_REL = slice(0, 3), slice(3, 6), slice(6, 9)
_FINGERS, _OBJ_ROT, _OBJ_VELP, _OBJ_VELR = slice(9, 11), slice(11, 14), slice(14, 17), slice(17, 20)
_GRIP_VELP, _FINGER_VEL = slice(20, 23), slice(23, 25)

FALL_DEPTH_M = 0.1


class FetchPickPlaceTask(GymTask):
    """Pick up the cube and bring it to the (possibly mid-air) goal; sparse success."""

    name = 'fetch_pick_place'
    env_id = 'FetchPickAndPlace-v4'
    joint_names = ['ee_dx', 'ee_dy', 'ee_dz', 'gripper']
    max_episode_steps = 50
    available_cameras = {'front': 'external_camera_0', 'head': 'head_camera_rgb'}
    default_cameras = ('front',)

    def _after_reset(self) -> None:
        # Place the visual goal marker (the env only does this in its own render path).
        self.env._render_callback()

    def _observation(self, gym_obs: Any) -> tuple[np.ndarray, np.ndarray]:
        o = gym_obs['observation']
        proprio = np.concatenate([o[_GRIP_POS], o[_FINGERS], o[_GRIP_VELP], o[_FINGER_VEL]])
        task_state = np.concatenate([o[_OBJ_POS], o[_OBJ_REL], o[_OBJ_ROT], o[_OBJ_VELP], o[_OBJ_VELR],
                                     gym_obs['desired_goal']])
        return proprio, task_state

    def _success(self, gym_obs: Any, info: Mapping[str, Any]) -> bool:
        return bool(info['is_success'])

    def _failure(self, gym_obs: Any, info: Mapping[str, Any]) -> bool:
        return bool(gym_obs['observation'][_OBJ_POS][2] < self.env.height_offset - FALL_DEPTH_M)
