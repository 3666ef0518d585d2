"""Raw CDR bytes of our messages -> core types, without rclpy.

Observations without images and action records (two messages per transition) are decoded by a small
hand-written little-endian CDR reader, several times faster than rosbags' generic deserializer;
everything else (images, events, weights, status) goes through rosbags. Tests keep the fast path equal
to rosbags on the same bytes.
"""
from __future__ import annotations

import struct

import numpy as np

from residual_rl_ros.bags.typestore import typestore
from residual_rl_ros.core import image_codec
from residual_rl_ros.core.episodes import EpisodeEvent, EventKind, EventSource
from residual_rl_ros.core.transitions import ActionRecord
from residual_rl_ros.core.types import Observation

OBSERVATION = 'residual_rl_ros/msg/Observation'
ACTION_RECORD = 'residual_rl_ros/msg/PolicyActionRecord'
EPISODE_EVENT = 'residual_rl_ros/msg/EpisodeEvent'
POLICY_WEIGHTS = 'residual_rl_ros/msg/PolicyWeights'
TRAINER_STATUS = 'residual_rl_ros/msg/TrainerStatus'

_STAMP = struct.Struct('<iI').unpack_from
_U32 = struct.Struct('<I').unpack_from
_U64 = struct.Struct('<Q').unpack_from
_PHASE = struct.Struct('<HH').unpack_from                # chunk_phase, chunk_length
_VERSION = struct.Struct('<I?').unpack_from              # policy_version, intervention
_EMPTY = np.zeros(0, np.float32)


def _skip_strings(buf: memoryview, pos: int) -> tuple[int, int]:
    """Skip a string[] at `pos` (body-relative); return (count, position after it)."""
    pos += -pos % 4
    count = _U32(buf, pos)[0]
    pos += 4
    for _ in range(count):
        pos += -pos % 4
        pos += 4 + _U32(buf, pos)[0]
    return count, pos


class _NamesSkipper:
    """Skips the joint_names string[] of one message type: every message of a recording carries the same
    names at the same offset, so after the first one a byte comparison replaces the string walk."""

    def __init__(self) -> None:
        self.start, self.block = -1, b''

    def __call__(self, buf: memoryview, pos: int) -> int:
        pos += -pos % 4
        if pos == self.start and buf[pos:pos + len(self.block)] == self.block:
            return pos + len(self.block)
        _, end = _skip_strings(buf, pos)
        self.start, self.block = pos, bytes(buf[pos:end])
        return end


_OBSERVATION_NAMES, _RECORD_NAMES = _NamesSkipper(), _NamesSkipper()


def _floats(buf: memoryview, pos: int) -> tuple[np.ndarray, int]:
    pos += -pos % 4
    count = _U32(buf, pos)[0]
    pos += 4
    if not count:
        return _EMPTY, pos
    pos += -pos % 8
    return np.frombuffer(buf, '<f8', count, pos), pos + 8 * count


def _body(raw: bytes | memoryview, msgtype: str) -> memoryview:
    buf = memoryview(raw)
    if len(buf) < 4 or buf[1] != 1:
        raise ValueError(f'{msgtype}: not little-endian CDR (encapsulation {bytes(buf[:4]).hex()})')
    return buf[4:]


def _header_end(buf: memoryview) -> tuple[int, int]:
    """(stamp ns, position after the std_msgs/Header)."""
    sec, nanosec = _STAMP(buf, 0)
    return sec * 1_000_000_000 + nanosec, 12 + _U32(buf, 8)[0]


def decode_observation(raw: bytes | memoryview) -> tuple[int, Observation, bool]:
    """(header stamp ns, core observation, True when sensors were stale) from Observation bytes."""
    buf = _body(raw, OBSERVATION)
    stamp, pos = _header_end(buf)
    pos += -pos % 4 + 8                                  # oldest_sensor_stamp
    pos = _OBSERVATION_NAMES(buf, pos)                   # joint_names
    position, pos = _floats(buf, pos)
    velocity, pos = _floats(buf, pos)
    task_state, pos = _floats(buf, pos)
    cameras, pos = _skip_strings(buf, pos)
    if cameras:
        return _observation_with_images(raw)
    pos += -pos % 4 + 4                                  # images[] (count 0)
    stale, _ = _skip_strings(buf, pos)
    proprio = np.concatenate([position, velocity]) if len(velocity) else position
    return stamp, Observation(proprio=proprio.astype(np.float32), task_state=task_state.astype(np.float32)), \
        bool(stale)


def _observation_with_images(raw: bytes | memoryview) -> tuple[int, Observation, bool]:
    msg = typestore().deserialize_cdr(raw, OBSERVATION)
    proprio = np.asarray(msg.joint_position, np.float32)
    if len(msg.joint_velocity):
        proprio = np.concatenate([proprio, np.asarray(msg.joint_velocity, np.float32)])
    images = {}
    for name, image in zip(msg.camera_names, msg.images):
        array = image_codec.decode(image.data.tobytes(), image.height, image.width, image.step, image.encoding,
                                   bool(image.is_bigendian))
        images[name] = image_codec.to_rgb8(array, image.encoding)
    stamp = msg.header.stamp.sec * 1_000_000_000 + msg.header.stamp.nanosec
    return stamp, Observation(proprio=proprio, task_state=np.asarray(msg.task_state, np.float32), images=images), \
        bool(len(msg.stale_sensors))


def decode_record(raw: bytes | memoryview) -> ActionRecord:
    """Core ActionRecord from PolicyActionRecord bytes (robot units, as recorded)."""
    buf = _body(raw, ACTION_RECORD)
    stamp, pos = _header_end(buf)
    pos += -pos % 4
    episode_id = _U32(buf, pos)[0]
    pos += 4
    pos += -pos % 8
    tick = _U64(buf, pos)[0]
    pos += 8
    pos = _RECORD_NAMES(buf, pos)                        # joint_names
    base, pos = _floats(buf, pos)
    _, pos = _floats(buf, pos)                           # residual
    executed, pos = _floats(buf, pos)
    pos += -pos % 2
    phase, length = _PHASE(buf, pos)
    pos += 4
    pos += -pos % 4
    version, intervention = _VERSION(buf, pos)
    return ActionRecord(episode_id=episode_id, tick=tick, observation_stamp_ns=stamp, base_action=base,
                        executed_action=executed, chunk_phase=phase, chunk_length=length,
                        policy_version=version, intervention=intervention)


def decode_event(raw: bytes | memoryview) -> EpisodeEvent:
    """Core EpisodeEvent; ValueError naming the values when event or source is unknown."""
    msg = typestore().deserialize_cdr(raw, EPISODE_EVENT)
    try:
        kind, source = EventKind(msg.event), EventSource(msg.source)
    except ValueError as exc:
        raise ValueError(f'EpisodeEvent with unknown event/source ({msg.event}, {msg.source})') from exc
    return EpisodeEvent(kind, source, int(msg.episode_id), msg.note, bool(getattr(msg, 'evaluation', False)))


def deserialize(raw: bytes | memoryview, msgtype: str):
    """Any recorded message as a rosbags object (attribute names as in the .msg files)."""
    return typestore().deserialize_cdr(raw, msgtype)
