"""Bag format without a graph: what we write, an independent reader (rosbags AnyReader) reads back intact;
a killed writer leaves a readable bag; a cut or foreign file is named in the error; replay training from a
bag checkpoints and resumes without duplicates."""
from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pytest
import yaml
from rosbags.highlevel import AnyReader

from bag_factory import TOPICS, all_types_messages, demos, messages, write_bag
from residual_rl_ros.bags import decode
from residual_rl_ros.bags.reader import BagReadError, read_messages, storage_files
from residual_rl_ros.bags.replay import feed_trainer, transitions
from residual_rl_ros.bags.typestore import typestore
from residual_rl_ros.bags.writer import BagWriter
from residual_rl_ros.core.demos import save_episodes
from residual_rl_ros.core.transitions import TransitionAssembler

ROOT = Path(__file__).resolve().parents[2]


@pytest.mark.parametrize('storage', ['mcap', 'sqlite3'])
def test_every_message_reads_back_intact_with_an_independent_reader(tmp_path: Path, storage: str) -> None:
    written = all_types_messages()
    event_msgs, _ = messages(episodes=1, steps=3)
    topics = {topic: msgtype for topic, msgtype, _ in written} | TOPICS
    with BagWriter(tmp_path, 'rec', topics, storage=storage) as writer:
        for i, (topic, _, raw) in enumerate(written):
            writer.write(topic, raw, 1000 + i)
        for i, (topic, raw, _) in enumerate(event_msgs):
            writer.write(topic, raw, 2000 + i)
    with AnyReader([tmp_path / 'rec_0000']) as reader:      # its own typestore: definitions from the bag
        got = [(c.topic, c.msgtype, bytes(raw)) for c, _, raw in reader.messages()]
        definitions = {c.msgtype: c.msgdef.data for c in reader.connections}
        decoded = {}
        for c, _, raw in reader.messages():
            decoded.setdefault(c.topic, reader.deserialize(raw, c.msgtype))    # first one of each topic
    expected = [(topic, msgtype, bytes(raw)) for topic, msgtype, raw in written]
    expected += [(topic, TOPICS[topic], bytes(raw)) for topic, raw, _ in event_msgs]
    assert got == expected
    assert all(definitions[t] for t in topics.values()), 'a message definition is missing from the bag'
    assert decoded['/policy_weights'].sha256 == 'ab' * 32 and len(decoded['/policy_weights'].data) == 3000
    assert list(decoded['/observation'].images[0].data) == list(range(18))
    assert decoded['/trainer_status'].message == 'ok'


def _varied_messages(rng: np.random.Generator) -> list[tuple[str, bytes]]:
    """Observations and records whose shape changes from one to the next (frame_id, joints, velocities, task
    state, stale sensors) and comes back, so the decoders' kept layouts must be checked and replaced."""
    t, store = typestore().types, typestore()
    out = []
    for frame_id, joints, velocity, task, stale in [('', 2, 2, 3, []), ('', 2, 2, 3, []), ('world', 2, 2, 3, []),
                                                    ('', 3, 0, 0, []), ('', 2, 2, 3, ['cam']), ('', 2, 2, 3, []),
                                                    ('ab', 12, 12, 10, []), ('', 2, 2, 3, ['j', 'k'])]:
        stamp = t['builtin_interfaces/msg/Time'](sec=int(rng.integers(0, 2**31)), nanosec=int(rng.integers(0, 10**9)))
        header = t['std_msgs/msg/Header'](stamp=stamp, frame_id=frame_id)
        names = [f'joint_{i}' * (i + 1) for i in range(joints)]
        out.append((decode.OBSERVATION, store.serialize_cdr(t[decode.OBSERVATION](
            header=header, oldest_sensor_stamp=stamp, joint_names=names, joint_position=rng.normal(size=joints),
            joint_velocity=rng.normal(size=velocity), task_state=rng.normal(size=task), camera_names=[],
            images=[], stale_sensors=stale), decode.OBSERVATION)))
        out.append((decode.ACTION_RECORD, store.serialize_cdr(t[decode.ACTION_RECORD](
            header=header, episode_id=int(rng.integers(0, 2**32)), tick=int(rng.integers(0, 2**63)),
            joint_names=names, base_action=rng.normal(size=joints), residual=rng.normal(size=joints * (task > 0)),
            executed_action=rng.normal(size=joints), chunk_phase=int(rng.integers(0, 2**16)), chunk_length=16,
            policy_version=int(rng.integers(0, 2**32)), intervention=bool(rng.integers(0, 2)), exploration=True),
            decode.ACTION_RECORD)))
    return out


def test_fast_decoders_agree_with_rosbags() -> None:
    msgs, _ = messages(episodes=1, steps=4)
    varied = _varied_messages(np.random.default_rng(0))
    for msgtype, raw in [(TOPICS[topic], raw) for topic, raw, _ in msgs] + varied + varied[::-1]:
        full = decode.deserialize(raw, msgtype)
        stamp = full.header.stamp.sec * 10**9 + full.header.stamp.nanosec
        if msgtype == decode.OBSERVATION:
            decoded, obs, stale = decode.decode_observation(raw)
            assert decoded == stamp and stale == bool(full.stale_sensors)
            np.testing.assert_array_equal(obs.proprio, np.concatenate([full.joint_position, full.joint_velocity])
                                          .astype(np.float32))
            np.testing.assert_array_equal(obs.task_state, full.task_state.astype(np.float32))
        elif msgtype == decode.ACTION_RECORD:
            record = decode.decode_record(raw)
            assert (record.episode_id, record.tick, record.observation_stamp_ns, record.chunk_phase,
                    record.chunk_length, record.policy_version, record.intervention) == \
                (full.episode_id, full.tick, stamp, full.chunk_phase, full.chunk_length, full.policy_version,
                 full.intervention)
            np.testing.assert_array_equal(record.base_action, full.base_action)
            np.testing.assert_array_equal(record.executed_action, full.executed_action)
        elif msgtype == decode.EPISODE_EVENT:
            event = decode.decode_event(raw)
            assert (event.kind, event.source, event.episode_id, event.note, event.evaluation) == \
                (full.event, full.source, full.episode_id, full.note, full.evaluation)
    _, obs, _ = decode.decode_observation(all_types_messages()[0][2])     # with images: the generic path
    assert obs.images['front'].shape == (2, 3, 3) and len(obs.proprio) == 4


def test_events_recorded_before_the_evaluation_field_still_decode() -> None:
    t, store = typestore().types, typestore()
    header = t['std_msgs/msg/Header'](stamp=t['builtin_interfaces/msg/Time'](sec=1, nanosec=2), frame_id='f')
    for note, evaluation in (('', True), ('relabelled', False), ('abc', True)):
        raw = store.serialize_cdr(t[decode.EPISODE_EVENT](header=header, event=1, source=0, episode_id=7, note=note,
                                                          evaluation=evaluation), decode.EPISODE_EVENT)
        assert decode.decode_event(raw).evaluation == evaluation
        old = decode.decode_event(raw[:-1])           # the message as it was: it ended after `note`
        assert (old.episode_id, old.note, old.evaluation) == (7, note, False)
    with pytest.raises(ValueError, match='unknown event/source'):
        decode.decode_event(store.serialize_cdr(t[decode.EPISODE_EVENT](
            header=header, event=99, source=0, episode_id=7, note='', evaluation=False), decode.EPISODE_EVENT))


_KILLED_WRITER = """
import sys, time
sys.path.insert(0, {test_dir!r})
from bag_factory import TOPICS, messages
from residual_rl_ros.bags.writer import BagWriter
msgs, _ = messages(episodes=200, steps=10)
writer = BagWriter({folder!r}, 'rec', TOPICS, flush_period_s=0.05)
for i, (topic, raw, ns) in enumerate(msgs):
    writer.write(topic, raw, ns)
    if i == 300:
        print('flushed', flush=True)
    time.sleep(0.0005)
"""


def test_sigkilled_writer_leaves_a_readable_bag(tmp_path: Path) -> None:
    script = _KILLED_WRITER.format(test_dir=str(Path(__file__).parent), folder=str(tmp_path / 'bags'))
    env = dict(os.environ, PYTHONPATH=os.pathsep.join([str(ROOT), os.environ.get('PYTHONPATH', '')]))
    proc = subprocess.Popen([sys.executable, '-c', script], stdout=subprocess.PIPE, text=True, env=env)
    assert proc.stdout.readline().strip() == 'flushed'
    time.sleep(0.3)
    proc.send_signal(signal.SIGKILL)
    proc.wait(timeout=10)
    folder = tmp_path / 'bags' / 'rec_0000'
    assert (folder / 'rec_0000.mcap').read_bytes()[-8:] == b'\x89MCAP0\r\n'     # the provisional footer
    with AnyReader([folder]) as reader:
        count = sum(1 for _ in reader.messages())
    assert count >= 300
    sent, _ = messages(episodes=200, steps=10)
    got = [bytes(m.data) for m in read_messages([tmp_path / 'bags'])]
    assert got == [bytes(raw) for _, raw, _ in sent[:len(got)]]


def test_truncated_bag_names_the_file_and_keeps_earlier_data(tmp_path: Path) -> None:
    sent, _ = messages(episodes=4, steps=10)
    writer = BagWriter(tmp_path, 'rec', TOPICS)
    for i, (topic, raw, ns) in enumerate(sent):
        writer.write(topic, raw, ns)
        if i % 20 == 19:
            writer.flush()                     # one chunk per 20 messages
    writer.close()
    path = tmp_path / 'rec_0000' / 'rec_0000.mcap'
    data = path.read_bytes()
    path.write_bytes(data[:len(data) * 2 // 3])
    got = []
    with pytest.raises(BagReadError, match=str(path)):
        for message in read_messages([tmp_path]):
            got.append(bytes(message.data))
    assert len(got) >= 20 and got == [bytes(raw) for _, raw, _ in sent[:len(got)]]
    (tmp_path / 'notes.mcap').write_bytes(b'not a bag at all')
    with pytest.raises(BagReadError, match='notes.mcap'):
        list(read_messages([tmp_path / 'notes.mcap']))
    with pytest.raises(BagReadError, match='nothing_here: no such bag'):
        storage_files([tmp_path / 'nothing_here'])


def test_many_files_read_in_time_order_whether_their_times_overlap_or_follow(tmp_path: Path) -> None:
    sent, _ = messages(episodes=3, steps=5)
    later = [(topic, raw, ns + 10**12) for topic, raw, ns in sent]
    for prefix, part in (('odd', sent[1::2]), ('even', sent[0::2]), ('later', later)):   # odd/even overlap
        with BagWriter(tmp_path, prefix, TOPICS) as writer:
            for i, (topic, raw, ns) in enumerate(part):
                writer.write(topic, raw, ns)
                if i % 4 == 3:
                    writer.flush()                              # several chunks per file
    got = [(m.stamp_ns, bytes(m.data)) for m in read_messages([tmp_path])]
    assert [ns for ns, _ in got] == sorted(ns for ns, _ in got) and len(got) == 2 * len(sent)
    with AnyReader(sorted(p for p in tmp_path.iterdir() if p.is_dir())) as reader:
        assert sorted(got) == sorted((ns, bytes(raw)) for _, ns, raw in reader.messages())
    assert [m.stamp_ns for m in read_messages([tmp_path / 'later_0000'])] == [ns for _, _, ns in later]


def test_assembler_rebuilds_every_recorded_transition(tmp_path: Path) -> None:
    _, expected = write_bag(tmp_path, episodes=4, steps=6)
    assembler = TransitionAssembler(lambda a: a)
    rebuilt = []
    for batch in transitions(read_messages([tmp_path]), assembler):
        rebuilt += batch
        assembler.ended.clear()
    assert len(rebuilt) == expected == len({t.source for t in rebuilt})
    assert sum(t.terminated for t in rebuilt) == 2 and sum(t.reward for t in rebuilt) == 2


def _trainer_args(tmp_path: Path, run: str, *extra: str) -> list[str]:
    return ['--bags', str(tmp_path / 'bags'), '--run-dir', str(tmp_path / run), '--demos', str(tmp_path / 'demos.npz'),
            '--base', 'bag_factory:hold_policy', '--recipe-preset', 'tiny', '--max-episode-steps', '20', *extra]


def test_replay_train_checkpoints_and_a_resume_adds_only_what_is_missing(tmp_path: Path, capsys) -> None:
    from residual_rl_ros.apps import replay_train
    from residual_rl_ros.core.base_policy import load_base_policy
    from residual_rl_ros.core.demos import load_episodes
    from residual_rl_ros.core.live_trainer import LiveTrainer
    from residual_rl_ros.nodes.trainer import load_recipe
    save_episodes(tmp_path / 'demos.npz', demos(np.random.default_rng(0)))
    _, expected = write_bag(tmp_path / 'bags', episodes=4, steps=8)
    assert replay_train.main(_trainer_args(tmp_path, 'run', '--warmup-env-steps', str(expected - 2))) == 0
    out = capsys.readouterr()
    assert f'{expected} stored' in out.out and 'transitions/s' in out.out and '100.0%' in out.err
    state = json.loads((tmp_path / 'run' / 'checkpoint' / 'live_state.json').read_text())
    assert state['stored'] == expected and (tmp_path / 'run' / 'actor_latest.safetensors').exists()
    assert replay_train.main(_trainer_args(tmp_path, 'run', '--warmup-env-steps', str(expected - 2))) == 0
    assert ' 0 stored' in capsys.readouterr().out

    # A crash after a checkpoint: the trainer held half the transitions; the bags bring back the rest.
    params = replay_train.trainer_params(replay_train.parse_args(_trainer_args(tmp_path, 'crashed')))
    demo_episodes, base = load_episodes(tmp_path / 'demos.npz'), load_base_policy('bag_factory:hold_policy')
    trainer = LiveTrainer.create(tmp_path / 'crashed', demo_episodes, base, load_recipe(params), [], 20, 1000)
    assembler = TransitionAssembler(lambda a: trainer.learner.action_normalizer.normalize(a).clip(-1, 1))
    rebuilt = [t for batch in transitions(read_messages([tmp_path / 'bags']), assembler) for t in batch]
    for t in rebuilt[:expected // 2]:
        trainer.add(t)
    trainer.checkpoint()
    resumed = LiveTrainer.create(tmp_path / 'crashed', demo_episodes, base, load_recipe(params), [], 20, 1000)
    assert resumed.env_steps == expected // 2
    stats = feed_trainer(resumed, [tmp_path / 'bags'])
    assert stats.added == expected - expected // 2 and resumed.env_steps == expected
    (tmp_path / 'uncrashed').mkdir()
    uncrashed = LiveTrainer.create(tmp_path / 'uncrashed', demo_episodes, base, load_recipe(params), [], 20, 1000)
    feed_trainer(uncrashed, [tmp_path / 'bags'])
    size = len(uncrashed.buffers['online'])
    assert len(resumed.buffers['online']) == size
    np.testing.assert_array_equal(resumed.buffers['online'].arrays['state'][:size],
                                  uncrashed.buffers['online'].arrays['state'][:size])


def test_replay_train_makes_as_many_critic_updates_as_asked(tmp_path: Path, capsys) -> None:
    from residual_rl_ros.apps import replay_train
    from residual_rl_ros.core.checkpoint import checkpoint_config
    save_episodes(tmp_path / 'demos.npz', demos(np.random.default_rng(0)))
    _, expected = write_bag(tmp_path / 'bags', episodes=4, steps=8)
    args = _trainer_args(tmp_path, 'run', '--warmup-env-steps', '5', '--critic-updates', '40')
    assert replay_train.main(args) == 0
    config = checkpoint_config(tmp_path / 'run' / 'checkpoint' / 'learner.safetensors')
    assert config['counters']['critic_updates'] == 40 and f'{expected} stored' in capsys.readouterr().out
    assert replay_train.main(args) == 0                  # resumed: the target is reached, nothing more to do
    assert checkpoint_config(tmp_path / 'run' / 'checkpoint' / 'learner.safetensors')['counters'][
        'critic_updates'] == 40


def test_demos_import_from_joint_states_and_commands_of_another_tool(tmp_path: Path) -> None:
    from residual_rl_ros.apps import import_demos
    from residual_rl_ros.core.demos import load_episodes
    t, store = typestore().types, typestore()
    header = t['std_msgs/msg/Header'](stamp=t['builtin_interfaces/msg/Time'](sec=0, nanosec=0), frame_id='')
    topics = {'/joint_states': 'sensor_msgs/msg/JointState', '/arm/commands': 'std_msgs/msg/Float64MultiArray'}
    with BagWriter(tmp_path / 'teleop', 'teleop', topics) as writer:
        ns = 10**9
        for episode, steps in ((0, 5), (1, 4)):
            for k in range(steps + 1):
                position = np.array([k, 10 * episode + k, -k, 99.0])            # 'extra' joint is ignored
                writer.write('/joint_states', store.serialize_cdr(t['sensor_msgs/msg/JointState'](
                    header=header, name=['b', 'a', 'c', 'extra'], position=position, velocity=np.zeros(0),
                    effort=np.zeros(0)), topics['/joint_states']), ns)
                if k < steps:
                    writer.write('/arm/commands', store.serialize_cdr(t['std_msgs/msg/Float64MultiArray'](
                        layout=t['std_msgs/msg/MultiArrayLayout'](dim=[], data_offset=0),
                        data=np.array([k + 0.5, 0.0, 1.0])), topics['/arm/commands']), ns + 1000)
                ns += 50_000_000
            ns += 3 * 10**9                                                       # pause between episodes
    (tmp_path / 'map.yaml').write_text(yaml.safe_dump({
        'joint_states': {'topic': '/joint_states', 'joints': ['a', 'b', 'c']},
        'command': {'topic': '/arm/commands', 'joints': ['a', 'b', 'c']}, 'episodes': {'gap_s': 1.0}}))
    out = tmp_path / 'demos.npz'
    assert import_demos.main(['--bags', str(tmp_path / 'teleop'), '--mapping', str(tmp_path / 'map.yaml'),
                              '--out', str(out)]) == 0
    episodes = load_episodes(out)
    assert [len(ep.actions) for ep in episodes] == [5, 4] and all(ep.success for ep in episodes)
    np.testing.assert_array_equal(episodes[1].proprio[:, 0], 10 + np.arange(5))     # joint 'a' by name
    np.testing.assert_array_equal(episodes[0].actions[:, 0], np.arange(5) + 0.5)
    (tmp_path / 'bad.yaml').write_text(yaml.safe_dump({'joint_states': {'topic': '/joint_states'}}))
    assert import_demos.main(['--bags', str(tmp_path / 'teleop'), '--mapping', str(tmp_path / 'bad.yaml'),
                              '--out', str(out)]) == 2
