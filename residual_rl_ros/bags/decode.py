"""Raw CDR bytes of our messages -> core types, without rclpy.

Observations without images and action records (two messages per transition) are decoded by a small
hand-written little-endian CDR reader, several times faster than rosbags' generic deserializer;
everything else (images, events, weights, status) goes through rosbags. Tests keep the fast path equal
to rosbags on the same bytes.

Every message of a recording has the same *shape* (frame_id length, joint names, array lengths), so its
fields sit at the same offsets: the first message of a shape is walked field by field and its offsets
are kept (`_Layout`); a later message of the same size whose length words and joint-name bytes match is
read at those offsets (one struct unpack, one byte comparison, one numpy read per message). A message of
another shape is walked again and its layout replaces the kept one.
"""
from __future__ import annotations

import dataclasses
import operator
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

_U32 = struct.Struct('<I').unpack_from
_F8 = np.dtype('<f8')


@dataclasses.dataclass(frozen=True)
class _Layout:
    """Offsets of one message shape.

    `fields` unpacks, in offset order, the message's scalars and length words; `shape` is what the length
    words (`shape_of` picks them from the unpacked tuple) were; `names` are the joint_names bytes at `names_at`.
    """

    size: int
    fields: struct.Struct
    shape_of: operator.itemgetter
    shape: tuple[int, ...]
    names_at: int
    names: bytes
    arrays: tuple[tuple[int, int], ...]      # (data offset, count) of each float64[]

    def check(self, buf: memoryview) -> tuple | None:
        """The unpacked fields when `buf` has this shape, else None."""
        if len(buf) != self.size:
            return None
        values = self.fields.unpack_from(buf)
        if self.shape_of(values) != self.shape or buf[self.names_at:self.names_at + len(self.names)] != self.names:
            return None
        return values


def _struct(items: list[tuple[int, str]]) -> struct.Struct:
    """One struct reading the `(offset, code)` items (little-endian, unaligned), skipping the bytes between."""
    fmt, pos = '<', 0
    for offset, code in sorted(items):
        fmt += (f'{offset - pos}x' if offset > pos else '') + code
        pos = offset + struct.calcsize('<' + code)
    return struct.Struct(fmt)


def _skip_strings(buf: memoryview, pos: int) -> tuple[int, int]:
    """Skip a string[] at `pos` (body-relative); return (count, position after it)."""
    pos += -pos % 4
    count = _U32(buf, pos)[0]
    pos += 4
    for _ in range(count):
        pos += -pos % 4
        pos += 4 + _U32(buf, pos)[0]
    return count, pos


def _floats(buf: memoryview, pos: int) -> tuple[int, tuple[int, int], int]:
    """(length-word offset, (data offset, count), position after) of the float64[] at `pos`."""
    pos += -pos % 4
    count = _U32(buf, pos)[0]
    start = pos + 4
    if count:
        start += -start % 8
    return pos, (start, count), start + 8 * count


def _body(raw: bytes | memoryview, msgtype: str) -> memoryview:
    buf = memoryview(raw)
    if len(buf) < 4 or buf[1] != 1:
        raise ValueError(f'{msgtype}: not little-endian CDR (encapsulation {bytes(buf[:4]).hex()})')
    return buf[4:]


def _after_header(buf: memoryview) -> int:
    """Position after a std_msgs/Header at the start of the body."""
    return 12 + _U32(buf, 8)[0]


# -- observations ------------------------------------------------------------------------------------

@dataclasses.dataclass(frozen=True)
class _ObservationLayout(_Layout):
    first: int = 0                   # offset of the first float read
    span: int = 0                    # float64 slots read from `first`
    take: np.ndarray | None = None   # slots of proprio (positions, velocities) then task_state


def _observation_layout(buf: memoryview) -> _ObservationLayout | None:
    """Walk one Observation body; None when it carries images (those take the generic path)."""
    pos = _after_header(buf)
    pos += -pos % 4 + 8                                  # oldest_sensor_stamp
    names_at = pos + -pos % 4
    _, pos = _skip_strings(buf, names_at)
    names = bytes(buf[names_at:pos])
    words, arrays = [], []
    for _ in range(3):                                   # joint_position, joint_velocity, task_state
        word, array, pos = _floats(buf, pos)
        words.append(word)
        arrays.append(array)
    cameras_at = pos + -pos % 4
    cameras, pos = _skip_strings(buf, pos)
    if cameras:
        return None
    images_at = pos + -pos % 4
    # unpacked in offset order: sec, nanosec, frame_id length, 3 array lengths, cameras, images, stale count
    fields = _struct([(0, 'i'), (4, 'I'), (8, 'I'), *((w, 'I') for w in words), (cameras_at, 'I'),
                      (images_at, 'I'), (images_at + 4, 'I')])
    shape_of = operator.itemgetter(2, 3, 4, 5, 6, 7)
    shape = (_U32(buf, 8)[0], *(count for _, count in arrays), 0, 0)
    first = min((start for start, count in arrays if count), default=0)
    take = np.concatenate([np.arange(count, dtype=np.intp) + (start - first) // 8 for start, count in arrays])
    span = int(take[-1]) + 1 if take.size else 0
    return _ObservationLayout(len(buf), fields, shape_of, shape, names_at, names, tuple(arrays),
                              first, span, take)


_layouts: dict[str, _Layout | None] = {OBSERVATION: None, ACTION_RECORD: None}


def decode_observation(raw: bytes | memoryview) -> tuple[int, Observation, bool]:
    """(header stamp ns, core observation, True when sensors were stale) from Observation bytes."""
    buf = _body(raw, OBSERVATION)
    layout = _layouts[OBSERVATION]
    values = None if layout is None else layout.check(buf)
    if values is None:
        layout = _observation_layout(buf)
        if layout is None:
            return _observation_with_images(raw)
        _layouts[OBSERVATION] = layout
        values = layout.fields.unpack_from(buf)
    state = np.frombuffer(buf, _F8, layout.span, layout.first)[layout.take].astype(np.float32)
    proprio = layout.arrays[0][1] + layout.arrays[1][1]
    return (values[0] * 1_000_000_000 + values[1], Observation(proprio=state[:proprio], task_state=state[proprio:]),
            values[8] > 0)


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


# -- action records ----------------------------------------------------------------------------------

def _record_layout(buf: memoryview) -> _Layout:
    """Walk one PolicyActionRecord body."""
    pos = _after_header(buf)
    episode_at = pos + -pos % 4
    tick_at = episode_at + 4 + -(episode_at + 4) % 8
    names_at = tick_at + 8 + -(tick_at + 8) % 4
    _, pos = _skip_strings(buf, names_at)
    names = bytes(buf[names_at:pos])
    words, arrays = [], []
    for _ in range(3):                                   # base_action, residual, executed_action
        word, array, pos = _floats(buf, pos)
        words.append(word)
        arrays.append(array)
    phase_at = pos + -pos % 2
    version_at = phase_at + 4 + -(phase_at + 4) % 4
    # unpacked in offset order: sec, nanosec, frame_id length, episode_id, tick, 3 array lengths,
    # chunk_phase, chunk_length, policy_version, intervention
    fields = _struct([(0, 'i'), (4, 'I'), (8, 'I'), (episode_at, 'I'), (tick_at, 'Q'), *((w, 'I') for w in words),
                      (phase_at, 'H'), (phase_at + 2, 'H'), (version_at, 'I'), (version_at + 4, '?')])
    shape_of = operator.itemgetter(2, 5, 6, 7)
    return _Layout(len(buf), fields, shape_of, shape_of(fields.unpack_from(buf)), names_at, names, tuple(arrays))


def decode_record(raw: bytes | memoryview) -> ActionRecord:
    """Core ActionRecord from PolicyActionRecord bytes (robot units, as recorded)."""
    buf = _body(raw, ACTION_RECORD)
    layout = _layouts[ACTION_RECORD]
    values = None if layout is None else layout.check(buf)
    if values is None:
        layout = _record_layout(buf)
        _layouts[ACTION_RECORD] = layout
        values = layout.fields.unpack_from(buf)
    sec, nanosec, _, episode_id, tick, _, _, _, phase, length, version, intervention = values
    (base_at, count), _, (executed_at, _) = layout.arrays
    return ActionRecord(episode_id=episode_id, tick=tick, observation_stamp_ns=sec * 1_000_000_000 + nanosec,
                        base_action=np.frombuffer(buf, _F8, count, base_at),
                        executed_action=np.frombuffer(buf, _F8, count, executed_at),
                        chunk_phase=phase, chunk_length=length, policy_version=version, intervention=intervention)


# -- everything else ---------------------------------------------------------------------------------

def decode_event(raw: bytes | memoryview) -> EpisodeEvent:
    """Core EpisodeEvent; ValueError naming the values when event or source is unknown. Bags recorded before
    the message had `evaluation` (their EpisodeEvent ends after `note`) read as evaluation False."""
    buf = _body(raw, EPISODE_EVENT)
    try:
        pos = _after_header(buf)
        event, source = buf[pos], buf[pos + 1]
        pos += 2 + -(pos + 2) % 4
        episode_id, length = struct.unpack_from('<II', buf, pos)
        note = bytes(buf[pos + 8:pos + 8 + length]).rstrip(b'\0').decode()
        pos += 8 + length
        evaluation = pos < len(buf) and bool(buf[pos])
    except (struct.error, IndexError, UnicodeDecodeError) as exc:
        raise ValueError(f'EpisodeEvent: malformed CDR ({exc})') from exc
    try:
        kind, origin = EventKind(event), EventSource(source)
    except ValueError as exc:
        raise ValueError(f'EpisodeEvent with unknown event/source ({event}, {source})') from exc
    return EpisodeEvent(kind, origin, int(episode_id), note, evaluation)


def deserialize(raw: bytes | memoryview, msgtype: str):
    """Any recorded message as a rosbags object (attribute names as in the .msg files)."""
    return typestore().deserialize_cdr(raw, msgtype)
