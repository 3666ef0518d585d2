"""Every QoS profile the graph uses, chosen on purpose and named once."""
from __future__ import annotations

from rclpy.duration import Duration
from rclpy.qos import (DurabilityPolicy, HistoryPolicy, QoSProfile, ReliabilityPolicy,
                       qos_profile_sensor_data)

#: Cameras and joint states: best effort, keep last few; a late sample is worse than a lost one.
SENSOR = qos_profile_sensor_data

#: Observations and base actions between our nodes at control rate: reliable, keep last 1.
CONTROL = QoSProfile(history=HistoryPolicy.KEEP_LAST, depth=1, reliability=ReliabilityPolicy.RELIABLE,
                     durability=DurabilityPolicy.VOLATILE)

#: Commands to the robot: reliable, keep last 1, with a deadline so a silent publisher is noticed.
COMMAND = QoSProfile(history=HistoryPolicy.KEEP_LAST, depth=1, reliability=ReliabilityPolicy.RELIABLE,
                     durability=DurabilityPolicy.VOLATILE, deadline=Duration(seconds=0.5))

#: Episode events: reliable, deep, and transient local, so a node that starts (or restarts) late learns
#: whether an episode is running from the recent events.
EVENTS = QoSProfile(history=HistoryPolicy.KEEP_LAST, depth=100, reliability=ReliabilityPolicy.RELIABLE,
                    durability=DurabilityPolicy.TRANSIENT_LOCAL)

#: Transitions' source topics as the trainer and recorder consume them: reliable, deep.
RECORD = QoSProfile(history=HistoryPolicy.KEEP_LAST, depth=1000, reliability=ReliabilityPolicy.RELIABLE,
                    durability=DurabilityPolicy.VOLATILE)

#: Weights and trainer status: reliable + transient local (latched), so late joiners get the latest.
LATCHED = QoSProfile(history=HistoryPolicy.KEEP_LAST, depth=1, reliability=ReliabilityPolicy.RELIABLE,
                     durability=DurabilityPolicy.TRANSIENT_LOCAL)

#: Diagnostics and other periodic reports: reliable, volatile (only the current state matters).
EVENTS_VOLATILE = QoSProfile(history=HistoryPolicy.KEEP_LAST, depth=10, reliability=ReliabilityPolicy.RELIABLE,
                             durability=DurabilityPolicy.VOLATILE)
