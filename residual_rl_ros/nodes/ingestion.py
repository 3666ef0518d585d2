"""ingestion: joint states, task state and cameras -> one synchronized `observation` per control tick.

Subscribes `joint_states` (sensor_msgs/JointState), `task_state` (sensor_msgs/JointState of virtual joints
holding object/goal state, optional) and `cameras/<name>/image_raw` (sensor_msgs/Image) with sensor QoS.
Each new joint state (at most `max_rate_hz`) is a tick: once the other sensors have samples as new as it
(or after `max_sync_wait_s`), it yields a residual_rl_ros/Observation stamped with the joint state's stamp,
images cropped/resized to `image_size_px`, and stale or missing sensors listed in `stale_sensors`.
Bad input (unknown joints, NaN, wrong encoding or size) is logged with its cause and skipped.
Once a second `diagnostics` reports the sensors (core/watchdog.py SensorWatch): WARN with the sensors that
were stale and in how many ticks, ERROR when no joint state arrives (the base then acts on nothing and the
safety node holds), and the count of rejected inputs with the last cause.
"""
from __future__ import annotations

import sys

import numpy as np
from diagnostic_msgs.msg import DiagnosticArray, DiagnosticStatus, KeyValue
from rclpy.node import Node
from sensor_msgs.msg import Image, JointState

from residual_rl_ros.core import image_codec
from residual_rl_ros.core.ingest import SensorSync, preprocess_image, select_joints
from residual_rl_ros.core.node_params import IngestionParams
from residual_rl_ros.core.watchdog import SensorWatch
from residual_rl_ros.msg import Observation
from residual_rl_ros.ros import qos
from residual_rl_ros.ros.conversions import stamp_ns
from residual_rl_ros.ros.images import numpy_to_image
from residual_rl_ros.ros.node_main import run_node
from residual_rl_ros.ros.params import declare_config


class Ingestion(Node):
    def __init__(self, **kwargs) -> None:
        super().__init__('ingestion', **kwargs)
        self.params = declare_config(self, IngestionParams)
        p = self.params
        ages = {f'camera:{c}': p.max_image_age_s for c in p.camera_names}
        if p.task_state_dim:
            ages['task_state'] = p.max_joint_state_age_s
        self.sync = SensorSync(ages, p.sync_tolerance_s, p.max_sync_wait_s)
        self.joint_names = list(p.joint_names)
        self.last_tick_s = -1e9
        self.pending: tuple[JointState, np.ndarray, np.ndarray, float] | None = None
        self.rejected = 0
        self.last_rejection = ''
        self.watch = SensorWatch(p.max_joint_state_age_s)
        self.diagnostics_pub = self.create_publisher(DiagnosticArray, 'diagnostics', qos.EVENTS_VOLATILE)
        self.create_timer(1.0, self._publish_diagnostics)
        self.pub = self.create_publisher(Observation, 'observation', qos.RECORD)  # also recorded: keep a history
        self.create_subscription(JointState, 'joint_states', self._on_joints, qos.SENSOR)
        if p.task_state_dim:
            self.create_subscription(JointState, 'task_state', self._on_task_state, qos.SENSOR)
        for camera in p.camera_names:
            self.create_subscription(Image, f'cameras/{camera}/image_raw',
                                     lambda msg, c=camera: self._on_image(c, msg), qos.SENSOR)
        if ages:
            self.create_timer(max(p.max_sync_wait_s, 0.001), self._flush_late_tick)

    def _now_s(self) -> float:
        return self.get_clock().now().nanoseconds * 1e-9

    def _reject(self, what: str, exc: Exception) -> None:
        self.rejected += 1
        self.last_rejection = f'{what} rejected: {exc}'
        self.get_logger().error(self.last_rejection, throttle_duration_sec=2.0)

    def _on_task_state(self, msg: JointState) -> None:
        values = np.asarray(msg.position, np.float64)
        if values.size != self.params.task_state_dim:
            self._reject('task_state', ValueError(f'{values.size} values, expected task_state_dim '
                                                  f'{self.params.task_state_dim}'))
            return
        if not np.all(np.isfinite(values)):
            bad = np.flatnonzero(~np.isfinite(values)).tolist()
            self._reject('task_state', ValueError(f'not finite at index(es) {bad[:8]}'))
            return
        self.sync.put('task_state', values, stamp_ns(msg.header.stamp), self._now_s())
        self._try_publish()

    def _on_image(self, camera: str, msg: Image) -> None:
        try:
            rgb = image_codec.to_rgb8(image_codec.decode(msg.data, msg.height, msg.width, msg.step,
                                                         msg.encoding, bool(msg.is_bigendian)), msg.encoding)
        except ValueError as exc:
            self._reject(f'camera {camera}', exc)
            return
        image = numpy_to_image(preprocess_image(rgb, self.params.image_size_px), 'rgb8', msg.header)
        self.sync.put(f'camera:{camera}', image, stamp_ns(msg.header.stamp), self._now_s())
        self._try_publish()

    def _on_joints(self, msg: JointState) -> None:
        now = self._now_s()
        if now - self.last_tick_s < 1.0 / self.params.max_rate_hz:
            return
        if not self.joint_names:
            self.joint_names = list(msg.name)
        try:
            position = select_joints(msg.name, msg.position, self.joint_names, 'position')
            velocity = select_joints(msg.name, msg.velocity, self.joint_names, 'velocity') \
                if self.params.use_velocity else np.zeros(0)
        except ValueError as exc:
            self._reject('joint_states', exc)
            return
        self.last_tick_s = now
        self.watch.on_joint_state(now)
        if self.pending is not None:   # a newer tick replaces one still waiting for its sensors
            self._publish(*self.pending[:3])
        self.pending = (msg, position, velocity, now)
        self._try_publish()

    def _try_publish(self) -> None:
        if self.pending is not None and not self.sync.lagging(stamp_ns(self.pending[0].header.stamp)):
            self._publish(*self.pending[:3])

    def _flush_late_tick(self) -> None:
        if self.pending is not None and self._now_s() - self.pending[3] >= self.params.max_sync_wait_s:
            self._publish(*self.pending[:3])

    def _publish(self, joints: JointState, position: np.ndarray, velocity: np.ndarray) -> None:
        self.pending = None
        tick_ns = stamp_ns(joints.header.stamp)
        obs = Observation(joint_names=self.joint_names, joint_position=position.tolist(),
                          joint_velocity=velocity.tolist(), camera_names=list(self.params.camera_names))
        obs.header.stamp = joints.header.stamp
        obs.oldest_sensor_stamp = joints.header.stamp
        obs.stale_sensors = self.sync.stale(tick_ns, self._now_s())
        if self.params.task_state_dim and 'task_state' not in obs.stale_sensors:
            obs.task_state = self.sync.get('task_state').tolist()
        if not obs.stale_sensors:
            obs.images = [self.sync.get(f'camera:{c}') for c in self.params.camera_names]
        self.watch.on_tick(list(obs.stale_sensors))
        self.pub.publish(obs)

    def _publish_diagnostics(self) -> None:
        check = self.watch.check(self._now_s())
        status = DiagnosticStatus(level=bytes([check.level]), name=f'{self.get_name()}: sensors',
                                  hardware_id='residual_rl_ros', message=check.message)
        status.values = [KeyValue(key='behaviour', value=check.behaviour),
                         KeyValue(key='rejected', value=str(self.rejected)),
                         KeyValue(key='last_rejection', value=self.last_rejection)]
        array = DiagnosticArray(status=[status])
        array.header.stamp = self.get_clock().now().to_msg()
        self.diagnostics_pub.publish(array)


def main(args: list[str] | None = None) -> int:
    return run_node(Ingestion, 'ingestion', args)


if __name__ == '__main__':
    sys.exit(main())
