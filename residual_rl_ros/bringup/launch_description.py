"""Turn a graph of `graphs.py` into a launch_ros LaunchDescription (used by the files in launch/).

Requires the ROS 2 `launch` and `launch_ros` packages (a ROS install); the venv path uses runner.py.
"""
from __future__ import annotations

from launch import LaunchDescription
from launch.actions import DeclareLaunchArgument, EmitEvent, RegisterEventHandler
from launch.event_handlers import OnProcessExit
from launch.events import Shutdown
from launch.substitutions import LaunchConfiguration, PathJoinSubstitution
from launch_ros.actions import Node
from launch_ros.substitutions import FindPackageShare

from residual_rl_ros.bringup.graphs import GRAPHS, PACKAGE, RESPAWN_DELAY_S, Argument, NodeEntry, argument_reference
from residual_rl_ros.bringup.runner import CONFIG_ERROR_EXIT


def _declare(argument: Argument) -> DeclareLaunchArgument:
    default = PathJoinSubstitution([FindPackageShare(PACKAGE), argument.default]) \
        if argument.share_relative else argument.default
    return DeclareLaunchArgument(argument.name, default_value=default, description=argument.description)


def _node(entry: NodeEntry) -> Node:
    remappings = []
    for source, target in entry.remappings:
        reference = argument_reference(target)
        remappings.append((source, LaunchConfiguration(reference) if reference else target))
    parameters = [LaunchConfiguration('params_file')]
    if entry.parameter_args:
        parameters.append({name: LaunchConfiguration(name) for name in entry.parameter_args})
    return Node(package=PACKAGE, executable=entry.executable, name=entry.name,
                namespace=LaunchConfiguration('namespace'), parameters=parameters, remappings=remappings,
                arguments=['--ros-args', '--log-level', LaunchConfiguration('log_level')], output='screen',
                respawn=entry.respawn, respawn_delay=RESPAWN_DELAY_S if entry.respawn else 0.0)


def _shutdown_unless_respawned(entry: NodeEntry):
    """On a required node's exit: shut down, unless it crashed and respawns (as runner.py decides)."""
    def on_exit(event, context):
        if entry.respawn and event.returncode not in (0, CONFIG_ERROR_EXIT):
            return None
        return [EmitEvent(event=Shutdown(reason=f'{entry.name} exited'))]
    return on_exit


def generate_for(graph_name: str) -> LaunchDescription:
    """The LaunchDescription of `graph_name`: its arguments, its nodes, shutdown when a required one exits."""
    graph = GRAPHS[graph_name]
    actions: list = [_declare(a) for a in graph.arguments]
    for entry in graph.nodes:
        node = _node(entry)
        actions.append(node)
        if entry.required:
            actions.append(RegisterEventHandler(OnProcessExit(target_action=node, on_exit=_shutdown_unless_respawned(
                entry))))
    return LaunchDescription(actions)
