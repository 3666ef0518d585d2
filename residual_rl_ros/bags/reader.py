"""Read one or many rosbag2 bags (mcap or sqlite3) in time order, including what a crash left behind.

A path may be a bag folder (with or without metadata.yaml), a folder of bag folders (`run_dir/bags`), or
a single .mcap / .db3 file. Storage files are opened with rosbags (which checks them); an mcap file whose
end is missing (the recorder was killed while writing, or the file was cut short) is scanned record by
record instead: every message of every complete chunk is returned, then `BagReadError` names the file and
where it broke.

Reading speed: an mcap file whose chunks do not overlap in time (what our recorder and `ros2 bag record`
write) is read by the same scan, straight from a memory map, several times cheaper per message than
rosbags' indexed reader; messages within a chunk are put in time order when they are not. Files whose
chunks overlap, and sqlite3 files, are read by rosbags. Files whose time ranges follow one another (the
splits of one recording) are chained rather than merged.
"""
from __future__ import annotations

import dataclasses
import heapq
import itertools
import mmap
import struct
from pathlib import Path
from typing import Collection, Iterable, Iterator

import yaml
from rosbags.rosbag2 import Reader

_MAGIC = b'\x89MCAP0\r\n'
_STORAGE_SUFFIXES = ('.mcap', '.db3')


class BagReadError(ValueError):
    """A bag file that cannot be read (fully); the message names the file."""


@dataclasses.dataclass(slots=True)
class BagMessage:
    """One recorded message (treated as immutable; a plain slotted class is cheaper to build)."""

    stamp_ns: int          # receive (log) time
    topic: str
    msgtype: str
    data: bytes | memoryview
    source: Path           # storage file it came from


def storage_files(paths: Iterable[str | Path]) -> list[Path]:
    """Every storage file under `paths` (bag folders, folders of bags, files), in name order per path."""
    files: list[Path] = []
    for raw in paths:
        path = Path(raw)
        if path.is_file():
            if path.suffix not in _STORAGE_SUFFIXES:
                raise BagReadError(f'{path}: not a bag storage file (expected {" or ".join(_STORAGE_SUFFIXES)})')
            files.append(path)
        elif (path / 'metadata.yaml').is_file():
            files += _files_from_metadata(path)
        elif path.is_dir():
            direct = sorted(p for p in path.iterdir() if p.is_file() and p.suffix in _STORAGE_SUFFIXES)
            nested = sorted(p for p in path.iterdir() if p.is_dir())
            files += direct + (storage_files(nested) if nested else [])
        else:
            raise BagReadError(f'{path}: no such bag, folder or file')
    return files


def _files_from_metadata(folder: Path) -> list[Path]:
    try:
        info = yaml.safe_load((folder / 'metadata.yaml').read_text())['rosbag2_bagfile_information']
        names = [Path(p).name for p in info['relative_file_paths']]
    except (OSError, yaml.YAMLError, KeyError, TypeError) as exc:
        names = sorted(p.name for p in folder.iterdir() if p.suffix in _STORAGE_SUFFIXES)
        if not names:
            raise BagReadError(f'{folder}/metadata.yaml: unreadable ({exc}) and no storage file') from exc
    missing = [n for n in names if not (folder / n).is_file()]
    if missing:
        raise BagReadError(f'{folder}: storage file(s) {missing} listed in metadata.yaml are missing')
    return [folder / n for n in names]


def read_messages(paths: Iterable[str | Path], msgtypes: Collection[str] | None = None) -> Iterator[BagMessage]:
    """Messages of every bag under `paths` (only `msgtypes` when given), merged in receive-time order."""
    files = storage_files(paths)
    if not files:
        raise BagReadError(f'no bag storage files under {list(map(str, paths))}')
    streams = [read_file(f, msgtypes) for f in files]
    if len(streams) == 1:
        return streams[0]
    ranges = [_mcap_time_range(f) for f in files]
    if all(ranges) and all(a[1] <= b[0] for a, b in zip(ranges, ranges[1:])):
        return itertools.chain(*streams)             # splits that follow one another
    return heapq.merge(*streams, key=lambda m: m.stamp_ns)


def count_messages(paths: Iterable[str | Path], msgtypes: Collection[str] | None = None) -> int | None:
    """Messages in the bags' indexes (None when a file cannot be opened by rosbags: count unknown)."""
    total = 0
    for path in storage_files(paths):
        reader = Reader(path)
        try:
            reader.open()
        except Exception:
            return None
        total += sum(c.msgcount for c in reader.connections if msgtypes is None or c.msgtype in msgtypes)
        reader.close()
    return total


def list_topics(paths: Iterable[str | Path]) -> dict[str, str]:
    """topic -> message type of every connection in the bags (files rosbags cannot open are skipped)."""
    topics: dict[str, str] = {}
    for path in storage_files(paths):
        reader = Reader(path)
        try:
            reader.open()
        except Exception:
            continue
        topics.update({c.topic: c.msgtype for c in reader.connections})
        reader.close()
    return topics


def read_file(path: Path, msgtypes: Collection[str] | None = None) -> Iterator[BagMessage]:
    """Messages of one storage file in file order; a broken end raises BagReadError after the rest."""
    wanted = None if msgtypes is None else set(msgtypes)
    reader = Reader(path)
    try:
        reader.open()
    except Exception as exc:  # rosbags raises several types for a file without a valid end
        if path.suffix != '.mcap':
            raise BagReadError(f'{path}: unreadable bag file ({exc})') from exc
        yield from scan_mcap(path, wanted)
        return
    if _mcap_time_range(path) is not None:
        reader.close()
        yield from scan_mcap(path, wanted)
        return
    try:
        connections = [c for c in reader.connections if wanted is None or c.msgtype in wanted]
        count = 0
        try:
            for connection, stamp, data in reader.messages(connections):
                yield BagMessage(stamp, connection.topic, connection.msgtype, data, path)
                count += 1
        except Exception as exc:
            raise BagReadError(f'{path}: corrupt after {count} messages ({exc}); the messages before it '
                               'were read') from exc
    finally:
        reader.close()


def _map(path: Path) -> memoryview:
    """The file's bytes, memory-mapped (read-only; an empty file gives an empty view)."""
    with open(path, 'rb') as f:
        if not f.seek(0, 2):
            return memoryview(b'')
        return memoryview(mmap.mmap(f.fileno(), 0, access=mmap.ACCESS_READ))


def _mcap_time_range(path: Path) -> tuple[int, int] | None:
    """(first, last) message log time of an mcap file whose chunks follow one another in time and that has
    no message outside a chunk; None for any other file (sqlite3, overlapping chunks, unreadable)."""
    if path.suffix != '.mcap':
        return None
    try:
        data = _map(path)
    except OSError:
        return None
    if bytes(data[:8]) != _MAGIC:
        return None
    first, last, pos, end = None, None, 8, len(data)
    while pos + 9 <= end:
        op, length = data[pos], struct.unpack_from('<Q', data, pos + 1)[0]
        if op == 0x06 and pos + 25 <= end:
            start_ns, end_ns = struct.unpack_from('<QQ', data, pos + 9)
            if start_ns > end_ns:                          # a chunk without messages (schemas, channels only)
                pos += 9 + length
                continue
            if last is not None and start_ns < last:
                return None
            first, last = start_ns if first is None else first, end_ns
        elif op == 0x05:
            return None
        elif op in (0x0F, 0x02):
            break
        pos += 9 + length
    return None if first is None else (first, last)


def scan_mcap(path: Path, wanted: Collection[str] | None = None) -> Iterator[BagMessage]:
    """Scan an MCAP file's records from the start (no summary needed); see the module docstring."""
    data = _map(path)
    if bytes(data[:8]) != _MAGIC:
        raise BagReadError(f'{path}: not an MCAP file (bad magic)')
    schemas: dict[int, str] = {}
    channels: dict[int, tuple[str, str]] = {}
    pos, end = 8, len(data)
    while pos < end:
        if pos + 9 > end:
            break
        op, length = data[pos], struct.unpack_from('<Q', data, pos + 1)[0]
        body = pos + 9
        if body + length > end:
            break
        if op == 0x06:                                    # chunk
            compression_len = struct.unpack_from('<I', data, body + 28)[0]
            compression = bytes(data[body + 32:body + 32 + compression_len]).decode()
            size_at = body + 32 + compression_len
            records = data[size_at + 8:size_at + 8 + struct.unpack_from('<Q', data, size_at)[0]]
            if compression == 'zstd':
                from backports import zstd
                records = memoryview(zstd.decompress(records))
            elif compression:
                raise BagReadError(f'{path}: chunk compression {compression!r} is not supported')
            yield from _records(records, path, schemas, channels, wanted)
        elif op in (0x0F, 0x02):                           # data end, footer: the data section is over
            return
        else:
            yield from _records(data[pos:body + length], path, schemas, channels, wanted)
        pos = body + length
    if pos < end:
        raise BagReadError(f'{path}: truncated at byte {pos} of {end} (a partial record); every complete '
                           'chunk before it was read')


_RECORD = struct.Struct('<BQ').unpack_from
_MESSAGE = struct.Struct('<BQHIQ').unpack_from      # op, length, channel_id, sequence, log_time


def _records(data: memoryview, path: Path, schemas: dict, channels: dict,
             wanted: Collection[str] | None) -> list[BagMessage]:
    """The wanted messages among the records in `data` (one chunk, or one top-level record), in time order."""
    out, pos, end, last, ordered = [], 0, len(data), -1, True
    while pos + 9 <= end:
        op, length = _RECORD(data, pos)
        body = pos + 9
        if op == 0x05:
            _, _, channel_id, _, log_time = _MESSAGE(data, pos)
            topic, msgtype = channels[channel_id]
            if wanted is None or msgtype in wanted:
                out.append(BagMessage(log_time, topic, msgtype, data[body + 22:body + length], path))
                ordered, last = ordered and log_time >= last, log_time
        elif op == 0x03:
            schema_id, name_len = struct.unpack_from('<HI', data, body)
            schemas[schema_id] = bytes(data[body + 6:body + 6 + name_len]).decode()
        elif op == 0x04:
            channel_id, schema_id, topic_len = struct.unpack_from('<HHI', data, body)
            channels[channel_id] = (bytes(data[body + 8:body + 8 + topic_len]).decode(), schemas.get(schema_id, ''))
        pos = body + length
    return out if ordered else sorted(out, key=lambda m: m.stamp_ns)
