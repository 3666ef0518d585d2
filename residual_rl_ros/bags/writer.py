"""Crash-tolerant rosbag2 writing of raw CDR bytes with `rosbags` (mcap by default, sqlite3 optional).

A recording is a series of *splits*, each a complete rosbag2 bag folder `<prefix>_<NNNN>/` that
`ros2 bag info/play` and rosbags read on their own. A split closes (full MCAP summary + metadata.yaml)
when it reaches `split_size_bytes` or `split_duration_s`.

Bounded loss on a crash: every `flush_period_s` the open split is made readable as it stands:

* mcap: the pending chunk is closed and written, followed by a DataEnd record and a footer without a
  summary (allowed by the MCAP spec; readers scan the data section), in a single `pwrite`; the next chunk
  overwrites that provisional footer. rosbags 0.11's McapWriter only closes chunks at 1 MiB, so this
  module drives its `close_chunk()` (pinned rosbags 0.11.9; a test guards the behaviour);
* sqlite3: the open transaction is committed;
* metadata.yaml is rewritten (atomically) with the counts so far.

So a SIGKILLed recorder loses at most the messages of the last `flush_period_s`. A kill in the middle of
the flush's own write can leave a torn last chunk; `reader.read_messages` still returns every complete
chunk before it and then names the file in its error.
"""
from __future__ import annotations

import io
import os
import time
from pathlib import Path
from typing import Mapping

from rosbags.rosbag2 import StoragePlugin, Writer
from rosbags.rosbag2.metadata import dump_qos_v9

from residual_rl_ros.bags.typestore import typestore

_MAGIC = b'\x89MCAP0\r\n'
# DataEnd (op 0x0F, crc 0) + Footer (op 0x02, summary_start 0, summary_offset_start 0, crc 0) + magic.
_PROVISIONAL_END = (b'\x0f' + (4).to_bytes(8, 'little') + bytes(4)
                    + b'\x02' + (20).to_bytes(8, 'little') + bytes(20) + _MAGIC)
_AUTO_CHUNK_BYTES = 2**20 - 256     # rosbags closes a chunk once it holds more than 1 MiB
STORAGES = {'mcap': StoragePlugin.MCAP, 'sqlite3': StoragePlugin.SQLITE3}


class _Staged:
    """Collects what McapWriter.close_chunk writes, with file offsets as if written at `base`."""

    def __init__(self, base: int) -> None:
        self.base, self.buffer = base, io.BytesIO()

    def write(self, data) -> int:
        return self.buffer.write(data)

    def tell(self) -> int:
        return self.base + self.buffer.tell()


class BagWriter:
    """Writes raw serialized messages of fixed topics into size/duration-limited, flushed splits."""

    def __init__(self, folder: str | Path, prefix: str, topics: Mapping[str, str], storage: str = 'mcap',
                 split_size_bytes: int = 256 * 2**20, split_duration_s: float = 600.0,
                 flush_period_s: float = 1.0) -> None:
        if storage not in STORAGES:
            raise ValueError(f'storage {storage!r} is not one of {sorted(STORAGES)}')
        if split_size_bytes < 1024 or split_duration_s <= 0 or flush_period_s <= 0:
            raise ValueError(f'need split_size_bytes >= 1024, split_duration_s > 0, flush_period_s > 0; got '
                             f'{split_size_bytes}, {split_duration_s}, {flush_period_s}')
        self.folder, self.prefix, self.topics = Path(folder), prefix, dict(topics)
        self.storage, self.split_size_bytes = storage, split_size_bytes
        self.split_duration_ns, self.flush_period_s = int(split_duration_s * 1e9), flush_period_s
        self.store = typestore()
        self.splits: list[Path] = []          # every split folder started, in order
        self.messages = 0                     # messages written (all splits)
        self._writer: Writer | None = None
        self._connections: dict = {}
        self._split_start_ns = 0
        self._last_ns = 0
        self._last_flush = time.monotonic()
        self.folder.mkdir(parents=True, exist_ok=True)

    @property
    def current(self) -> Path | None:
        """Folder of the open split, None when none is open."""
        return self.splits[-1] if self._writer is not None else None

    def write(self, topic: str, data: bytes | memoryview, stamp_ns: int) -> None:
        """Append one message (its raw CDR bytes); stamps are made non-decreasing (receive order)."""
        stamp_ns = max(int(stamp_ns), self._last_ns)
        if self._writer is None:
            self._open(stamp_ns)
        elif self._size() >= self.split_size_bytes or stamp_ns - self._split_start_ns >= self.split_duration_ns:
            self._close_split()
            self._open(stamp_ns)
        pending = self._pending_chunk_bytes()
        if pending and pending + len(data) > _AUTO_CHUNK_BYTES:
            self.flush()    # close the chunk ourselves, before rosbags would close it without a footer
        self._writer.write(self._connections[topic], stamp_ns, data)
        self._last_ns = stamp_ns
        self.messages += 1
        if self._pending_chunk_bytes() == 0 or time.monotonic() - self._last_flush >= self.flush_period_s:
            self.flush()    # (pending 0: rosbags closed a chunk bigger than 1 MiB; seal it at once)

    def flush(self) -> None:
        """Make everything written so far readable from the files alone (see the module docstring)."""
        self._last_flush = time.monotonic()
        if self._writer is None:
            return
        storage = self._writer.storage
        if self.storage == 'sqlite3':
            storage.conn.commit()
        else:
            real = storage.bio
            real.flush()
            base, data = real.tell(), b''
            if storage.chunk.bio.tell():
                staged = storage.bio = _Staged(base)
                try:
                    storage.close_chunk()
                finally:
                    storage.bio = real
                data = staged.buffer.getvalue()
            os.pwrite(real.fileno(), data + _PROVISIONAL_END, base)
            real.seek(base + len(data))
        self._write_metadata()

    def close(self) -> None:
        """Close the open split with its full summary and metadata.yaml."""
        if self._writer is not None:
            self._close_split()

    def __enter__(self) -> 'BagWriter':
        return self

    def __exit__(self, *exc) -> None:
        self.close()

    def _open(self, stamp_ns: int) -> None:
        path = self.folder / f'{self.prefix}_{len(self.splits):04d}'
        self._writer = Writer(path, version=9, storage_plugin=STORAGES[self.storage])
        self._writer.open()
        self.splits.append(path)
        self._connections = {topic: self._writer.add_connection(topic, msgtype, typestore=self.store)
                             for topic, msgtype in self.topics.items()}
        self._split_start_ns = stamp_ns
        self.flush()

    def _close_split(self) -> None:
        writer, self._writer = self._writer, None
        writer.close()

    def _pending_chunk_bytes(self) -> int:
        return -1 if self.storage == 'sqlite3' else self._writer.storage.chunk.bio.tell()

    def _size(self) -> int:
        storage = self._writer.storage
        if self.storage == 'sqlite3':
            return storage.path.stat().st_size
        return storage.bio.tell() + storage.chunk.bio.tell()

    def _write_metadata(self) -> None:
        """metadata.yaml as rosbags writes it on close, with the counts so far (atomic replace)."""
        import yaml
        w = self._writer
        count = sum(w.counts.values())
        start = w.min_timestamp if count else 0
        duration = max(0, w.max_timestamp - w.min_timestamp) if count else 0
        name = w.storage.path.name
        info = {'version': w.version, 'storage_identifier': self.storage, 'relative_file_paths': [name],
                'duration': {'nanoseconds': duration}, 'starting_time': {'nanoseconds_since_epoch': start},
                'message_count': count,
                'topics_with_message_count': [
                    {'topic_metadata': {'name': c.topic, 'type': c.msgtype, 'serialization_format': 'cdr',
                                        'offered_qos_profiles': dump_qos_v9(c.ext.offered_qos_profiles),
                                        'type_description_hash': c.digest},
                     'message_count': w.counts[c.id]} for c in w.connections],
                'compression_format': '', 'compression_mode': '',
                'files': [{'path': name, 'starting_time': {'nanoseconds_since_epoch': start},
                           'duration': {'nanoseconds': duration}, 'message_count': count}],
                'custom_data': {'residual_rl_ros.state': 'recording'}, 'ros_distro': 'rosbags'}
        tmp = w.metapath.with_suffix('.yaml.tmp')
        tmp.write_text(yaml.safe_dump({'rosbag2_bagfile_information': info}, sort_keys=False))
        tmp.replace(w.metapath)
