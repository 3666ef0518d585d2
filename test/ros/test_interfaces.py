"""Our interfaces: fields, constants shared with the core, and a serialization round trip."""
import numpy as np
from rclpy.serialization import deserialize_message, serialize_message

from residual_rl_ros.core.episodes import EventKind, EventSource
from residual_rl_ros.msg import (BaseAction, EpisodeEvent, Observation, PolicyActionRecord, PolicyWeights,
                                 TrainerStatus)
from residual_rl_ros.srv import LabelEpisode


def test_event_constants_match_core_enums() -> None:
    for kind in EventKind:
        assert getattr(EpisodeEvent, kind.name) == kind.value
    for source in EventSource:
        assert getattr(EpisodeEvent, f'SOURCE_{source.name}') == source.value


def test_policy_action_record_round_trip() -> None:
    msg = PolicyActionRecord(episode_id=3, tick=99, joint_names=['a', 'b'], base_action=[0.1, 0.2],
                             residual=[0.01, -0.02], executed_action=[0.11, 0.18], chunk_phase=2,
                             chunk_length=8, policy_version=4, intervention=False, exploration=True)
    back = deserialize_message(serialize_message(msg), PolicyActionRecord)
    assert back == msg


def test_weights_and_status_fields() -> None:
    payload = bytes(range(256)) * 4
    msg = PolicyWeights(version=2, format=PolicyWeights.FORMAT_SAFETENSORS, sha256='ab' * 32,
                        config_json='{}', data=payload)
    back = deserialize_message(serialize_message(msg), PolicyWeights)
    assert bytes(back.data) == payload and back.format == 'safetensors'
    status = TrainerStatus(state=TrainerStatus.STATE_TRAINING, success_rate=float('nan'))
    assert np.isnan(deserialize_message(serialize_message(status), TrainerStatus).success_rate)


def test_observation_and_base_action_carry_images_and_phase() -> None:
    obs = Observation(joint_names=['j'], joint_position=[0.5], camera_names=['head'], stale_sensors=['wrist'])
    assert deserialize_message(serialize_message(obs), Observation).camera_names == ['head']
    action = BaseAction(joint_names=['j'], action=[1.0], chunk_phase=3, chunk_length=4)
    assert deserialize_message(serialize_message(action), BaseAction).chunk_phase == 3
    assert LabelEpisode.Request(event=EpisodeEvent.SUCCESS).event == 1
