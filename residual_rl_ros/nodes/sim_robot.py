"""sim_robot: a bundled MuJoCo task driven like hardware over ROS topics.

Publishes `joint_states` (sensor_msgs/JointState: the task's proprioception), `task_state`
(sensor_msgs/JointState of virtual joints: object and goal state) and `cameras/<name>/image_raw`
(sensor_msgs/Image); takes commands on `~/commands` (std_msgs/Float64MultiArray, ros2_control
forward-command style, in `~/joint_names` order); reports success / failure / timeout on
`~/episode_reports` so an automatic operator can label episodes; resets on `~/reset` (std_srvs/Trigger).
Steps only while an episode runs (between START and its outcome).

`physics_mode` realtime steps at the task's rate with the latest command, as hardware would. lockstep (for
training faster or slower than real time) steps once per answer to the latest published state: the answer
is safety_limit's `action_records` entry (the command as sent, stamped with the observation it answers),
so a safety hold, or a late answer to a state already answered or republished, never steps the physics
and exactly one action follows each state, however slow the machine.
"""
from __future__ import annotations

import sys

import numpy as np
from rclpy.node import Node
from sensor_msgs.msg import Image, JointState
from std_msgs.msg import Float64MultiArray
from std_srvs.srv import Trigger

from residual_rl_ros.core.episodes import EventSource
from residual_rl_ros.core.joint_order import JointOrder
from residual_rl_ros.core.node_params import SimRobotParams
from residual_rl_ros.core.types import Observation
from residual_rl_ros.msg import EpisodeEvent, PolicyActionRecord
from residual_rl_ros.ros import qos
from residual_rl_ros.ros.conversions import stamp_ns
from residual_rl_ros.ros.node_main import run_node
from residual_rl_ros.ros.images import numpy_to_image
from residual_rl_ros.ros.params import declare_config
from residual_rl_ros.sim.driver import SimDriver
from residual_rl_ros.sim.registry import make_task


class SimRobot(Node):
    def __init__(self, **kwargs) -> None:
        super().__init__('sim_robot', **kwargs)
        self.params = declare_config(self, SimRobotParams)
        task = make_task(self.params.task, image=self.params.image, seed=self.params.seed)
        self.driver = SimDriver(task, self.params.seed)
        self.command_order = JointOrder(task.joint_names)
        self.proprio_names: list[str] = []
        self.running = False
        self.joint_pub = self.create_publisher(JointState, 'joint_states', qos.SENSOR)
        self.task_pub = self.create_publisher(JointState, 'task_state', qos.SENSOR)
        self.camera_pubs = {c: self.create_publisher(Image, f'cameras/{c}/image_raw', qos.SENSOR)
                            for c in task.camera_names}
        self.report_pub = self.create_publisher(EpisodeEvent, '~/episode_reports', qos.EVENTS)
        self.create_subscription(Float64MultiArray, '~/commands', self._on_command, qos.COMMAND)
        if self.params.physics_mode == 'lockstep':
            self.create_subscription(PolicyActionRecord, 'action_records', self._on_record, qos.RECORD)
        self.state_stamp_ns = -1            # stamp of the latest published state (lockstep: the one to answer)
        self.ignored_answers = 0
        self.create_subscription(EpisodeEvent, 'episode_events', self._on_event, qos.EVENTS)
        self.create_service(Trigger, '~/reset', self._on_reset)
        self.latest_command: tuple[np.ndarray, float] | None = None
        self.last_activity_s = 0.0
        if self.params.physics_mode == 'realtime':
            self.create_timer(1.0 / task.control_rate_hz, self._realtime_step)
        else:
            self.create_timer(self.params.command_timeout_s, self._republish_if_stalled)
        self.get_logger().info(f'{task.name}: {len(task.joint_names)} command joints, cameras '
                               f'{task.camera_names or "none"}, {self.params.physics_mode} physics')

    def _publish_state(self, observation: Observation) -> None:
        """Every sensor of one physics step, stamped alike; joint_states last (it is the tick)."""
        self.last_activity_s = self._now_s()
        stamp = self.get_clock().now().to_msg()
        self.state_stamp_ns = stamp_ns(stamp)
        for camera, frame in observation.images.items():
            encoding = self.params.camera_encoding
            image = frame if encoding == 'rgb8' else np.ascontiguousarray(frame[:, :, ::-1])
            msg = numpy_to_image(image, encoding)
            msg.header.stamp, msg.header.frame_id = stamp, camera
            self.camera_pubs[camera].publish(msg)
        task = JointState(name=[f'task_state_{i}' for i in range(observation.task_state.size)],
                          position=observation.task_state.astype(float).tolist())
        task.header.stamp = stamp
        self.task_pub.publish(task)
        if len(self.proprio_names) != observation.proprio.size:
            self.proprio_names = [f'proprio_{i}' for i in range(observation.proprio.size)]
        joints = JointState(name=self.proprio_names, position=observation.proprio.astype(float).tolist())
        joints.header.stamp = stamp
        self.joint_pub.publish(joints)

    def _on_reset(self, request: Trigger.Request, response: Trigger.Response) -> Trigger.Response:
        self.running = False
        observation = self.driver.reset()
        self._publish_state(observation)
        response.success = True
        started = self.driver.episodes_started
        response.message = f'episode {started} reset (seed {self.driver.seed + started - 1})'
        return response

    def _on_event(self, msg: EpisodeEvent) -> None:
        if msg.event == EpisodeEvent.START and not self.driver.ended:
            self.running = True
            self._publish_state(self.driver.observation)  # a fresh sample starts the control chain
        elif msg.event != EpisodeEvent.START:
            self.running = False

    def _on_command(self, msg: Float64MultiArray) -> None:
        command = np.asarray(msg.data, np.float64)
        problem = self.driver.check_command(command)
        if problem is not None:
            self.get_logger().warning(f'command refused: {problem}', throttle_duration_sec=2.0)
            return
        if self.params.physics_mode == 'realtime':
            self.latest_command = (command, self.get_clock().now().nanoseconds * 1e-9)

    def _on_record(self, msg: PolicyActionRecord) -> None:
        """Lockstep: step with the executed action that answers the latest state; ignore any other."""
        if not self.running:
            return
        if stamp_ns(msg.header.stamp) != self.state_stamp_ns:
            self.ignored_answers += 1
            self.get_logger().info(f'lockstep: {self.ignored_answers} answers to an earlier state ignored',
                                   throttle_duration_sec=10.0)
            return
        try:
            order = self.command_order.reorder(msg.joint_names, msg.executed_action)
        except ValueError as exc:
            self._refuse_record(str(exc))
            return
        if order.missing:                   # other names (not the task's) are ignored
            self._refuse_record(f'no task joints {list(order.missing[:4])}')
            return
        command = order.values
        problem = self.driver.check_command(command)
        if problem is not None:
            self.get_logger().warning(f'action record refused: {problem}', throttle_duration_sec=2.0)
            return
        self._step(command)

    def _refuse_record(self, problem: str) -> None:
        self.get_logger().error(f'lockstep: bad action record ({problem}); not stepping', throttle_duration_sec=2.0)

    def _now_s(self) -> float:
        return self.get_clock().now().nanoseconds * 1e-9

    def _republish_if_stalled(self) -> None:
        """Lockstep: while an episode runs and no command came for command_timeout_s (a node still
        starting, a lost message), publish the current state again, as hardware keeps publishing."""
        if self.running and self._now_s() - self.last_activity_s > self.params.command_timeout_s:
            self._publish_state(self.driver.observation)

    def _realtime_step(self) -> None:
        if not self.running:
            return
        now = self.get_clock().now().nanoseconds * 1e-9
        fresh = self.latest_command is not None and now - self.latest_command[1] <= self.params.command_timeout_s
        self._step(self.latest_command[0] if fresh else self.driver.last_command)

    def _step(self, command: np.ndarray) -> None:
        step = self.driver.step(command)
        if step is None:
            return
        self._publish_state(step.observation)
        if step.report is not None:
            self.running = False
            report = EpisodeEvent(event=int(step.report), source=int(EventSource.SIM), note=f'{step.steps} steps')
            report.header.stamp = self.get_clock().now().to_msg()
            self.report_pub.publish(report)


def main(args: list[str] | None = None) -> int:
    return run_node(SimRobot, 'sim_robot', args)


if __name__ == '__main__':
    sys.exit(main())
