"""sensor_msgs/Image <-> numpy with ROS 2 cv_bridge semantics (encoding, step, is_bigendian)."""
from __future__ import annotations

import numpy as np
from sensor_msgs.msg import Image
from std_msgs.msg import Header

from residual_rl_ros.core import image_codec


def image_to_numpy(msg: Image) -> np.ndarray:
    """A contiguous HxW or HxWxC array in host byte order; ValueError naming the problem."""
    return image_codec.decode(msg.data, msg.height, msg.width, msg.step, msg.encoding,
                              bool(msg.is_bigendian))


def numpy_to_image(array: np.ndarray, encoding: str, header: Header | None = None) -> Image:
    """An Image message holding `array` (whose dtype and channels must match `encoding`)."""
    data, height, width, step, is_bigendian = image_codec.encode(array, encoding)
    msg = Image(height=height, width=width, encoding=encoding, is_bigendian=int(is_bigendian), step=step)
    msg.data = data  # bytes assignment is ~1000x faster than assigning an array
    if header is not None:
        msg.header = header
    return msg
