"""ROS 2 adapters: message conversions, QoS profiles, parameters from config dataclasses."""
