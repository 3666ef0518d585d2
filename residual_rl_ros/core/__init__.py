"""ROS-free algorithm core: config, networks, replay, learner, safety math, labelling, checkpoints.

Nothing under this package may import rclpy, message packages, rosbags or the ROS adapter modules.
"""
