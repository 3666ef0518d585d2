"""Simulated tasks (gymnasium-robotics Fetch, Adroit; GR-1 humanoid) and scripted demonstrators.

    task = make_task('fetch_pick_place', image=True, seed=0)   # a core.types.Task
    obs = task.reset(seed=3)                                   # same seed -> same initial state
    result = task.step(action)                                 # robot units, within action_low/high

Episode ends: a task reports `success` / `failure` (both terminal: stop the episode there); it never
truncates by itself - the caller stops at `task.max_episode_steps` and records that as truncation.
Images (`image=True`) are uint8 84x84x3 from `mujoco.Renderer`; set MUJOCO_GL (egl or osmesa)
before anything imports mujoco on a headless machine (building a task defaults it to egl).
No ROS imports. Importing this package is cheap; MuJoCo is loaded when a task is built.
"""
from residual_rl_ros.sim.registry import make_task, register_task, task_names

__all__ = ['make_task', 'register_task', 'task_names']
