"""Watchdogs reach the operator page: real ingestion and safety_limit nodes publish diagnostics, operator_ui
shows every status with its level and behaviour in /api/state, worst first."""
import json
import urllib.request

from rclpy.parameter import Parameter

from residual_rl_ros.nodes.ingestion import Ingestion
from residual_rl_ros.nodes.operator_ui import OperatorUi
from residual_rl_ros.nodes.safety_limit import SafetyLimit


def test_sensor_and_upstream_watchdogs_are_on_the_page(context, spin_until, tmp_path) -> None:
    limits = tmp_path / 'limits.yaml'
    limits.write_text('joint_limits:\n  a: {has_position_limits: true, min_position: -1.0, max_position: 1.0}\n')
    ingestion = Ingestion(context=context, parameter_overrides=[Parameter('joint_names', value=['a'])])
    safety = SafetyLimit(context=context, parameter_overrides=[
        Parameter('joint_names', value=['a']), Parameter('limits_file', value=str(limits))])
    ui = OperatorUi(context=context, parameter_overrides=[Parameter('port', value=0)])
    nodes = [ingestion, safety, ui]
    try:
        safety.upstream.on_episode(True, safety._now_s())          # an episode runs, nothing proposes
        names = {'ingestion: sensors', 'safety_limit: command limits', 'safety_limit: watchdog base_policy',
                 'safety_limit: watchdog residual_policy', 'safety_limit: watchdog trainer'}
        spin_until(nodes, lambda: names <= set(ui.board.health) and ui.board.health['safety_limit: watchdog '
                                                                                     'residual_policy']['level'] == 2)
        with urllib.request.urlopen(ui.url + 'api/state', timeout=5) as response:
            state = json.loads(response.read())
        health = {h['name']: h for h in state['health']}
        assert health['ingestion: sensors']['level'] == 2
        assert health['ingestion: sensors']['message'] == 'joint_states: never received'
        assert health['ingestion: sensors']['behaviour'] == 'safety holds the previous command'
        assert health['safety_limit: watchdog residual_policy']['message'].startswith(
            'action_proposal (residual_policy): ')
        assert state['health'][0]['level'] == 2 and state['safety']['message'] == 'commanding'
        assert health['safety_limit: watchdog trainer']['level'] == 0
    finally:
        for node in nodes:
            node.destroy_node()
