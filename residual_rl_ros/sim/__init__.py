"""Simulated tasks (gymnasium-robotics Fetch, Adroit; GR-1 humanoid) and scripted demonstrators.

No ROS imports. Importing this package is cheap; MuJoCo is loaded when a task is built.
"""
from residual_rl_ros.sim.registry import make_task, register_task, task_names

__all__ = ['make_task', 'register_task', 'task_names']
