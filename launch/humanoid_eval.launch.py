"""Evaluate a trained residual on the simulated humanoid (deterministic, no training).

The graph (nodes, parameters file, remappings, arguments) is described once in
residual_rl_ros/bringup/graphs.py; without ROS installed, `residual_rl_ros_launch humanoid_eval` starts the same.
"""
from residual_rl_ros.bringup.launch_description import generate_for


def generate_launch_description():
    return generate_for('humanoid_eval')
