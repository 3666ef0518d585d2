"""operator_ui: the operator's web page and joystick, turned into the same requests as the services.

Serves residual_rl_ros/web/ on `host:port` (stdlib HTTP, live updates by server-sent events): Success /
Failure / Start / Abort / Undo go to `<reward_button>/label`, E-stop publishes std_msgs/Bool on `estop`
(safety_limit latches it), Release calls `<safety_limit>/reset_estop`, Pause / Resume set the trainer's
`paused` parameter, Pin sets the residual's `pinned_version`. It shows `episode_events`, `action_records`
(steps, interventions), `trainer_status`, safety_limit's limits status and every watchdog on
`diagnostics` (ingestion's sensors, safety_limit's base / residual / trainer watchdogs) with its level.
`joy_buttons` maps sensor_msgs/Joy buttons on `joy` to the same actions (on press).
"""
from __future__ import annotations

import queue
import sys
import threading
from typing import Any, Callable

from diagnostic_msgs.msg import DiagnosticArray
from rcl_interfaces.msg import Parameter as ParameterMsg
from rcl_interfaces.srv import SetParameters
from rclpy.node import Node
from rclpy.parameter import Parameter
from sensor_msgs.msg import Joy
from std_msgs.msg import Bool
from std_srvs.srv import Trigger

from residual_rl_ros.core.dashboard import Dashboard, parse_button_map
from residual_rl_ros.core.episodes import EventKind
from residual_rl_ros.core.node_params import OperatorUiParams
from residual_rl_ros.msg import EpisodeEvent, PolicyActionRecord, TrainerStatus
from residual_rl_ros.ros import qos
from residual_rl_ros.ros.node_main import run_node
from residual_rl_ros.ros.params import declare_config
from residual_rl_ros.srv import LabelEpisode
from residual_rl_ros.web.server import OperatorServer

Reply = Callable[[dict[str, Any]], None]
_LABELS = {'start': EventKind.START, 'success': EventKind.SUCCESS, 'failure': EventKind.FAILURE,
           'abort': EventKind.ABORT, 'undo': EventKind.UNDO}
_STATE_NAMES = {TrainerStatus.STATE_WARMUP: 'warm-up', TrainerStatus.STATE_CRITIC_WARMUP: 'critic warm-up',
                TrainerStatus.STATE_TRAINING: 'training', TrainerStatus.STATE_PAUSED: 'paused',
                TrainerStatus.STATE_ERROR: 'error'}


class OperatorUi(Node):
    def __init__(self, **kwargs) -> None:
        super().__init__('operator_ui', **kwargs)
        self.params = p = declare_config(self, OperatorUiParams)
        self.joy_map = parse_button_map(p.joy_buttons)
        self.joy_pressed: list[int] = []
        self.board = Dashboard(p.success_window)
        self.requests: queue.Queue[tuple[dict[str, Any], Reply]] = queue.Queue()
        self.estop_pub = self.create_publisher(Bool, 'estop', qos.EVENTS)
        self.label_client = self.create_client(LabelEpisode, f'{p.reward_button}/label')
        self.reset_estop_client = self.create_client(Trigger, f'{p.safety_limit}/reset_estop')
        self.trainer_client = self.create_client(SetParameters, f'{p.trainer}/set_parameters')
        self.residual_client = self.create_client(SetParameters, f'{p.residual_policy}/set_parameters')
        self.create_subscription(EpisodeEvent, 'episode_events', self._on_event, qos.EVENTS)
        self.create_subscription(PolicyActionRecord, 'action_records', self._on_record, qos.RECORD)
        self.create_subscription(TrainerStatus, 'trainer_status', self._on_status, qos.LATCHED)
        self.create_subscription(DiagnosticArray, 'diagnostics', self._on_diagnostics, qos.EVENTS_VOLATILE)
        if self.joy_map:
            self.create_subscription(Joy, 'joy', self._on_joy, qos.SENSOR)
        self.create_timer(0.02, self._drain)
        self.server: OperatorServer | None = None
        try:
            self.server = OperatorServer(p.host, p.port, self.board.snapshot, self.request).start()
        except OSError as exc:
            raise ValueError(f'cannot serve the operator page on {p.host}:{p.port} ({exc}); set the "port" '
                             'parameter (0 = any free port)') from exc
        self.url = f'http://{p.host}:{self.server.port}/'
        self.get_logger().info(f'operator page: {self.url}')

    def destroy_node(self) -> None:
        if self.server is not None:         # None when the port could not be bound
            self.server.stop()
        super().destroy_node()

    # --- requests: from the web server's threads into this node's executor ----------------------------
    def request(self, payload: dict[str, Any], timeout_s: float = 3.0) -> dict[str, Any]:
        """Called from an HTTP thread: queue the action, wait for its answer."""
        done, answer = threading.Event(), {}
        self.requests.put((payload, lambda result: (answer.update(result), done.set())))
        return answer if done.wait(timeout_s) else {'ok': False, 'message': f'no answer within {timeout_s} s'}

    def _drain(self) -> None:
        while True:
            try:
                payload, reply = self.requests.get_nowait()
            except queue.Empty:
                return
            self.dispatch(payload, reply)

    def dispatch(self, payload: dict[str, Any], reply: Reply) -> None:
        action = payload.get('action')
        try:
            if action in _LABELS:
                request = LabelEpisode.Request(event=int(_LABELS[action]), episode_id=int(payload.get('episode_id', 0)),
                                               note='operator page')
                self._call(self.label_client, request, reply, lambda r: (r.accepted, r.message))
            elif action == 'estop':
                self.estop_pub.publish(Bool(data=True))
                self._answer(reply, True, 'E-STOP sent: safety_limit holds until released')
            elif action == 'reset_estop':
                self._call(self.reset_estop_client, Trigger.Request(), reply, lambda r: (r.success, r.message))
            elif action in ('pause', 'resume'):
                self._set(self.trainer_client, Parameter('paused', value=action == 'pause'), reply,
                          f'training {"paused" if action == "pause" else "resumed"}')
            elif action == 'pin':
                version = int(payload.get('version', 0))
                self._set(self.residual_client, Parameter('pinned_version', value=version), reply,
                          f'residual pinned to v{version}' if version else 'residual follows the latest weights')
            else:
                self._answer(reply, False, f'unknown action {action!r}')
        except (TypeError, ValueError) as exc:
            self._answer(reply, False, f'bad request {payload}: {exc}')

    def _answer(self, reply: Reply, ok: bool, message: str) -> None:
        self.board.note(message if ok else f'refused: {message}')
        reply({'ok': ok, 'message': message})

    def _call(self, client, request, reply: Reply, read: Callable[[Any], tuple[bool, str]]) -> None:
        if not client.service_is_ready():
            self._answer(reply, False, f'{client.srv_name} is not available')
            return

        def done(future) -> None:
            result = future.result()
            self._answer(reply, *(read(result) if result is not None else (False, 'no response')))
        client.call_async(request).add_done_callback(done)

    def _set(self, client, parameter: Parameter, reply: Reply, message: str) -> None:
        request = SetParameters.Request(parameters=[ParameterMsg(name=parameter.name,
                                                                 value=parameter.get_parameter_value())])
        self._call(client, request, reply,
                   lambda r: (r.results[0].successful, message if r.results[0].successful else r.results[0].reason))

    # --- what the page shows ---------------------------------------------------------------------
    def _on_event(self, msg: EpisodeEvent) -> None:
        self.board.on_event(EventKind(msg.event), msg.episode_id)

    def _on_record(self, msg: PolicyActionRecord) -> None:
        self.board.on_record(msg.episode_id, msg.intervention, msg.policy_version)

    def _on_status(self, msg: TrainerStatus) -> None:
        fields = {name: getattr(msg, name) for name in (
            'state', 'policy_version', 'env_steps', 'critic_updates', 'actor_updates', 'episodes', 'success_rate',
            'critic_loss', 'actor_loss', 'q_mean', 'online_transitions', 'demo_transitions',
            'intervention_transitions', 'updates_per_s')}
        fields['state_name'] = _STATE_NAMES.get(msg.state, str(msg.state))
        fields = {k: (None if isinstance(v, float) and v != v else v) for k, v in fields.items()}
        self.board.on_trainer(fields)

    def _on_diagnostics(self, msg: DiagnosticArray) -> None:
        for status in msg.status:
            level = status.level if isinstance(status.level, int) else int.from_bytes(status.level, 'little')
            values = {kv.key: kv.value for kv in status.values}
            self.board.on_health(status.name, level, status.message, values.get('behaviour', ''))
            if status.name == f'{self.params.safety_limit}: command limits':
                self.board.on_safety({'level': level, 'message': status.message, **values})

    def _on_joy(self, msg: Joy) -> None:
        pressed = list(msg.buttons)
        for index, action in self.joy_map.items():
            was = self.joy_pressed[index] if index < len(self.joy_pressed) else 0
            if index < len(pressed) and pressed[index] and not was:
                self.dispatch({'action': action}, lambda result: None)
        self.joy_pressed = pressed


def main(args: list[str] | None = None) -> int:
    return run_node(OperatorUi, 'operator_ui', args)


if __name__ == '__main__':
    sys.exit(main())
