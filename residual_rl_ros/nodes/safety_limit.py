"""safety_limit: the last stage before the robot. Proposals in, commands within limits out, always.

`action_proposal` (PolicyActionRecord, executed_action before safety) -> joint limits (ros2_control
joint_limits YAML, matched by joint name) -> `commands` (std_msgs/Float64MultiArray in `joint_names`
order; remap it to the controller) and `action_records` (the same record with the command actually sent).
With `workspace_fk` (a task's forward kinematics) a step that would leave the workspace box is scaled
back to its edge. Holds the previous command on non-finite, mis-named or stale input and while the e-stop (`estop`,
std_msgs/Bool, latched) is set until `~/reset_estop`. Every hold is logged with its reason.

Interventions: while `teleop/enable` (std_msgs/Bool, a deadman re-sent while held) is true and fresh,
the operator's `teleop/commands` (Float64MultiArray, joint_names order) replace the policy's proposals,
through the same limits; their records carry intervention=True. A stale teleop command holds. While the
episode authority resets (RESET until START on `episode_events`), a configured `reset_pose` is driven
through the same limits at the watchdog rate (teleop, when enabled, takes precedence).

Watchdogs (core/watchdog.py), published on `diagnostics` once a second next to the limits' status: a
silent `base_action` or a residual that stops proposing while an episode runs (the command timeout holds,
and the hold's reason names the silent stage), a trainer whose `trainer_status` stops or whose env steps
freeze while records are executed (WARN, then ERROR; the residual keeps its weights).
"""
from __future__ import annotations

import sys

import numpy as np
import yaml
from diagnostic_msgs.msg import DiagnosticArray, DiagnosticStatus, KeyValue
from rclpy.node import Node
from std_msgs.msg import Bool, Float64MultiArray
from std_srvs.srv import Trigger

from residual_rl_ros.core.joint_limits import parse_joint_limits
from residual_rl_ros.core.joint_order import JointOrder
from residual_rl_ros.core.node_params import SafetyLimitParams
from residual_rl_ros.core.safety import SafetyFilter, SafetyResult
from residual_rl_ros.core.watchdog import OK, Check, TrainerWatch, UpstreamWatch
from residual_rl_ros.core.workspace import make_workspace_box
from residual_rl_ros.msg import BaseAction, EpisodeEvent, PolicyActionRecord, TrainerStatus
from residual_rl_ros.ros import qos
from residual_rl_ros.ros.node_main import run_node
from residual_rl_ros.ros.params import declare_config
from residual_rl_ros.ros.paths import resolve_config_file


def load_limits(params: SafetyLimitParams):
    if not params.limits_file or not params.joint_names:
        raise ValueError('safety_limit needs joint_names and a limits_file with a joint_limits mapping')
    path = resolve_config_file(params.limits_file)
    try:
        document = yaml.safe_load(path.read_text()) or {}
    except yaml.YAMLError as exc:
        raise ValueError(f'{path}: not valid YAML ({exc})') from exc
    if 'joint_limits' not in document:
        raise ValueError(f'{path}: no top-level joint_limits mapping')
    return parse_joint_limits(document['joint_limits'], params.joint_names)


class SafetyLimit(Node):
    def __init__(self, **kwargs) -> None:
        super().__init__('safety_limit', **kwargs)
        self.params = declare_config(self, SafetyLimitParams)
        self.limits = load_limits(self.params)
        p = self.params
        self.filter = SafetyFilter(self.limits, p.command_timeout_s,
                                   workspace=make_workspace_box(p.workspace_fk, p.workspace_min_m, p.workspace_max_m))
        self.order = JointOrder(self.params.joint_names)
        self.holds = 0
        self.last_hold_reason = ''
        self.reset_pose = np.asarray(self.params.reset_pose, np.float64)
        if self.reset_pose.size not in (0, len(self.order)):
            raise ValueError(f'reset_pose has {self.reset_pose.size} values, expected {len(self.order)} '
                             f'(one per joint_names entry) or none')
        self.resetting = False
        self.teleop_enabled_s: float | None = None       # when the deadman was last asserted
        self.teleop: tuple[np.ndarray, float] | None = None   # latest teleop command and its arrival time
        self.last_policy_s = -np.inf
        self.interventions = 0
        self.upstream = UpstreamWatch(self.params.base_timeout_s, self.params.command_timeout_s)
        self.trainer_watch = TrainerWatch(self.params.trainer_warn_after_s, self.params.trainer_error_after_s)
        self.episode_id = 0
        self.command_pub = self.create_publisher(Float64MultiArray, 'commands', qos.COMMAND)
        self.record_pub = self.create_publisher(PolicyActionRecord, 'action_records', qos.RECORD)
        self.create_subscription(PolicyActionRecord, 'action_proposal', self._on_proposal, qos.CONTROL)
        self.create_subscription(Bool, 'estop', self._on_estop, qos.EVENTS)
        self.create_subscription(Float64MultiArray, 'teleop/commands', self._on_teleop_command, qos.CONTROL)
        self.create_subscription(Bool, 'teleop/enable', self._on_teleop_enable, qos.CONTROL)
        self.create_subscription(EpisodeEvent, 'episode_events', self._on_event, qos.EVENTS)
        self.create_subscription(BaseAction, 'base_action', lambda m: self.upstream.on_base_action(self._now_s()),
                                 qos.CONTROL)
        self.create_subscription(TrainerStatus, 'trainer_status', self._on_trainer_status, qos.LATCHED)
        self.create_service(Trigger, '~/reset_estop', self._on_reset_estop)
        self.diagnostics_pub = self.create_publisher(DiagnosticArray, 'diagnostics', qos.EVENTS_VOLATILE)
        self.create_timer(1.0 / self.params.watchdog_rate_hz, self._watchdog)
        self.create_timer(1.0, self._publish_diagnostics)

    def _now_s(self) -> float:
        return self.get_clock().now().nanoseconds * 1e-9

    def _ordered(self, msg: PolicyActionRecord) -> tuple[np.ndarray, tuple[str, ...]]:
        """The proposal in command order, matched by name, and what was wrong with its names. NaN where a
        joint is missing, everywhere when names and values differ in length or a name repeats (-> hold)."""
        try:
            order = self.order.reorder(msg.joint_names, msg.executed_action)
        except ValueError as exc:
            return np.full(len(self.order), np.nan), (f'bad proposal: {exc}',)
        reasons = (f'missing joints {list(order.missing[:4])}',) if order.missing else ()
        return order.values, reasons + ((f'unknown joints {sorted(order.unknown)[:4]}',) if order.unknown else ())

    def _teleop_active(self, now_s: float) -> bool:
        return self.teleop_enabled_s is not None and now_s - self.teleop_enabled_s <= self.params.teleop_timeout_s

    def _teleop_result(self, now_s: float) -> SafetyResult:
        if self.teleop is None or now_s - self.teleop[1] > self.params.teleop_timeout_s:
            return self.filter.hold(now_s, 'teleop enabled but no fresh teleop command')
        return self.filter.propose(self.teleop[0], now_s)

    def _on_proposal(self, msg: PolicyActionRecord) -> None:
        now_s = self._now_s()
        self.last_policy_s = now_s
        self.upstream.on_proposal(now_s)
        self.trainer_watch.on_record(now_s)
        if self._teleop_active(now_s):        # intervention: the operator's command, still limited
            msg.intervention = True
            self.interventions += 1
            result = self._teleop_result(now_s)
            if self._send(result):
                msg.joint_names, msg.executed_action = list(self.params.joint_names), result.command.tolist()
                self.record_pub.publish(msg)
            return
        if self.resetting and self.reset_pose.size:
            return                            # the reset pose owns the robot until the next START
        proposal, problems = self._ordered(msg)
        result = self.filter.propose(proposal, now_s)
        if problems:
            result = SafetyResult(result.command, result.held, result.reasons + problems)
        if self._send(result):
            msg.joint_names = list(self.params.joint_names)
            msg.executed_action = result.command.tolist()
            self.record_pub.publish(msg)

    def _on_teleop_command(self, msg: Float64MultiArray) -> None:
        now_s = self._now_s()
        data = np.asarray(msg.data, np.float64)
        self.teleop = (data if data.size == len(self.order) else np.full(len(self.order), np.nan), now_s)
        policy_idle = now_s - self.last_policy_s > self.params.command_timeout_s
        if self._teleop_active(now_s) and policy_idle:      # no episode running: teleop drives directly
            self._send(self._teleop_result(now_s))

    def _on_teleop_enable(self, msg: Bool) -> None:
        self.teleop_enabled_s = self._now_s() if msg.data else None

    def _on_event(self, msg: EpisodeEvent) -> None:
        if msg.event in (EpisodeEvent.RESET, EpisodeEvent.START):
            self.resetting = msg.event == EpisodeEvent.RESET
        if msg.event == EpisodeEvent.START:
            self.episode_id = msg.episode_id
            self.upstream.on_episode(True, self._now_s())
        elif msg.event == EpisodeEvent.RESET or (msg.event != EpisodeEvent.UNDO and msg.episode_id in
                                                 (0, self.episode_id)):
            self.upstream.on_episode(False, self._now_s())

    def _on_trainer_status(self, msg: TrainerStatus) -> None:
        self.trainer_watch.on_status(msg.env_steps, msg.policy_version, self._now_s())

    def _watchdog(self) -> None:
        now_s = self._now_s()
        if self.resetting and self.reset_pose.size and not self._teleop_active(now_s):
            self._send(self.filter.propose(self.reset_pose, now_s))
            return
        result = self.filter.check_timeout(now_s)
        if result is not None:
            silent = tuple(c.message for c in self.upstream.checks(now_s) if c.level != OK)
            self._send(SafetyResult(result.command, result.held, result.reasons + silent))

    def _send(self, result: SafetyResult) -> bool:
        if result.held:
            self.holds += 1
            self.last_hold_reason = '; '.join(result.reasons)
            self.get_logger().warning(f'hold: {self.last_hold_reason}', throttle_duration_sec=1.0)
        if result.command.size == 0:
            return False
        self.command_pub.publish(Float64MultiArray(data=result.command.tolist()))
        return True

    def _publish_diagnostics(self) -> None:
        level = DiagnosticStatus.ERROR if self.filter.estopped else (
            DiagnosticStatus.WARN if self.filter.check_timeout_due(self._now_s()) else DiagnosticStatus.OK)
        status = DiagnosticStatus(level=level, name=f'{self.get_name()}: command limits',
                                  hardware_id='residual_rl_ros',
                                  message='e-stop latched' if self.filter.estopped else 'commanding')
        status.values = [KeyValue(key='holds', value=str(self.holds)),
                         KeyValue(key='last_hold_reason', value=self.last_hold_reason),
                         KeyValue(key='estop_reason', value=self.filter.estop_reason),
                         KeyValue(key='teleop_active', value=str(self._teleop_active(self._now_s()))),
                         KeyValue(key='interventions', value=str(self.interventions)),
                         KeyValue(key='resetting', value=str(self.resetting))]
        now_s = self._now_s()
        checks = self.upstream.checks(now_s) + [self.trainer_watch.check(now_s)]
        array = DiagnosticArray(status=[status] + [self._watchdog_status(c) for c in checks])
        array.header.stamp = self.get_clock().now().to_msg()
        self.diagnostics_pub.publish(array)

    def _watchdog_status(self, check: Check) -> DiagnosticStatus:
        status = DiagnosticStatus(level=bytes([check.level]), name=f'{self.get_name()}: watchdog {check.name}',
                                  hardware_id='residual_rl_ros', message=check.message)
        status.values = [KeyValue(key='behaviour', value=check.behaviour)] if check.behaviour else []
        return status

    def _on_estop(self, msg: Bool) -> None:
        if msg.data:
            self.filter.estop('estop topic')
            self.get_logger().error('E-STOP latched: holding until ~/reset_estop')

    def _on_reset_estop(self, request: Trigger.Request, response: Trigger.Response) -> Trigger.Response:
        self.filter.reset_estop()
        response.success, response.message = True, 'e-stop released'
        self.get_logger().warning('e-stop released by ~/reset_estop')
        return response


def main(args: list[str] | None = None) -> int:
    return run_node(SafetyLimit, 'safety_limit', args)


if __name__ == '__main__':
    sys.exit(main())
