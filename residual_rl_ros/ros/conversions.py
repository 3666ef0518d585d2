"""Our messages <-> core types: observations, action records, actor weights, stamps."""
from __future__ import annotations

import numpy as np
from builtin_interfaces.msg import Time

from residual_rl_ros.core import image_codec
from residual_rl_ros.core.actor_export import ActorWeights
from residual_rl_ros.core.transitions import ActionRecord
from residual_rl_ros.core.types import Observation
from residual_rl_ros.msg import Observation as ObservationMsg
from residual_rl_ros.msg import PolicyActionRecord, PolicyWeights


def stamp_ns(stamp: Time) -> int:
    return int(stamp.sec) * 1_000_000_000 + int(stamp.nanosec)


def ns_to_stamp(ns: int) -> Time:
    return Time(sec=int(ns // 1_000_000_000), nanosec=int(ns % 1_000_000_000))


def observation_from_msg(msg: ObservationMsg) -> Observation:
    """Core observation: proprio = positions (+ velocities when present), images decoded to RGB."""
    proprio = np.asarray(msg.joint_position, np.float32)
    if len(msg.joint_velocity):
        proprio = np.concatenate([proprio, np.asarray(msg.joint_velocity, np.float32)])
    images = {}
    for name, image in zip(msg.camera_names, msg.images):
        array = image_codec.decode(image.data, image.height, image.width, image.step, image.encoding,
                                   bool(image.is_bigendian))
        images[name] = image_codec.to_rgb8(array, image.encoding)
    return Observation(proprio=proprio, task_state=np.asarray(msg.task_state, np.float32), images=images)


def record_from_msg(msg: PolicyActionRecord) -> ActionRecord:
    return ActionRecord(episode_id=int(msg.episode_id), tick=int(msg.tick),
                        observation_stamp_ns=stamp_ns(msg.header.stamp),
                        base_action=np.asarray(msg.base_action, np.float64),
                        executed_action=np.asarray(msg.executed_action, np.float64),
                        chunk_phase=int(msg.chunk_phase), chunk_length=int(msg.chunk_length),
                        policy_version=int(msg.policy_version), intervention=bool(msg.intervention))


def weights_to_msg(weights: ActorWeights, stamp: Time) -> PolicyWeights:
    msg = PolicyWeights(version=int(weights.version), format=weights.format, sha256=weights.sha256,
                        config_json=weights.config_json)
    msg.data = weights.data
    msg.header.stamp = stamp
    return msg


def weights_from_msg(msg: PolicyWeights) -> ActorWeights:
    return ActorWeights(version=int(msg.version), sha256=msg.sha256, config_json=msg.config_json,
                        data=bytes(msg.data), format=msg.format)
