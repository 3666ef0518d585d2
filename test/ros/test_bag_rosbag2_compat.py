"""rosbag2 compatibility without ROS tools: what we write carries what rosbag2 itself reads (MCAP records
read by hand, sqlite3 schema, metadata.yaml, rosidl type hashes, ros2msg definitions incl. nested types)."""
from __future__ import annotations

import json
import re
import sqlite3
import struct
from pathlib import Path

import pytest
import yaml

from bag_factory import TOPICS, all_types_messages, messages
from residual_rl_ros.bags.typestore import msg_dir
from residual_rl_ros.bags.writer import BagWriter

ROOT = Path(__file__).resolve().parents[2]


def _mcap_records(data: bytes) -> list[tuple[int, bytes]]:
    """(opcode, body) of every MCAP record, chunk contents included (uncompressed chunks), read by hand."""
    out, pos = [], 8
    while pos + 9 <= len(data):
        op, length = data[pos], struct.unpack_from('<Q', data, pos + 1)[0]
        body = data[pos + 9:pos + 9 + length]
        if op == 0x06:
            size_at = 32 + struct.unpack_from('<I', body, 28)[0]
            out += _mcap_records(b'\0' * 8 + body[size_at + 8:])
        else:
            out.append((op, body))
        pos += 9 + length
    return out


def _strings(body: bytes, pos: int, count: int) -> tuple[list[str], int]:
    values = []
    for _ in range(count):
        length = struct.unpack_from('<I', body, pos)[0]
        values.append(body[pos + 4:pos + 4 + length].decode())
        pos += 4 + length
    return values, pos


def _rosidl_hashes() -> dict[str, str]:
    """RIHS01 type hashes as rosidl's generator wrote them (share/<pkg>/msg/<Type>.json beside the .msg files)."""
    hashes = {}
    for path in msg_dir().parent.parent.glob('*/msg/*.json'):
        for entry in json.loads(path.read_text()).get('type_hashes', []):
            hashes.setdefault(entry['type_name'], entry['hash_string'])
    return hashes


def _referenced_types(definition: str, package: str) -> set[str]:
    """Non-primitive field types of one .msg body, as pkg/Name."""
    primitives = {'bool', 'byte', 'char', 'float32', 'float64', 'int8', 'uint8', 'int16', 'uint16', 'int32',
                  'uint32', 'int64', 'uint64', 'string', 'wstring'}
    found = set()
    for line in definition.splitlines():
        line = line.split('#', 1)[0].strip()
        if not line or '=' in line.split()[-1] or len(line.split()) < 2:
            continue
        base = re.sub(r'(\[.*\]|<=\d+)$', '', line.split()[0])
        if base.split('<=')[0] not in primitives:
            found.add(base if '/' in base else f'{package}/{base}')
    return found


@pytest.mark.parametrize('storage', ['mcap', 'sqlite3'])
def test_bag_carries_what_rosbag2_reads(tmp_path: Path, storage: str) -> None:
    """What `ros2 bag info/play` need, checked without ROS: rosbag2's metadata.yaml (version 9, per-topic counts,
    rosidl's RIHS01 type hashes); mcap: profile ros2, cdr channels with QoS metadata, ros2msg schemas that hold
    every nested type as a `MSG: pkg/Name` block; sqlite3: rosbag2's schema-4 tables with the same definitions."""
    written = all_types_messages()
    event_msgs, _ = messages(episodes=1, steps=3)
    topics = {topic: msgtype for topic, msgtype, _ in written} | TOPICS
    with BagWriter(tmp_path, 'rec', topics, storage=storage) as writer:
        for i, (topic, _, raw) in enumerate(written):
            writer.write(topic, raw, 1000 + i)
        for i, (topic, raw, _) in enumerate(event_msgs):
            writer.write(topic, raw, 2000 + i)
    folder = tmp_path / 'rec_0000'
    info = yaml.safe_load((folder / 'metadata.yaml').read_text())['rosbag2_bagfile_information']
    assert info['version'] == 9 and info['storage_identifier'] == storage
    assert all((folder / name).is_file() for name in info['relative_file_paths'])
    counts = {topic: 0 for topic in topics}
    for topic, *_ in written:
        counts[topic] += 1
    for topic, *_ in event_msgs:
        counts[topic] += 1
    listed = {t['topic_metadata']['name']: t for t in info['topics_with_message_count']}
    assert {name: t['message_count'] for name, t in listed.items()} == counts
    assert info['message_count'] == sum(counts.values()) == sum(f['message_count'] for f in info['files'])
    rosidl = _rosidl_hashes()
    ours = [msgtype for msgtype in topics.values() if msgtype.startswith('residual_rl_ros/')]
    assert all(msgtype in rosidl for msgtype in ours), f'no rosidl type description for {ours} under {msg_dir()}'
    for name, topic in listed.items():
        meta = topic['topic_metadata']
        assert (meta['type'], meta['serialization_format']) == (topics[name], 'cdr')
        if meta['type'] in rosidl:
            assert meta['type_description_hash'] == rosidl[meta['type']], f'{meta["type"]}: hash differs from rosidl'

    if storage == 'mcap':
        data = (folder / info['relative_file_paths'][0]).read_bytes()
        records = _mcap_records(data)
        header = next(body for op, body in records if op == 0x01)
        assert _strings(header, 0, 1)[0] == ['ros2']
        schemas, channels = {}, {}
        for op, body in records:
            if op == 0x03:
                (name, encoding), pos = _strings(body, 2, 2)
                schemas[struct.unpack_from('<H', body, 0)[0]] = (name, encoding, _strings(body, pos, 1)[0][0])
            elif op == 0x04:
                schema_id = struct.unpack_from('<H', body, 2)[0]
                (topic, encoding), pos = _strings(body, 4, 2)
                size, meta = struct.unpack_from('<I', body, pos)[0], {}
                pos, end = pos + 4, pos + 4 + size
                while pos < end:
                    (key, value), pos = _strings(body, pos, 2)
                    meta[key] = value
                channels[topic] = (schema_id, encoding, meta)
        definitions = {}
        for topic, (schema_id, encoding, meta) in channels.items():
            name, schema_encoding, text = schemas[schema_id]
            assert (name, encoding, schema_encoding) == (topics[topic], 'cdr', 'ros2msg')
            assert isinstance(yaml.safe_load(meta['offered_qos_profiles']), list)
            definitions[name] = text
    else:
        db = sqlite3.connect(folder / info['relative_file_paths'][0])
        assert db.execute('SELECT schema_version FROM schema').fetchone()[0] == 4
        rows = db.execute('SELECT name, type, serialization_format, offered_qos_profiles, type_description_hash '
                          'FROM topics').fetchall()
        assert {r[0]: (r[1], r[2], r[4]) for r in rows} == {
            name: (t['topic_metadata']['type'], 'cdr', t['topic_metadata']['type_description_hash'])
            for name, t in listed.items()}
        assert all(isinstance(yaml.safe_load(r[3]), list) for r in rows)
        definitions = {}
        for msgtype, encoding, text in db.execute(
                'SELECT topic_type, encoding, encoded_message_definition FROM message_definitions'):
            assert encoding == 'ros2msg'
            definitions[msgtype] = text
        assert set(definitions) == set(topics.values())
    for msgtype, text in definitions.items():
        blocks = text.split('=' * 80 + '\n')
        bodies = {msgtype: blocks[0]}
        for block in blocks[1:]:
            first, _, body = block.partition('\n')
            assert first.startswith('MSG: '), f'{msgtype}: dependency block without a MSG: line'
            bodies[first[5:].replace('/msg/', '/')] = body
        own = msgtype.replace('/msg/', '/')
        bodies[own] = bodies.pop(msgtype)
        for name, body in bodies.items():
            missing = _referenced_types(body, name.split('/')[0]) - set(bodies)
            assert not missing, f'{msgtype}: definition lacks the nested type(s) {missing}'
