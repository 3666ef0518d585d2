"""Core episode events <-> residual_rl_ros/EpisodeEvent messages."""
from __future__ import annotations

from builtin_interfaces.msg import Time

from residual_rl_ros.core.episodes import EpisodeEvent, EventKind, EventSource
from residual_rl_ros.msg import EpisodeEvent as EpisodeEventMsg


def to_msg(event: EpisodeEvent, stamp: Time) -> EpisodeEventMsg:
    msg = EpisodeEventMsg(event=int(event.kind), source=int(event.source), episode_id=event.episode_id,
                          note=event.note, evaluation=event.evaluation)
    msg.header.stamp = stamp
    return msg


def from_msg(msg: EpisodeEventMsg) -> EpisodeEvent:
    """ValueError naming the field when the message carries an unknown event or source."""
    try:
        kind, source = EventKind(msg.event), EventSource(msg.source)
    except ValueError as exc:
        raise ValueError(f'EpisodeEvent with unknown event/source ({msg.event}, {msg.source})') from exc
    return EpisodeEvent(kind, source, msg.episode_id, msg.note, bool(msg.evaluation))
