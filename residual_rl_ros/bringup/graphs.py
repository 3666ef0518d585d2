"""The node graphs this package ships, as plain data shared by launch files and the pip runner.

Topic names are relative so a namespace moves the whole graph. The command chain is
`action_proposal -> safety_limit -> commands` (remapped to the robot's controller topic).
"""
from __future__ import annotations

import dataclasses

PACKAGE = 'residual_rl_ros'
RESPAWN_DELAY_S = 1.0


@dataclasses.dataclass(frozen=True)
class Argument:
    """A launch argument: `name:=value` on the command line of both `ros2 launch` and the runner."""

    name: str
    default: str
    description: str
    share_relative: bool = False    # the default is a path under share/residual_rl_ros/


@dataclasses.dataclass(frozen=True)
class NodeEntry:
    """One node process. Remapping targets may name an argument as `$(arg)`."""

    executable: str
    name: str
    remappings: tuple[tuple[str, str], ...] = ()
    required: bool = False          # when it exits (for good), the whole graph shuts down
    respawn: bool = False           # restarted RESPAWN_DELAY_S after it exits (a crashed policy node comes back;
                                    # a required one only after a crash, not a clean exit or config error)
    parameter_args: tuple[str, ...] = ()   # arguments passed to the node as parameters of the same name


@dataclasses.dataclass(frozen=True)
class Graph:
    name: str
    description: str
    arguments: tuple[Argument, ...]
    nodes: tuple[NodeEntry, ...]


COMMON_ARGUMENTS = (
    Argument('namespace', '', 'Namespace for every node and topic of the graph'),
    Argument('log_level', 'info', 'Logging level of every node (debug, info, warn, error)'),
    Argument('run_dir', 'runs/latest', 'Folder for checkpoints, replay, bags and reports of this run'),
)
SIM_COMMANDS = ('commands', 'sim_robot/commands')
#: Records what rebuilds transitions (observations, action records, events, weights, status) to run_dir/bags.
RECORDER = NodeEntry('recorder', 'recorder', parameter_args=('run_dir',))


def _sim_graph(name: str, description: str, train: bool) -> Graph:
    nodes = [
        NodeEntry('sim_robot', 'sim_robot'),
        NodeEntry('ingestion', 'ingestion', respawn=True),
        NodeEntry('base_policy', 'base_policy', parameter_args=('run_dir',), respawn=True),
        NodeEntry('residual_policy', 'residual_policy', parameter_args=('run_dir',), respawn=True),
        NodeEntry('safety_limit', 'safety_limit', remappings=(SIM_COMMANDS,), respawn=True),
        NodeEntry('reward_button', 'reward_button', required=not train),
        NodeEntry('operator_ui', 'operator_ui'),
    ]
    if train:
        nodes.append(NodeEntry('trainer', 'trainer', required=True, respawn=True, parameter_args=('run_dir',)))
        nodes.append(RECORDER)
    return Graph(name, description, COMMON_ARGUMENTS + (_params_file(name),), tuple(nodes))


def _params_file(graph_name: str) -> Argument:
    return Argument('params_file', f'config/{graph_name}.yaml', 'Parameters YAML keyed by node name',
                    share_relative=True)


GRAPHS: dict[str, Graph] = {
    'humanoid_train': _sim_graph('humanoid_train', 'Train a residual live on the simulated GR-1 humanoid',
                                 train=True),
    'humanoid_eval': _sim_graph('humanoid_eval', 'Evaluate a trained residual on the simulated humanoid '
                                '(deterministic, no training)', train=False),
    'deploy': Graph(
        'deploy', 'Run base + residual on a real robot (no simulator, no training)',
        COMMON_ARGUMENTS + (
            _params_file('deploy'),
            Argument('joint_states_topic', '/joint_states', "The robot's sensor_msgs/JointState topic"),
            Argument('command_topic', '/forward_position_controller/commands',
                     "The robot controller's std_msgs/Float64MultiArray command topic"),
        ),
        (
            NodeEntry('ingestion', 'ingestion', remappings=(('joint_states', '$(joint_states_topic)'),),
                      respawn=True),
            NodeEntry('base_policy', 'base_policy', parameter_args=('run_dir',), respawn=True),
            NodeEntry('residual_policy', 'residual_policy', parameter_args=('run_dir',), respawn=True),
            NodeEntry('safety_limit', 'safety_limit', remappings=(('commands', '$(command_topic)'),), respawn=True),
            NodeEntry('reward_button', 'reward_button', required=True),
            NodeEntry('operator_ui', 'operator_ui'),
            RECORDER,
        )),
}


def argument_reference(value: str) -> str | None:
    """The argument name in a `$(name)` remapping target, else None."""
    if value.startswith('$(') and value.endswith(')'):
        return value[2:-1]
    return None
