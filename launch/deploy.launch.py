"""Run base + residual on a real robot (no simulator, no training).

The graph (nodes, parameters file, remappings, arguments) is described once in
residual_rl_ros/bringup/graphs.py; without ROS installed, `residual_rl_ros_launch deploy` starts the same.
"""
from residual_rl_ros.bringup.launch_description import generate_for


def generate_launch_description():
    return generate_for('deploy')
