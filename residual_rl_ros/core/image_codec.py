"""Raw image buffers <-> numpy arrays with ROS 2 cv_bridge semantics, without ROS.

Honours `encoding` (dtype and channels), `step` (bytes per row, which may include padding) and
`is_bigendian`. Supported: rgb8, bgr8, rgba8, bgra8, mono8, mono16, 16UC1, 32FC1, 8UC1, 8UC3.
"""
from __future__ import annotations

import sys

import numpy as np

# encoding -> (numpy dtype, channels)
ENCODINGS: dict[str, tuple[np.dtype, int]] = {
    'rgb8': (np.dtype(np.uint8), 3), 'bgr8': (np.dtype(np.uint8), 3),
    'rgba8': (np.dtype(np.uint8), 4), 'bgra8': (np.dtype(np.uint8), 4),
    'mono8': (np.dtype(np.uint8), 1), '8UC1': (np.dtype(np.uint8), 1), '8UC3': (np.dtype(np.uint8), 3),
    'mono16': (np.dtype(np.uint16), 1), '16UC1': (np.dtype(np.uint16), 1),
    '32FC1': (np.dtype(np.float32), 1),
}
_HOST_IS_BIGENDIAN = sys.byteorder == 'big'


def encoding_info(encoding: str) -> tuple[np.dtype, int]:
    """(dtype, channels) of `encoding`; ValueError naming it when unsupported."""
    try:
        return ENCODINGS[encoding]
    except KeyError:
        raise ValueError(f'unsupported image encoding {encoding!r}; supported: {sorted(ENCODINGS)}') from None


def decode(data: bytes | bytearray | memoryview, height: int, width: int, step: int, encoding: str,
           is_bigendian: bool) -> np.ndarray:
    """A contiguous HxW (1 channel) or HxWxC array in host byte order from a raw image buffer."""
    dtype, channels = encoding_info(encoding)
    row_bytes = width * channels * dtype.itemsize
    if step < row_bytes:
        raise ValueError(f'{encoding} image: step {step} < width*channels*bytes = {row_bytes}')
    if len(data) < step * height:
        raise ValueError(f'{encoding} image {width}x{height}: data has {len(data)} bytes, '
                         f'expected step*height = {step * height}')
    rows = np.frombuffer(data, np.uint8, count=step * height).reshape(height, step)[:, :row_bytes]
    wire = dtype.newbyteorder('>' if is_bigendian else '<') if dtype.itemsize > 1 else dtype
    array = np.ascontiguousarray(rows).view(wire).reshape(height, width, channels)
    if channels == 1:
        array = array[:, :, 0]
    return np.ascontiguousarray(array.astype(dtype, copy=False))


def encode(array: np.ndarray, encoding: str) -> tuple[bytes, int, int, int, bool]:
    """(data, height, width, step, is_bigendian) for `array` in `encoding`, rows unpadded, host order."""
    dtype, channels = encoding_info(encoding)
    array = np.asarray(array)
    if array.ndim == 3 and channels == 1 and array.shape[2] == 1:
        array = array[:, :, 0]
    shape_ok = array.ndim == 2 if channels == 1 else (array.ndim == 3 and array.shape[2] == channels)
    if not shape_ok:
        wanted = '(H, W)' if channels == 1 else f'(H, W, {channels})'
        raise ValueError(f'{encoding} needs an array of shape {wanted}, got {array.shape}')
    if array.dtype != dtype:
        raise ValueError(f'{encoding} needs dtype {dtype}, got {array.dtype}')
    height, width = array.shape[:2]
    step = width * channels * dtype.itemsize
    return np.ascontiguousarray(array).tobytes(), height, width, step, _HOST_IS_BIGENDIAN


def to_rgb8(array: np.ndarray, encoding: str) -> np.ndarray:
    """Convert a decoded colour or mono8 image to HxWx3 uint8 RGB (what the policies consume)."""
    if encoding in ('rgb8', '8UC3'):
        return array
    if encoding == 'bgr8':
        return np.ascontiguousarray(array[:, :, ::-1])
    if encoding == 'rgba8':
        return np.ascontiguousarray(array[:, :, :3])
    if encoding == 'bgra8':
        return np.ascontiguousarray(array[:, :, 2::-1])
    if encoding in ('mono8', '8UC1'):
        return np.repeat(array[:, :, None], 3, axis=2)
    raise ValueError(f'cannot use a {encoding!r} image as a colour camera image (expected rgb8, bgr8, '
                     f'rgba8, bgra8 or mono8)')
