"""sensor_msgs/Image conversions against hand-built messages (padded rows, both byte orders)."""
import numpy as np
import pytest
from sensor_msgs.msg import Image
from std_msgs.msg import Header

from residual_rl_ros.ros.images import image_to_numpy, numpy_to_image

ENCODINGS = {'rgb8': (np.uint8, 3), 'bgr8': (np.uint8, 3), 'mono8': (np.uint8, 1),
             '16UC1': (np.uint16, 1), '32FC1': (np.float32, 1)}


def _array(encoding: str, height: int, width: int) -> np.ndarray:
    dtype, channels = ENCODINGS[encoding]
    shape = (height, width) if channels == 1 else (height, width, channels)
    rng = np.random.default_rng(1)
    if dtype == np.float32:
        return rng.normal(size=shape).astype(dtype)
    return rng.integers(0, np.iinfo(dtype).max, size=shape, dtype=dtype)


def _hand_built(array: np.ndarray, encoding: str, pad: int, bigendian: bool) -> Image:
    order = '>' if bigendian else '<'
    rows = [row.astype(row.dtype.newbyteorder(order)).tobytes() + bytes(range(pad))
            for row in array.reshape(array.shape[0], -1)]
    msg = Image(height=array.shape[0], width=array.shape[1], encoding=encoding,
                is_bigendian=int(bigendian), step=len(rows[0]))
    msg.data = b''.join(rows)
    return msg


@pytest.mark.parametrize('encoding', sorted(ENCODINGS))
@pytest.mark.parametrize('pad', [0, 5])
@pytest.mark.parametrize('bigendian', [False, True])
def test_hand_built_message_decodes(encoding: str, pad: int, bigendian: bool) -> None:
    array = _array(encoding, 6, 9)
    decoded = image_to_numpy(_hand_built(array, encoding, pad, bigendian))
    np.testing.assert_array_equal(decoded, array)


@pytest.mark.parametrize('encoding', sorted(ENCODINGS))
def test_numpy_to_image_round_trip(encoding: str) -> None:
    array = _array(encoding, 84, 84)
    header = Header(frame_id='head_camera')
    msg = numpy_to_image(array, encoding, header)
    assert msg.encoding == encoding and msg.header.frame_id == 'head_camera'
    assert msg.step == msg.width * array.itemsize * (3 if array.ndim == 3 else 1)
    np.testing.assert_array_equal(image_to_numpy(msg), array)


def test_wrong_encoding_for_array_is_an_error() -> None:
    with pytest.raises(ValueError, match='rgb8 needs dtype uint8'):
        numpy_to_image(np.zeros((4, 4, 3), np.float32), 'rgb8')
