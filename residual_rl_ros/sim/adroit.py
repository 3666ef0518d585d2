"""Adroit hand relocate (gymnasium-robotics `AdroitHandRelocateSparse-v1`) as a `Task`.

Action (30,), the gym action space [-1, 1]: absolute position targets of the 30 actuators
(`joint_names` = the MuJoCo actuator names A_ARTx ... A_THJ0), mapped linearly by the env onto each
actuator's control range (`actuator_ctrlrange`, metres for the 3 arm slides, radians otherwise):
target = mean(ctrlrange) + action * half_width(ctrlrange). Control rate 100 Hz (5 substeps of 2 ms);
200-step episodes.

Observation.proprio (63,): arm+hand joint positions (30), joint velocities (30), palm position (3, world).
Observation.task_state (15,): ball position (3), ball linear velocity (3), target position (3),
  palm minus ball (3), ball minus target (3).

Success: ball centre within 10 cm of the target (the env's `info['success']`).
Failure: the ball left the table (its centre more than 10 cm below the table top); irrecoverable.
"""
from __future__ import annotations

from typing import Any, Mapping

import numpy as np

from residual_rl_ros.sim._gym_task import GymTask

N_ACT = 30
FALL_Z_M = -0.1


class AdroitRelocateTask(GymTask):
    """Move the blue ball to the green target with the 24-DoF hand on a 6-DoF arm; sparse success."""

    name = 'adroit_relocate'
    env_id = 'AdroitHandRelocateSparse-v1'
    max_episode_steps = 200
    available_cameras = {'front': 'fixed', 'wide': 'vil_camera'}
    default_cameras = ('front',)

    def __init__(self, **kwargs: Any) -> None:
        kwargs.setdefault('env_kwargs', {'reward_type': 'sparse'})
        super().__init__(**kwargs)
        import mujoco

        self.joint_names = [mujoco.mj_id2name(self.model, mujoco.mjtObj.mjOBJ_ACTUATOR, i)
                            for i in range(self.model.nu)]
        self.actuator_ctrlrange = self.model.actuator_ctrlrange.copy()
        self.palm_site_id = self.env.S_grasp_site_id
        self.target_site_id = self.env.target_obj_site_id
        self.ball_body_id = self.env.obj_body_id

    def palm_pos(self) -> np.ndarray:
        return self.data.site_xpos[self.palm_site_id].copy()

    def ball_pos(self) -> np.ndarray:
        return self.data.xpos[self.ball_body_id].copy()

    def target_pos(self) -> np.ndarray:
        return self.data.site_xpos[self.target_site_id].copy()

    def _observation(self, gym_obs: Any) -> tuple[np.ndarray, np.ndarray]:
        palm, ball, target = self.palm_pos(), self.ball_pos(), self.target_pos()
        proprio = np.concatenate([self.data.qpos[:N_ACT], self.data.qvel[:N_ACT], palm])
        task_state = np.concatenate([ball, self.data.qvel[N_ACT:N_ACT + 3], target, palm - ball,
                                     ball - target])
        return proprio, task_state

    def _success(self, gym_obs: Any, info: Mapping[str, Any]) -> bool:
        return bool(info['success'])

    def _failure(self, gym_obs: Any, info: Mapping[str, Any]) -> bool:
        return bool(self.data.xpos[self.ball_body_id][2] < FALL_Z_M)
