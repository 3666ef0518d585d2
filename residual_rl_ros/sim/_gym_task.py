"""Shared machinery for tasks built on a gymnasium-robotics MuJoCo environment.

A task wraps the *unwrapped* gym env (no TimeLimit / order / checker wrappers): the caller decides
truncation from `max_episode_steps`, and the task terminates an episode only through the
`success` / `failure` flags of `StepResult`.

Seeding: `reset(seed)` re-seeds the env's own generator, so the initial state is a pure function
of the seed (no `set_state` needed). `reset()` without a seed continues that generator; the
first such call uses the seed given to the constructor.
"""
from __future__ import annotations

import os
from typing import Any, Mapping

import numpy as np

from residual_rl_ros.core.types import Observation, StepResult
from residual_rl_ros.sim._actions import checked_action
from residual_rl_ros.sim._closing import ClosesOnExit

IMAGE_SIZE = 84


def _make_gym_env(env_id: str, **kwargs: Any) -> Any:
    # Rendering backend must be chosen before mujoco is first imported.
    os.environ.setdefault('MUJOCO_GL', 'egl')
    import gymnasium as gym
    import gymnasium_robotics

    gym.register_envs(gymnasium_robotics)
    return gym.make(env_id, **kwargs).unwrapped


class CameraRig:
    """Renders named views of a MuJoCo model with `mujoco.Renderer` (shadows/reflections off)."""

    def __init__(self, model: Any, views: Mapping[str, str], height: int, width: int) -> None:
        import mujoco

        self._mujoco = mujoco
        self.views = dict(views)            # our camera name -> MuJoCo camera name
        self._renderer = mujoco.Renderer(model, height=height, width=width)
        self._renderer.scene.flags[mujoco.mjtRndFlag.mjRND_SHADOW] = 0
        self._renderer.scene.flags[mujoco.mjtRndFlag.mjRND_REFLECTION] = 0

    def render(self, data: Any) -> dict[str, np.ndarray]:
        images = {}
        for name, mj_camera in self.views.items():
            self._renderer.update_scene(data, camera=mj_camera)
            images[name] = self._renderer.render().copy()
        return images

    def close(self) -> None:
        if self._renderer is not None:
            self._renderer.close()
            self._renderer = None


class GymTask(ClosesOnExit):
    """Base class: step counting, seeding, cameras; subclasses map gym obs to `Observation`.

    Subclasses set the class attributes and implement `_observation`, `_success`, `_failure`.
    """

    name: str = ''
    env_id: str = ''
    available_cameras: Mapping[str, str] = {}    # our name -> MuJoCo camera name
    default_cameras: tuple[str, ...] = ()

    def __init__(self, *, image: bool = False, seed: int | None = None,
                 cameras: tuple[str, ...] | list[str] | None = None,
                 image_size: int = IMAGE_SIZE, env_kwargs: Mapping[str, Any] | None = None) -> None:
        if image_size < 8 or image_size > 640:
            raise ValueError(f'image_size={image_size}: expected 8..640 pixels')
        self.env = _make_gym_env(self.env_id, **dict(env_kwargs or {}))
        self.model, self.data = self.env.model, self.env.data
        low, high = self.env.action_space.low, self.env.action_space.high
        self.action_low = np.asarray(low, np.float32).copy()
        self.action_high = np.asarray(high, np.float32).copy()
        self.control_rate_hz = float(1.0 / self.env.dt)
        self._pending_seed = seed
        self._steps = 0
        self._last_gym_obs: Any = None
        self._cameras: CameraRig | None = None
        self.camera_names: list[str] = []
        if image:
            names = list(cameras) if cameras is not None else list(self.default_cameras)
            unknown = [c for c in names if c not in self.available_cameras]
            if unknown or not names:
                raise ValueError(f'cameras={names}: expected a non-empty subset of '
                                 f'{sorted(self.available_cameras)}')
            self.camera_names = names
            self._cameras = CameraRig(self.model, {c: self.available_cameras[c] for c in names},
                                      image_size, image_size)

    # -- Task protocol ---------------------------------------------------------------------------
    @property
    def steps(self) -> int:
        """Steps taken since the last reset."""
        return self._steps

    def reset(self, seed: int | None = None) -> Observation:
        if seed is None:
            seed, self._pending_seed = self._pending_seed, None
        obs, _ = self.env.reset(seed=seed)
        self._steps = 0
        self._after_reset()
        self._last_gym_obs = obs
        return self._make_observation(obs)

    def step(self, action: np.ndarray) -> StepResult:
        action = checked_action(action, self.action_low)
        obs, _, _, _, info = self.env.step(action)
        self._steps += 1
        self._last_gym_obs = obs
        success = self._success(obs, info)
        failure = (not success) and self._failure(obs, info)
        return StepResult(observation=self._make_observation(obs), success=success, failure=failure)

    def close(self) -> None:
        if self._cameras is not None:
            self._cameras.close()
            self._cameras = None
        self.env.close()

    # -- hooks -----------------------------------------------------------------------------------
    def _after_reset(self) -> None:
        """Called after the gym reset, before the first observation (e.g. to place goal markers)."""

    def _make_observation(self, gym_obs: Any) -> Observation:
        proprio, task_state = self._observation(gym_obs)
        images = self._cameras.render(self.data) if self._cameras is not None else {}
        return Observation(proprio=np.asarray(proprio, np.float32),
                           task_state=np.asarray(task_state, np.float32), images=images)

    def _observation(self, gym_obs: Any) -> tuple[np.ndarray, np.ndarray]:
        raise NotImplementedError

    def _success(self, gym_obs: Any, info: Mapping[str, Any]) -> bool:
        raise NotImplementedError

    def _failure(self, gym_obs: Any, info: Mapping[str, Any]) -> bool:
        return False
