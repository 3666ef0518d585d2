"""Scripted expert for Adroit relocate: reach over the ball, power grasp, carry to the target.

Reads the simulator of the task it drives (a scripted expert may): the palm position and its Jacobian
with respect to the three forearm slides and the forearm pitch (IK for the palm; the pitch is needed
because the vertical slide stops the palm about 12 cm above the table), and the bias forces
`qfrc_bias` (gravity feed-forward, so the weak position servos hold their targets instead of sagging).
The `observation` argument of `act` is not used: the same quantities are read from the simulator.
"""
from __future__ import annotations

from typing import Any

import numpy as np

from residual_rl_ros.core.types import Observation

_ARM = slice(0, 4)             # ARTx, ARTy, ARTz (forearm slides: world x, z, y) and ARRx (pitch)
_ARM_WEIGHTS = np.array([1.0, 1.0, 1.0, 1.0])   # IK cost per joint (a larger weight moves it less)

# Power-grasp finger posture (joint targets, rad), by actuator name; unnamed joints stay at 0.
GRASP_POSE = {
    'A_FFJ2': 1.3, 'A_FFJ1': 1.3, 'A_FFJ0': 1.0,
    'A_MFJ2': 1.3, 'A_MFJ1': 1.3, 'A_MFJ0': 1.0,
    'A_RFJ2': 1.3, 'A_RFJ1': 1.3, 'A_RFJ0': 1.0,
    'A_LFJ4': 0.3, 'A_LFJ2': 1.3, 'A_LFJ1': 1.3, 'A_LFJ0': 1.0,
    'A_THJ4': 0.7, 'A_THJ3': 1.2, 'A_THJ2': 0.2, 'A_THJ1': 0.0, 'A_THJ0': -0.6,
}


class AdroitRelocateExpert:
    """Phases: reach above the ball -> descend -> close the hand over `grasp_steps` -> carry.

    The carry phase aims the palm so that the ball (at its offset from the palm at grasp time)
    lands on the target. If the ball drops out of the hand, the expert opens and starts over.

    Args (lengths in metres, world frame):
        palm_offset: palm site minus ball centre at the grasp (the hand sits slightly behind and
            to the little-finger side of the ball so fingers and thumb close around it).
        hover_m: extra height of the palm above the grasp pose while reaching.
        max_step_m, carry_step_m: the largest palm displacement commanded per step (servo lead).
        grasp_steps: steps to ramp the fingers from open to `GRASP_POSE` (then 3 more to settle).
        tol_m: palm position tolerance that ends the reach / descend phases.
        press_m: how far below the grasp pose the palm is pushed while closing.
        descend_steps: after this many descend steps, grasp once the palm is over the ball.
        drop_m: the ball is taken as dropped when it is this much farther from the palm than at
            the grasp.
        damping_s: velocity feedback on the arm targets (target -= damping_s * joint velocity).
        lift_steps: ramp the carry step size up over this many steps (0: no ramp).
        grasp_pose: overrides of `GRASP_POSE`, by actuator name.
    """

    def __init__(self, task: Any, *, palm_offset: tuple[float, float, float] = (0.015, -0.03, 0.01),
                 hover_m: float = 0.04, max_step_m: float = 0.2, grasp_steps: int = 10,
                 tol_m: float = 0.025, press_m: float = 0.03, carry_step_m: float = 0.2,
                 descend_steps: int = 20, drop_m: float = 0.06, damping_s: float = 0.05,
                 lift_steps: int = 0,
                 grasp_pose: dict[str, float] | None = None) -> None:
        self.task = task
        self.model, self.data = task.model, task.data
        names = list(task.joint_names)
        self.grasp_pose = np.zeros(len(names))
        for name, value in {**GRASP_POSE, **(grasp_pose or {})}.items():
            self.grasp_pose[names.index(name)] = value
        ctrlrange = self.model.actuator_ctrlrange
        self._mean, self._half = ctrlrange.mean(axis=1), 0.5 * (ctrlrange[:, 1] - ctrlrange[:, 0])
        self._dofs = self.model.jnt_dofadr[self.model.actuator_trnid[:, 0]]
        self._qadr = self.model.jnt_qposadr[self.model.actuator_trnid[:, 0]]
        self._jnt_range = self.model.jnt_range[self.model.actuator_trnid[:, 0]]
        self.palm_offset = np.asarray(palm_offset)
        self.hover_m, self.max_step_m, self.grasp_steps, self.tol_m = hover_m, max_step_m, grasp_steps, tol_m
        self.press_m, self.carry_step_m = press_m, carry_step_m
        self.descend_steps, self.drop_m, self.damping_s = descend_steps, drop_m, damping_s
        self.lift_steps = lift_steps
        self.reset()

    def reset(self) -> None:
        self.phase = 'reach'
        self._count = 0
        self._hold_offset = np.zeros(3)

    def act(self, observation: Observation) -> np.ndarray:
        palm, ball, target = self.task.palm_pos(), self.task.ball_pos(), self.task.target_pos()
        closure = 0.0
        if self.phase == 'carry' and (np.linalg.norm(palm - ball)
                                      > np.linalg.norm(self._hold_offset) + self.drop_m):
            self.phase = 'reach'                          # dropped it: open and start over
        if self.phase == 'reach':
            goal = ball + self.palm_offset + np.array([0.0, 0.0, self.hover_m])
            if np.linalg.norm((goal - palm)[:2]) < self.tol_m:
                self.phase, self._count = 'descend', 0
        if self.phase == 'descend':
            goal = ball + self.palm_offset
            self._count += 1
            if np.linalg.norm(goal - palm) < self.tol_m or (
                    self._count > self.descend_steps and np.linalg.norm((goal - palm)[:2]) < self.tol_m):
                self.phase, self._count = 'grasp', 0
        if self.phase == 'grasp':
            goal = ball + self.palm_offset - np.array([0.0, 0.0, self.press_m])
            self._count += 1
            closure = min(1.0, self._count / self.grasp_steps)
            if self._count >= self.grasp_steps + 3:
                self.phase, self._hold_offset, self._count = 'carry', palm - ball, 0
        if self.phase == 'carry':
            self._count += 1
            closure = 1.0
            goal = target + self._hold_offset
        targets = np.zeros(self.model.nu)
        step = self.max_step_m
        if self.phase == 'carry':      # start gently so the grasp settles under load
            step = self.carry_step_m * min(1.0, self._count / max(1, self.lift_steps))
        targets[_ARM] = self._arm_targets(palm, goal, step)
        targets[8:] = closure * self.grasp_pose[8:]
        return self._to_action(targets)

    def _arm_targets(self, palm: np.ndarray, goal: np.ndarray, max_step_m: float) -> np.ndarray:
        """Targets for the slides and the forearm pitch that move the palm by (goal - palm).

        Weighted damped least squares on the palm Jacobian, a step of at most `max_step_m` (a lead
        for the slow servos); joints that would leave their range are clamped and the rest re-solved.
        """
        import mujoco

        jacp = np.zeros((3, self.model.nv))
        mujoco.mj_jacSite(self.model, self.data, jacp, None, self.task.palm_site_id)
        jac = jacp[:, self._dofs[_ARM]]
        delta = goal - palm
        norm = np.linalg.norm(delta)
        if norm > max_step_m:
            delta *= max_step_m / norm
        q = self.data.qpos[self._qadr[_ARM]] - self.damping_s * self.data.qvel[self._dofs[_ARM]]
        low, high = self._jnt_range[_ARM, 0], self._jnt_range[_ARM, 1]
        dq = np.zeros(len(q))
        free = np.ones(len(q), bool)
        for _ in range(2):
            rest = delta - jac[:, ~free] @ dq[~free]
            jw = jac[:, free] / _ARM_WEIGHTS[free]
            dq[free] = (jw.T @ np.linalg.solve(jw @ jw.T + 1e-4 * np.eye(3), rest)) / _ARM_WEIGHTS[free]
            clamped = np.clip(q + dq, low, high)
            hit = free & (clamped != q + dq)
            dq = clamped - q
            if not hit.any():
                break
            free &= ~hit
        return q + dq

    def _to_action(self, joint_targets: np.ndarray) -> np.ndarray:
        """Actuator controls that hold `joint_targets` against gravity, as normalized actions."""
        gain = self.model.actuator_gainprm[:, 0]
        bias0, bias1 = self.model.actuator_biasprm[:, 0], self.model.actuator_biasprm[:, 1]
        ctrl = (self.data.qfrc_bias[self._dofs] - bias0 - bias1 * joint_targets) / gain
        return np.clip((ctrl - self._mean) / self._half, -1.0, 1.0).astype(np.float32)
