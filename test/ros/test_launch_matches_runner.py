"""The launch files describe exactly the graph the pip runner starts (checked without `launch`)."""
from __future__ import annotations

import importlib.util
from pathlib import Path

import pytest

from launch_recorder import Recorded, recorded_launch_modules
from residual_rl_ros.bringup import runner
from residual_rl_ros.bringup.graphs import GRAPHS, PACKAGE

ROOT = Path(__file__).resolve().parents[2]
PREFIX = Path('/opt/prefix')


def _load_launch_file(graph: str):
    spec = importlib.util.spec_from_file_location(f'{graph}_launch', ROOT / 'launch' / f'{graph}.launch.py')
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module.generate_launch_description()


def _evaluate(value, args: dict[str, str]) -> str:
    kind = type(value).__name__
    if kind == 'LaunchConfiguration':
        return args[value.args[0]]
    if kind == 'PathJoinSubstitution':
        return '/'.join(_evaluate(part, args) for part in value.args[0])
    if kind == 'FindPackageShare':
        return str(PREFIX / 'share' / value.args[0])
    assert isinstance(value, str), value
    return value


def _launch_view(description: Recorded, overrides: dict[str, str]) -> tuple[dict, list[dict]]:
    actions = description.args[0]
    declared = [a for a in actions if type(a).__name__ == 'DeclareLaunchArgument']
    args = {a.args[0]: _evaluate(a.kwargs['default_value'], {}) for a in declared}
    args.update(overrides)
    nodes = []
    for action in actions:
        if type(action).__name__ != 'Node':
            continue
        kw = action.kwargs
        params_files = [_evaluate(p, args) for p in kw['parameters'] if not isinstance(p, dict)]
        param_values = {k: _evaluate(v, args) for p in kw['parameters'] if isinstance(p, dict) for k, v in p.items()}
        nodes.append({'executable': kw['executable'], 'name': kw['name'], 'package': kw['package'],
                      'namespace': _evaluate(kw['namespace'], args), 'params_files': params_files,
                      'params': param_values, 'log_level': _evaluate(kw['arguments'][2], args),
                      'remappings': [(s, _evaluate(t, args)) for s, t in kw['remappings']],
                      'respawn': kw['respawn']})
    return {a.args[0]: a for a in declared}, nodes


def _runner_view(plan: runner.ProcessPlan) -> dict:
    cmd = list(plan.cmd)
    view = {'executable': Path(cmd[0]).name, 'package': Path(cmd[0]).parent.name, 'namespace': '',
            'params_files': [], 'params': {}, 'remappings': [], 'respawn': plan.respawn}
    assert cmd[1] == '--ros-args'
    i = 2
    while i < len(cmd):
        flag, value = cmd[i], cmd[i + 1]
        if flag == '--log-level':
            view['log_level'] = value
        elif flag == '--params-file':
            view['params_files'].append(value)
        elif flag == '-p':
            key, _, val = value.partition(':=')
            view['params'][key] = val
        elif value.startswith('__node:='):
            view['name'] = value.split(':=')[1]
        elif value.startswith('__ns:='):
            view['namespace'] = value.split(':=')[1].strip('/')
        else:
            source, _, target = value.partition(':=')
            view['remappings'].append((source, target))
        i += 2
    return view


@pytest.mark.parametrize('graph', sorted(GRAPHS))
@pytest.mark.parametrize('overrides', [{}, {'namespace': 'robot1', 'log_level': 'debug', 'run_dir': '/tmp/r'}])
def test_launch_file_and_runner_start_the_same_nodes(graph: str, overrides: dict) -> None:
    with recorded_launch_modules():
        declared, launch_nodes = _launch_view(_load_launch_file(graph), overrides)
    plans = runner.plan(GRAPHS[graph], overrides, prefix=PREFIX)
    runner_nodes = [_runner_view(p) for p in plans]
    for node in launch_nodes:
        node['namespace'] = node['namespace'].strip('/')
    assert runner_nodes == launch_nodes
    assert all(n['package'] == PACKAGE for n in launch_nodes)


@pytest.mark.parametrize('graph', sorted(GRAPHS))
def test_launch_arguments_are_described_and_topics_relative(graph: str) -> None:
    with recorded_launch_modules():
        declared, nodes = _launch_view(_load_launch_file(graph), {})
    for name, action in declared.items():
        assert action.kwargs['description'].strip(), f'{graph}: argument {name} has no description'
    for node in nodes:
        assert node['params_files'] and node['params_files'][0].endswith(f'config/{graph}.yaml')
        for source, _ in node['remappings']:
            assert not source.startswith('/'), f'{node["name"]} remaps an absolute topic {source}'


def test_required_nodes_shut_the_launch_down() -> None:
    with recorded_launch_modules():
        description = _load_launch_file('humanoid_train')
    handlers = [a for a in description.args[0] if type(a).__name__ == 'RegisterEventHandler']
    targets = [h.args[0].kwargs['target_action'].kwargs['name'] for h in handlers]
    assert targets == [n.name for n in GRAPHS['humanoid_train'].nodes if n.required] == ['trainer']


def test_unknown_launch_argument_is_named() -> None:
    with pytest.raises(ValueError, match=r"no argument\(s\) \['speed'\]"):
        runner.plan(GRAPHS['humanoid_train'], {'speed': '2'}, prefix=PREFIX)
