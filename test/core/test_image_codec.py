"""Raw image buffers decode like ROS 2 cv_bridge: encoding, step padding and byte order honoured."""
import numpy as np
import pytest

from residual_rl_ros.core import image_codec

RNG = np.random.default_rng(0)


def _sample(encoding: str, height: int = 5, width: int = 7) -> np.ndarray:
    dtype, channels = image_codec.encoding_info(encoding)
    shape = (height, width) if channels == 1 else (height, width, channels)
    if dtype == np.float32:
        return RNG.normal(size=shape).astype(np.float32)
    return RNG.integers(0, np.iinfo(dtype).max, size=shape, dtype=dtype)


def _hand_built(array: np.ndarray, pad: int, bigendian: bool) -> tuple[bytes, int]:
    """Rows written one by one with `pad` junk bytes after each, in the given byte order."""
    order = '>' if bigendian else '<'
    rows = []
    for row in array.reshape(array.shape[0], -1):
        rows.append(row.astype(row.dtype.newbyteorder(order)).tobytes() + b'\xab' * pad)
    return b''.join(rows), len(rows[0])


@pytest.mark.parametrize('encoding', ['rgb8', 'bgr8', 'mono8', '16UC1', '32FC1', 'rgba8', 'mono16'])
@pytest.mark.parametrize('pad', [0, 3, 8])
@pytest.mark.parametrize('bigendian', [False, True])
def test_decode_hand_built_buffers(encoding: str, pad: int, bigendian: bool) -> None:
    array = _sample(encoding)
    data, step = _hand_built(array, pad, bigendian)
    decoded = image_codec.decode(data, array.shape[0], array.shape[1], step, encoding, bigendian)
    assert decoded.dtype == array.dtype and decoded.shape == array.shape
    assert decoded.flags.c_contiguous
    np.testing.assert_array_equal(decoded, array)


@pytest.mark.parametrize('encoding', ['rgb8', 'bgr8', 'mono8', '16UC1', '32FC1'])
def test_encode_decode_round_trip(encoding: str) -> None:
    array = _sample(encoding, 84, 84)
    data, height, width, step, bigendian = image_codec.encode(array, encoding)
    assert step == width * array.itemsize * (array.shape[2] if array.ndim == 3 else 1)
    np.testing.assert_array_equal(image_codec.decode(data, height, width, step, encoding, bigendian), array)


def test_16uc1_big_endian_values_are_swapped_to_host_order() -> None:
    data = bytes([0x01, 0x02, 0x03, 0x04])  # two pixels, big endian: 0x0102, 0x0304
    decoded = image_codec.decode(data, 1, 2, 4, '16UC1', True)
    assert decoded.tolist() == [[0x0102, 0x0304]]


def test_unknown_encoding_is_named() -> None:
    with pytest.raises(ValueError, match="unsupported image encoding 'yuv422'"):
        image_codec.decode(b'\0' * 8, 2, 2, 4, 'yuv422', False)


def test_short_buffer_and_short_step_are_errors() -> None:
    with pytest.raises(ValueError, match='expected step\\*height = 12'):
        image_codec.decode(b'\0' * 11, 2, 2, 6, 'rgb8', False)
    with pytest.raises(ValueError, match='step 5 < width'):
        image_codec.decode(b'\0' * 12, 2, 2, 5, 'rgb8', False)


def test_encode_rejects_wrong_shape_and_dtype() -> None:
    with pytest.raises(ValueError, match=r'shape \(H, W, 3\)'):
        image_codec.encode(np.zeros((4, 4), np.uint8), 'rgb8')
    with pytest.raises(ValueError, match='needs dtype uint16'):
        image_codec.encode(np.zeros((4, 4), np.uint8), '16UC1')


def test_to_rgb8_channel_orders() -> None:
    bgr = _sample('bgr8')
    np.testing.assert_array_equal(image_codec.to_rgb8(bgr, 'bgr8'), bgr[:, :, ::-1])
    mono = _sample('mono8')
    assert image_codec.to_rgb8(mono, 'mono8').shape == mono.shape + (3,)
    with pytest.raises(ValueError, match="'32FC1' image as a colour camera"):
        image_codec.to_rgb8(_sample('32FC1'), '32FC1')
