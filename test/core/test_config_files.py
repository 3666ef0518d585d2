"""Every shipped config file names only real parameters of real nodes, with valid values."""
import dataclasses
from pathlib import Path

import pytest
import yaml

from residual_rl_ros.bringup.graphs import GRAPHS
from residual_rl_ros.core import node_params
from residual_rl_ros.core.config_fields import from_dict
from residual_rl_ros.core.joint_limits import parse_joint_limits

ROOT = Path(__file__).resolve().parents[2]
PARAMS_BY_NODE = {
    'sim_robot': node_params.SimRobotParams, 'ingestion': node_params.IngestionParams,
    'base_policy': node_params.BasePolicyParams, 'residual_policy': node_params.ResidualPolicyParams,
    'safety_limit': node_params.SafetyLimitParams, 'trainer': node_params.TrainerParams,
    'reward_button': node_params.RewardButtonParams, 'recorder': node_params.RecorderParams,
    'bag_player': node_params.BagPlayerParams, 'operator_ui': node_params.OperatorUiParams,
}


@pytest.mark.parametrize('graph', sorted(GRAPHS))
def test_graph_params_file_matches_node_dataclasses(graph: str) -> None:
    document = yaml.safe_load((ROOT / 'config' / f'{graph}.yaml').read_text())
    graph_nodes = {n.name for n in GRAPHS[graph].nodes}
    assert set(document) <= graph_nodes, f'{graph}.yaml configures nodes not in the graph'
    for node, section in document.items():
        values = dict(section['ros__parameters'])
        for name in next(n for n in GRAPHS[graph].nodes if n.name == node).parameter_args:
            assert name not in values, f'{node}.{name} comes from the launch argument'
        from_dict(PARAMS_BY_NODE[node], values)


@pytest.mark.parametrize('graph', sorted(GRAPHS))
def test_safety_limits_cover_the_command_joints(graph: str) -> None:
    document = yaml.safe_load((ROOT / 'config' / f'{graph}.yaml').read_text())
    safety = document['safety_limit']['ros__parameters']
    limits = yaml.safe_load((ROOT / safety['limits_file']).read_text())['joint_limits']
    parsed = parse_joint_limits(limits, safety['joint_names'])
    assert list(parsed.joint_names) == safety['joint_names']
    if 'base_policy' in document:
        assert document['base_policy']['ros__parameters']['joint_names'] == safety['joint_names']


def test_every_node_has_a_params_class() -> None:
    nodes = {p.stem for p in (ROOT / 'residual_rl_ros' / 'nodes').glob('*.py') if p.stem != '__init__'}
    assert nodes <= set(PARAMS_BY_NODE) | {'trainer'}
    for cls in PARAMS_BY_NODE.values():
        for field in dataclasses.fields(cls):
            assert field.metadata.get('description'), f'{cls.__name__}.{field.name} has no description'
