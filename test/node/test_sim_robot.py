"""sim_robot in-process (real MuJoCo Fetch task): lockstep physics steps once per answer to the latest state."""
import time

import pytest
from rclpy.node import Node
from rclpy.parameter import Parameter
from sensor_msgs.msg import JointState
from std_msgs.msg import Float64MultiArray
from std_srvs.srv import Trigger

from residual_rl_ros.msg import EpisodeEvent, PolicyActionRecord
from residual_rl_ros.nodes.sim_robot import SimRobot
from residual_rl_ros.ros import qos


def test_lockstep_steps_only_on_the_answer_to_the_latest_state(context, spin_until) -> None:
    robot = SimRobot(context=context, parameter_overrides=[
        Parameter('task', value='fetch_pick_place'), Parameter('physics_mode', value='lockstep'),
        Parameter('command_timeout_s', value=30.0)])
    probe = Node('probe', context=context)
    states: list[JointState] = []
    probe.create_subscription(JointState, 'joint_states', states.append, qos.SENSOR)
    events = probe.create_publisher(EpisodeEvent, 'episode_events', qos.EVENTS)
    commands = probe.create_publisher(Float64MultiArray, 'sim_robot/commands', qos.COMMAND)
    records = probe.create_publisher(PolicyActionRecord, 'action_records', qos.RECORD)
    reset = probe.create_client(Trigger, 'sim_robot/reset')
    nodes = [robot, probe]
    names = list(robot.driver.task.joint_names)

    def answer(stamp, reverse: bool = False) -> PolicyActionRecord:
        order = names[::-1] if reverse else names
        record = PolicyActionRecord(joint_names=order, executed_action=[0.1 * (names.index(n) + 1) for n in order])
        record.header.stamp = stamp
        return record

    def wait(seconds: float) -> None:
        until = time.monotonic() + seconds
        spin_until(nodes, lambda: time.monotonic() > until)

    try:
        assert reset.wait_for_service(timeout_sec=10.0)
        future = reset.call_async(Trigger.Request())
        spin_until(nodes, future.done)
        spin_until(nodes, lambda: robot.count_subscribers('action_records') > 0 and
                   probe.count_subscribers('sim_robot/commands') > 0)
        events.publish(EpisodeEvent(event=EpisodeEvent.START, episode_id=1))
        spin_until(nodes, lambda: robot.running and len(states) >= 2)
        first = states[-1].header.stamp
        commands.publish(Float64MultiArray(data=[0.0] * len(names)))   # a command (e.g. a safety hold)
        wait(0.5)
        assert robot.driver.steps == 0, 'lockstep stepped on a raw command that answers no state'
        records.publish(answer(first, reverse=True))                   # the answer, joints in another order
        spin_until(nodes, lambda: robot.driver.steps == 1, timeout_s=10.0)
        expected = [0.1 * (i + 1) for i in range(len(names))]                 # mapped back by name
        assert robot.driver.last_command.tolist() == pytest.approx(expected)
        records.publish(answer(first))                                 # a late second answer to that state
        spin_until(nodes, lambda: robot.ignored_answers == 1, timeout_s=10.0)
        assert robot.driver.steps == 1
        spin_until(nodes, lambda: states[-1].header.stamp != first)
        records.publish(answer(states[-1].header.stamp))               # the answer to the new state
        spin_until(nodes, lambda: robot.driver.steps == 2, timeout_s=10.0)
    finally:
        probe.destroy_node()
        robot.destroy_node()
