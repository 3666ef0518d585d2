"""Offline-training ingestion from mcap: transitions per second, against rosbags read + deserialize.

Writes a state-based recording (humanoid-sized: 24-D proprio, 10-D task state, 12-D actions; episodes of
100 ticks) with the recorder's writer, then times, in the same run and on the same file:

  baseline   rosbags AnyReader: read + deserialize every message (generic rosbags path)
  assemble   bags.reader + fast decoders + the core TransitionAssembler (transitions rebuilt)
  ingest     bags.replay.feed_trainer into a LiveTrainer (assemble + normalize + replay-buffer store)

    python bench/bag_ingest.py [--transitions 50000] [--repeats 3]

Times are CPU seconds of this (single-threaded) process, so a busy shared machine skews them less than
wall time would; rates are per CPU second. The three timings are interleaved, repeat after repeat, and
the best of each is kept, so a burst of load on the machine hits them alike.
"""
from __future__ import annotations

import argparse
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))     # run from a checkout

from residual_rl_ros.bags.reader import read_messages  # noqa: E402
from residual_rl_ros.bags.replay import TRANSITION_TYPES, feed_trainer, transitions  # noqa: E402
from residual_rl_ros.bags.typestore import typestore  # noqa: E402
from residual_rl_ros.bags.writer import BagWriter  # noqa: E402
from residual_rl_ros.core.live_trainer import LiveTrainer  # noqa: E402
from residual_rl_ros.core.training.config import recipe_preset  # noqa: E402
from residual_rl_ros.core.transitions import TransitionAssembler  # noqa: E402
from residual_rl_ros.core.types import Episode, Observation  # noqa: E402

JOINTS, PROPRIO, TASK, EPISODE = 12, 24, 10, 100
TOPICS = {'/observation': 'residual_rl_ros/msg/Observation',
          '/action_records': 'residual_rl_ros/msg/PolicyActionRecord',
          '/episode_events': 'residual_rl_ros/msg/EpisodeEvent'}


class _Hold:
    chunk_length = 4

    def reset(self) -> None:
        pass

    def act(self, observation: Observation) -> np.ndarray:
        return np.zeros((4, JOINTS), np.float32)


def write_recording(folder: Path, count: int) -> int:
    """A bag with `count` ticks in SUCCESS-labelled episodes; returns the messages written."""
    store, t = typestore(), typestore().types
    rng = np.random.default_rng(0)
    names = [f'joint_{i}' for i in range(JOINTS)]
    stamp = t['builtin_interfaces/msg/Time']
    header = t['std_msgs/msg/Header']
    ns, written = 10**18, 0
    with BagWriter(folder, 'bench', TOPICS) as writer:
        def put(topic, msg):
            nonlocal ns, written
            writer.write(topic, store.serialize_cdr(msg, TOPICS[topic]), ns)
            ns, written = ns + 1_000_000, written + 1
        for tick in range(count):
            episode, k = tick // EPISODE + 1, tick % EPISODE
            if k == 0:
                put('/episode_events', t['residual_rl_ros/msg/EpisodeEvent'](
                    header=header(stamp=stamp(sec=ns // 10**9, nanosec=ns % 10**9), frame_id=''), event=0, source=1,
                    episode_id=episode, note='', evaluation=False))
            h = header(stamp=stamp(sec=ns // 10**9, nanosec=ns % 10**9), frame_id='')
            put('/observation', t['residual_rl_ros/msg/Observation'](
                header=h, oldest_sensor_stamp=h.stamp, joint_names=names, joint_position=rng.uniform(-1, 1, JOINTS),
                joint_velocity=rng.uniform(-1, 1, PROPRIO - JOINTS), task_state=rng.uniform(-1, 1, TASK),
                camera_names=[], images=[], stale_sensors=[]))
            put('/action_records', t['residual_rl_ros/msg/PolicyActionRecord'](
                header=h, episode_id=episode, tick=tick, joint_names=names, base_action=rng.uniform(-1, 1, JOINTS),
                residual=np.zeros(JOINTS), executed_action=rng.uniform(-1, 1, JOINTS), chunk_phase=k % 4,
                chunk_length=4, policy_version=0, intervention=False, exploration=True))
            if k == EPISODE - 1 or tick == count - 1:
                put('/episode_events', t['residual_rl_ros/msg/EpisodeEvent'](
                    header=h, event=1, source=1, episode_id=episode, note='', evaluation=False))
                ns += 5 * 10**9
    return written


def baseline(folder: Path) -> tuple[float, int]:
    from rosbags.highlevel import AnyReader
    start, count = time.process_time(), 0
    with AnyReader(sorted(p for p in folder.iterdir() if p.is_dir())) as reader:
        for connection, _, raw in reader.messages():
            reader.deserialize(raw, connection.msgtype)
            count += 1
    return time.process_time() - start, count


def assemble(folder: Path) -> tuple[float, int]:
    start = time.process_time()
    assembler = TransitionAssembler(lambda a: np.minimum(np.maximum(a, -1.0), 1.0))
    count = 0
    for batch in transitions(read_messages([folder], TRANSITION_TYPES), assembler):
        count += len(batch)
        assembler.ended.clear()
    return time.process_time() - start, count


def ingest(folder: Path, run_dir: Path) -> tuple[float, int]:
    rng = np.random.default_rng(1)
    demos = [Episode(proprio=rng.uniform(-1, 1, (11, PROPRIO)).astype(np.float32),
                     task_state=rng.uniform(-1, 1, (11, TASK)).astype(np.float32),
                     actions=rng.uniform(-1, 1, (10, JOINTS)).astype(np.float32), success=True) for _ in range(3)]
    run_dir.mkdir(parents=True, exist_ok=True)
    trainer = LiveTrainer.create(run_dir, demos, _Hold(), recipe_preset('cpu', 0), [], EPISODE, 10**9)
    start = time.process_time()
    stats = feed_trainer(trainer, [folder])
    return time.process_time() - start, stats.added


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument('--transitions', type=int, default=50_000)
    parser.add_argument('--repeats', type=int, default=3, help='best of this many timings per figure')
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        folder = Path(tmp) / 'bags'
        t0 = time.process_time()
        messages = write_recording(folder, args.transitions)
        size = sum(f.stat().st_size for f in folder.rglob('*.mcap'))
        print(f'recording: {messages} messages, {size / 2**20:.1f} MiB mcap, '
              f'written in {time.process_time() - t0:.1f} s')
        timings = [(baseline(folder), assemble(folder), ingest(folder, Path(tmp) / f'run{i}'))
                   for i in range(args.repeats)]
        base, ours, full = (min(column) for column in zip(*timings))
    base_tps = args.transitions / base[0]
    print(f'baseline  rosbags read+deserialize: {base[1] / base[0]:>9,.0f} msgs/s = {base_tps:>8,.0f} ticks/s')
    print(f'assemble  read+decode+assembler:    {ours[1] / ours[0]:>9,.0f} transitions/s  ({ours[1]} transitions, '
          f'x{ours[1] / ours[0] / base_tps:.2f} baseline)')
    print(f'ingest    + LiveTrainer store:      {full[1] / full[0]:>9,.0f} transitions/s  ({full[1]} stored, '
          f'x{full[1] / full[0] / base_tps:.2f} baseline; goal >= 20,000)')


if __name__ == '__main__':
    main()
