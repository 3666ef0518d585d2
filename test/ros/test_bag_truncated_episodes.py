"""A bag that ends in a truncated (or still open) split: the episodes that ended in its readable part are
finished before the error, so a trainer backfilling from a live recording loses no terminal transition."""
from pathlib import Path

import pytest

from bag_factory import write_bag
from residual_rl_ros.bags import decode
from residual_rl_ros.bags.reader import BagReadError, read_messages
from residual_rl_ros.bags.replay import transitions
from residual_rl_ros.core.episodes import EventKind
from residual_rl_ros.core.transitions import TransitionAssembler


def test_episodes_ended_before_the_truncation_are_finished_then_the_error_is_raised(tmp_path: Path) -> None:
    write_bag(tmp_path, episodes=3, steps=8)
    recorded = list(read_messages([tmp_path]))
    cut = next(i for i, m in enumerate(recorded) if m.msgtype == decode.EPISODE_EVENT
               and decode.decode_event(m.data).kind == EventKind.SUCCESS) + 1

    def truncated():
        yield from recorded[:cut]
        raise BagReadError(f'{tmp_path}/rec_0000/rec_0000.mcap: truncated chunk')

    # a relabel window longer than the bag: only the end of the readable part can finish episode 1
    assembler = TransitionAssembler(lambda a: a, relabel_window_s=3600.0)
    got, ended = [], []
    with pytest.raises(BagReadError, match='rec_0000.mcap: truncated chunk'):
        for batch in transitions(truncated(), assembler):
            got += batch
            ended += assembler.ended
            assembler.ended.clear()
    assert [e.episode_id for e in ended] == [1] and ended[0].kind == EventKind.SUCCESS
    assert len(got) == 8 and got[-1].terminated and got[-1].reward == 1.0     # the terminal step is there
