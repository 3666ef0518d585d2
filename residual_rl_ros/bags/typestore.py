"""The message types a bag of this package holds, for the pure-Python `rosbags` library (no rclpy).

Our interfaces (msg/*.msg) are registered from the installed share/residual_rl_ros/msg files (the ament
index), falling back to the source tree's msg/ folder; std_msgs, sensor_msgs and builtin_interfaces come
with rosbags' ROS 2 kilted store. Type hashes (RIHS01) computed here match rosidl's, so the definitions
embedded in a bag are the ones `ros2 bag info/play` expect.
"""
from __future__ import annotations

import functools
import os
import sys
from pathlib import Path

from rosbags.typesys import Stores, get_types_from_msg, get_typestore
from rosbags.typesys.store import Typestore

PACKAGE = 'residual_rl_ros'
_SOURCE_MSG_DIR = Path(__file__).resolve().parents[2] / 'msg'


def msg_dir() -> Path:
    """Folder of our .msg files: the installed share/residual_rl_ros/msg, else the source tree's msg/."""
    prefixes = os.environ.get('AMENT_PREFIX_PATH', '').split(os.pathsep) + [sys.prefix]
    for prefix in filter(None, prefixes):
        candidate = Path(prefix) / 'share' / PACKAGE / 'msg'
        if candidate.is_dir() and any(candidate.glob('*.msg')):
            return candidate
    if _SOURCE_MSG_DIR.is_dir():
        return _SOURCE_MSG_DIR
    raise FileNotFoundError(f'no {PACKAGE}/msg/*.msg found under AMENT_PREFIX_PATH or {_SOURCE_MSG_DIR}')


@functools.lru_cache(maxsize=1)
def typestore() -> Typestore:
    """rosbags' ROS 2 kilted types plus every residual_rl_ros/msg type (cached, one per process)."""
    store = get_typestore(Stores.ROS2_KILTED)
    types = {}
    for path in sorted(msg_dir().glob('*.msg')):
        types.update(get_types_from_msg(path.read_text(), f'{PACKAGE}/msg/{path.stem}'))
    store.register(types)
    return store
