"""GR-1 humanoid with Fourier dexterous hands lifting a cube with its right hand (robosuite 1.5) as a `Task`.

Registered as 'humanoid_gr1'; build it with `make_humanoid_task(image=..., seed=...)` or
`residual_rl_ros.sim.make_task('humanoid_gr1', ...)`. The scripted expert is in `humanoid_demo`.

Scene: robosuite `Lift` with `GR1FixedLowerBody` (torso, head, two 7-DoF arms, two 6-actuator Fourier
hands; legs fixed) and the `BASIC` composite controller (OSC_POSE arms, joint-position torso/head,
per-finger grip). Changed from stock `Lift` so that a standing GR-1 can reach the cube: the table top
is at `TABLE_TOP_Z_M` (0.95 m instead of 0.8 m, which the straight arm does not reach), the table is
0.6 m deep (the robot stands 10 cm closer), and the cube (4.4 cm, fixed size) is placed in front of
the right hand, +-4 cm x, +-2.5 cm y, any yaw.

Only the right arm and right hand are commanded (12-D action); the task holds the torso and head
(zero joint deltas), keeps the left hand open and servos the left arm to its initial pose.

Action (12,), robot units = the controller's output limits:
  0-2   right_arm_osc_d{x,y,z}     eef position delta (m), +-0.05, in the controller frame (the
                                   `robot0_right_center` site on the torso, see `controller_frame()`)
  3-5   right_arm_osc_dr{x,y,z}    eef rotation delta (axis-angle, rad), +-0.5, same frame
  6-11  right_hand_{pinky,ring,middle,index,thumb_bend,thumb_rotation}: absolute flexion target,
        -1 open .. +1 closed (mapped linearly onto each finger joint's range; coupled joints follow)
The OSC goal is current pose + delta, so a zero arm action holds the hand roughly still.

Observation.proprio (32,): right arm joint positions (7, rad), velocities (7, rad/s), right hand joint
  positions (11, rad), right eef (grip site, at the wrist end of the palm) position (3, world m) and
  quaternion (4, xyzw).
Observation.task_state (10,): cube position (3), cube quaternion (4, xyzw), cube minus eef (3).
Images (image variant): 'head' (a camera at the GR-1 head camera's position, aimed down at the
  right-hand workspace; the stock `robot0_robotview` cuts the right hand off) and optionally
  'right_wrist' (`robot0_eye_in_right_hand`), 84x84 RGB rendered with `mujoco.Renderer` on the
  robosuite model (visual geoms only, shadows and reflections off); robosuite's camera path is not used.

Success: cube centre more than 10 cm above the table top, i.e. lifted ~8 cm (stock `Lift` asks
for 4 cm, a 2 cm lift).
Failure: cube more than 5 cm below the table top (pushed off the table).
Control rate 20 Hz (25 physics substeps of 2 ms); 150-step episodes; the expert needs ~60 steps.
Speed (2 shared CPU cores, llvmpipe): state ~34 steps/s on an idle machine, 11-23 steps/s at load 6-9;
image (84x84 head camera) ~4 steps/s at load 7-9; building the env takes 10-20 s.

Seeding: `reset(seed)` re-seeds robosuite's generator (robot initial-joint noise, cube pose), so the
initial state is a function of the seed; `reset()` continues that generator, the first such call
using the constructor's seed. The simulation itself is deterministic.
"""
from __future__ import annotations

import os
from collections.abc import Sequence
from typing import Any

import numpy as np

from residual_rl_ros.core.types import Observation, StepResult
from residual_rl_ros.sim._actions import checked_action
from residual_rl_ros.sim._closing import ClosesOnExit

# Headless rendering backend; takes effect only if mujoco has not been imported yet.
os.environ.setdefault('MUJOCO_GL', 'egl')

TASK_NAME = 'humanoid_gr1'
ROBOT = 'GR1FixedLowerBody'
TABLE_TOP_Z_M = 0.95
TABLE_SIZE_M = (0.6, 0.8, 0.05)
CUBE_HALF_SIZE_M = 0.022
CUBE_CENTER_XY_M = (-0.15, -0.18)        # nominal cube position on the table (world)
CUBE_RANGE_XY_M = (0.04, 0.025)          # +- uniform around the nominal position
FAIL_BELOW_TABLE_M = 0.05
SUCCESS_ABOVE_TABLE_M = 0.10          # cube centre height that counts as lifted (resting: 0.022)
IMAGE_SIZE = 84
HEAD_CAMERA_POS_M = (-0.32, 0.0, 1.52)   # at the GR-1 head camera (`robot0_robotview`)
HEAD_CAMERA_LOOKAT_M = (-0.13, -0.17, 1.0)
HEAD_CAMERA_FOVY_DEG = 60.0
CAMERAS = {'head': 'head_workspace', 'right_wrist': 'robot0_eye_in_right_hand'}
# Robot parts no camera here sees (the head camera sits inside the head): not drawn, which cuts the
# triangles llvmpipe must push by ~40% (the GR-1 visual meshes have ~500k faces).
UNSEEN_BODY_PARTS = ('robot0_l_', 'gripper0_left', 'thigh', 'shank', 'foot', 'head', 'whole_body')
HAND_DIMS = ('pinky', 'ring', 'middle', 'index', 'thumb_bend', 'thumb_rotation')
JOINT_NAMES = ([f'right_arm_osc_d{a}' for a in ('x', 'y', 'z', 'rx', 'ry', 'rz')]
               + [f'right_hand_{f}' for f in HAND_DIMS])
ARM_DELTA_LIMITS = np.array([0.05, 0.05, 0.05, 0.5, 0.5, 0.5])    # BASIC OSC_POSE output_max
LEFT_ARM_HOLD_GAIN = 10.0                # 1/s-ish: normalized action per metre of left-eef drift


def _look_at_quat(pos: Sequence[float], target: Sequence[float]) -> np.ndarray:
    """MuJoCo camera quaternion (w, x, y, z) looking from `pos` at `target`, image up = world up."""
    forward = np.subtract(target, pos) / np.linalg.norm(np.subtract(target, pos))
    right = np.cross(forward, [0.0, 0.0, 1.0])
    right /= np.linalg.norm(right)
    rot = np.stack([right, np.cross(-forward, right), -forward], axis=1)   # camera x, y, z in world
    return _mat_to_quat_wxyz(rot)


def _mat_to_quat_wxyz(rot: np.ndarray) -> np.ndarray:
    import mujoco

    quat = np.zeros(4)
    mujoco.mju_mat2Quat(quat, np.ascontiguousarray(rot, np.float64).reshape(9))
    return quat


def _make_lift_env(seed: int | None, horizon: int) -> Any:
    import robosuite
    from robosuite.environments.manipulation.lift import Lift
    from robosuite.models.arenas import TableArena
    from robosuite.models.objects import BoxObject
    from robosuite.models.tasks import ManipulationTask
    from robosuite.utils.placement_samplers import UniformRandomSampler

    class GR1CubeLift(Lift):
        """Stock `Lift` with a higher, shallower table and the cube in front of the right hand."""

        def _load_model(self) -> None:
            super(Lift, self)._load_model()
            self.table_offset = np.array((0.0, 0.0, TABLE_TOP_Z_M))
            robot_model = self.robots[0].robot_model
            robot_model.set_base_xpos(robot_model.base_xpos_offset['table'](self.table_full_size[0]))
            arena = TableArena(table_full_size=self.table_full_size, table_friction=self.table_friction,
                               table_offset=self.table_offset)
            arena.set_origin([0, 0, 0])
            arena.set_camera(CAMERAS['head'], HEAD_CAMERA_POS_M,
                             _look_at_quat(HEAD_CAMERA_POS_M, HEAD_CAMERA_LOOKAT_M),
                             camera_attribs={'fovy': str(HEAD_CAMERA_FOVY_DEG)})
            half = [CUBE_HALF_SIZE_M] * 3
            self.cube = BoxObject(name='cube', size_min=half, size_max=half, rgba=[1, 0, 0, 1],
                                  rng=self.rng)
            (cx, cy), (rx, ry) = CUBE_CENTER_XY_M, CUBE_RANGE_XY_M
            self.placement_initializer = UniformRandomSampler(
                name='ObjectSampler', mujoco_objects=self.cube, x_range=[cx - rx, cx + rx],
                y_range=[cy - ry, cy + ry], rotation=None, ensure_object_boundary_in_range=False,
                ensure_valid_placement=True, reference_pos=self.table_offset, z_offset=0.01,
                rng=self.rng)
            self.model = ManipulationTask(mujoco_arena=arena, mujoco_robots=[robot_model],
                                          mujoco_objects=self.cube)

    controller = robosuite.load_composite_controller_config(controller='BASIC', robot=ROBOT)
    return GR1CubeLift(robots=ROBOT, controller_configs=controller, table_full_size=TABLE_SIZE_M,
                       has_renderer=False, has_offscreen_renderer=False, use_camera_obs=False,
                       control_freq=20, horizon=horizon, ignore_done=True, hard_reset=False,
                       seed=seed)


class HumanoidLiftTask(ClosesOnExit):
    """GR-1 right-hand cube lift; see the module docstring for action and observation layouts."""

    name = TASK_NAME

    def __init__(self, *, image: bool = False, seed: int | None = None,
                 cameras: Sequence[str] = ('head',), image_size: int = IMAGE_SIZE,
                 max_episode_steps: int = 150) -> None:
        if image_size < 8 or image_size > 640:
            raise ValueError(f'image_size={image_size}: expected 8..640 pixels')
        if max_episode_steps < 1:
            raise ValueError(f'max_episode_steps={max_episode_steps}: expected >= 1')
        self.env = _make_lift_env(seed, horizon=max_episode_steps + 1)
        self.sim = self.env.sim
        self.model, self.data = self.sim.model._model, self.sim.data._data
        self.robot = self.env.robots[0]
        self.joint_names = list(JOINT_NAMES)
        hand = np.ones(len(HAND_DIMS))
        self.action_high = np.concatenate([ARM_DELTA_LIMITS, hand]).astype(np.float32)
        self.action_low = -self.action_high
        self.max_episode_steps = int(max_episode_steps)
        self.control_rate_hz = float(self.env.control_freq)
        self._scale = self.action_high.astype(np.float64)     # robot units -> robosuite [-1, 1]
        split = self.robot.composite_controller._action_split_indexes
        self._right_arm, self._right_hand = slice(*split['right']), slice(*split['right_gripper'])
        self._left_arm, self._left_hand = slice(*split['left']), slice(*split['left_gripper'])
        self._full_dim = self.env.action_dim
        self._pending_seed = seed
        self._steps = 0
        self._left_hold: np.ndarray | None = None
        self._sites = {arm: self.robot.eef_site_id[arm] for arm in ('right', 'left')}
        self._frames = {arm: self.model.site(f'{self.robot.robot_model.naming_prefix}{arm}_center').id
                        for arm in ('right', 'left')}
        arm_joints = [j for j in self.robot.robot_joints if '_r_' in j]
        self._arm_qpos = np.array([self.model.joint(j).qposadr[0] for j in arm_joints])
        self._arm_qvel = np.array([self.model.joint(j).dofadr[0] for j in arm_joints])
        self._hand_qpos = np.array(self.robot._ref_gripper_joint_pos_indexes['right'])
        self._cube_body = self.env.cube_body_id
        self.table_top_z = float(TABLE_TOP_Z_M)
        self.camera_names: list[str] = []
        self._renderer: Any = None
        if image:
            unknown = [c for c in cameras if c not in CAMERAS]
            if unknown or not cameras:
                raise ValueError(f'cameras={list(cameras)}: expected a non-empty subset of {sorted(CAMERAS)}')
            import mujoco

            self.camera_names = list(cameras)
            self._renderer = mujoco.Renderer(self.model, height=image_size, width=image_size)
            self._renderer.scene.flags[mujoco.mjtRndFlag.mjRND_SHADOW] = 0
            self._renderer.scene.flags[mujoco.mjtRndFlag.mjRND_REFLECTION] = 0
            self._scene_option = mujoco.MjvOption()
            self._scene_option.geomgroup[:4] = (0, 1, 0, 0)   # visual meshes only (2x faster)
            for geom in range(self.model.ngeom):
                body = self.model.body(self.model.geom_bodyid[geom]).name
                if any(part in body for part in UNSEEN_BODY_PARTS):
                    self.model.geom_group[geom] = 3           # drawing only; physics ignores groups

    # -- Task protocol ---------------------------------------------------------------------------
    def reset(self, seed: int | None = None) -> Observation:
        if seed is None:
            seed, self._pending_seed = self._pending_seed, None
        if seed is not None:
            self.env.rng = np.random.default_rng(seed)
            self.env.placement_initializer.rng = self.env.rng
        self.env.reset()
        self._steps = 0
        self._left_hold = self.eef_pos('left')
        return self._observation()

    def step(self, action: np.ndarray) -> StepResult:
        action = checked_action(action, self.action_low)
        action = np.clip(action, self.action_low, self.action_high)
        full = np.zeros(self._full_dim)
        full[self._right_arm] = action[:6] / self._scale[:6]
        full[self._right_hand] = action[6:]
        full[self._left_arm] = self._left_arm_hold()
        full[self._left_hand] = -1.0
        self.env.step(full)
        self._steps += 1
        cube_z = float(self.data.xpos[self._cube_body][2])
        success = cube_z > self.table_top_z + SUCCESS_ABOVE_TABLE_M
        failure = (not success) and cube_z < self.table_top_z - FAIL_BELOW_TABLE_M
        return StepResult(observation=self._observation(), success=success, failure=failure)

    def close(self) -> None:
        if self._renderer is not None:
            self._renderer.close()
            self._renderer = None
        self.env.close()

    # -- simulator views (for the scripted expert and tests) -------------------------------------
    @property
    def steps(self) -> int:
        """Steps taken since the last reset."""
        return self._steps

    def eef_pos(self, arm: str = 'right') -> np.ndarray:
        """World position of the arm's end-effector site (the grip site, at the wrist end of the palm)."""
        return self.data.site_xpos[self._sites[arm]].copy()

    def eef_rot(self, arm: str = 'right') -> np.ndarray:
        """World rotation matrix (3, 3) of the arm's end-effector site."""
        return self.data.site_xmat[self._sites[arm]].reshape(3, 3).copy()

    def controller_frame(self, arm: str = 'right') -> np.ndarray:
        """World rotation (3, 3) of the frame the arm's OSC deltas are expressed in."""
        return self.data.site_xmat[self._frames[arm]].reshape(3, 3).copy()

    def cube_pos(self) -> np.ndarray:
        return self.data.xpos[self._cube_body].copy()

    # -- internals -------------------------------------------------------------------------------
    def _left_arm_hold(self) -> np.ndarray:
        """Normalized OSC action that servos the idle left hand back to its pose at reset."""
        err = self.controller_frame('left').T @ (self._left_hold - self.eef_pos('left'))
        return np.concatenate([np.clip(LEFT_ARM_HOLD_GAIN * err, -1.0, 1.0), np.zeros(3)])

    def _observation(self) -> Observation:
        eef = self.eef_pos()
        qw, qx, qy, qz = _mat_to_quat_wxyz(self.eef_rot())
        eef_quat = np.array([qx, qy, qz, qw])
        cube = self.cube_pos()
        w, x, y, z = self.data.xquat[self._cube_body]
        proprio = np.concatenate([self.data.qpos[self._arm_qpos], self.data.qvel[self._arm_qvel],
                                  self.data.qpos[self._hand_qpos], eef, eef_quat])
        task_state = np.concatenate([cube, [x, y, z, w], cube - eef])
        images = {}
        for name in self.camera_names:
            self._renderer.update_scene(self.data, camera=CAMERAS[name], scene_option=self._scene_option)
            images[name] = self._renderer.render().copy()
        return Observation(proprio=proprio.astype(np.float32), task_state=task_state.astype(np.float32),
                           images=images)


def make_humanoid_task(image: bool = False, seed: int | None = None, **kwargs: Any) -> HumanoidLiftTask:
    """Build the GR-1 cube-lift task (the registry's 'humanoid_gr1')."""
    return HumanoidLiftTask(image=image, seed=seed, **kwargs)


def _register() -> None:
    from residual_rl_ros.sim.registry import register_task

    register_task(TASK_NAME, make_humanoid_task)


_register()
