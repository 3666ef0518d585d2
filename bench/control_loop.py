"""Control-path latency and jitter through the real nodes over DDS, against a bare relay chain.

    python bench/control_loop.py [--rates 20 50 100] [--cameras 0 2] [--trainer idle busy] [--duration-s 20]
                                 [--size cpu] [--backend onnxruntime] [--json out.json]

The bench process stands in for the robot and the two upstream nodes: a timer at the control rate publishes
an `observation` (humanoid sizes: 32 joint values, 10 task values; with --cameras, that many 84x84 rgb8
images) and its `base_action` (12 joints), and listens to `action_records`, which safety_limit publishes
right after each safe command with the observation's stamp. Two chains run side by side, each in its own
processes, each in its own namespace:

  real      residual_policy (its inference backend, exploration on, random weights at --size) -> safety_limit
  baseline  relay_policy -> relay_safety: bare rclpy nodes passing the same messages with the same QoS and
            no work (what DDS and rclpy alone cost: the floor any Python node graph pays)

Blocks of --block-s seconds alternate between the chains until each has --duration-s of ticks, so a
changing load on the machine hits both alike. Per chain: latency from the observation's stamp to the safe
command leaving the safety stage (its action record's DDS source timestamp, published right after the
command; same clock), p50/p99/max; the round trip back to the robot side; tick jitter (|interval between
consecutive safe commands - period|); lost ticks (no command) and late ticks (latency over one period);
and the CPU time of each chain process over the measured phase (idle time included: the blocks alternate)
per tick it served. `--trainer busy` runs a learner updating in a loop (its own process, one torch thread)
for the whole case; `--weights-period-s` publishes new weight versions to the real residual meanwhile;
`--rt-priority` runs both chains and the robot side SCHED_FIFO (how a robot computer runs its control path).
Before the cases, the in-process CPU cost of one tick of the real nodes' callbacks is printed (--profile:
its cProfile). Ratios are real over baseline from the same run.
"""
from __future__ import annotations

import argparse
import json
import os
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))     # run from a checkout

from control_roles import (CHUNK, JOINTS, NAMES, PROPRIO, TASK, make_weights, run_node_with,  # noqa: E402
                           cpu_seconds, run_relay, run_trainer, start, stop, write_weights)


# -- the robot side ---------------------------------------------------------------------------------------

class Robot:
    """Publishes observation + base action at the control rate into one chain; records what comes back."""

    def __init__(self, node, namespace: str, cameras: int) -> None:
        from residual_rl_ros.msg import BaseAction, EpisodeEvent, Observation, PolicyActionRecord
        from residual_rl_ros.ros import qos
        from residual_rl_ros.ros.images import numpy_to_image

        self.node, self.BaseAction = node, BaseAction
        self.obs_pub = node.create_publisher(Observation, f'{namespace}/observation', qos.CONTROL)
        self.base_pub = node.create_publisher(BaseAction, f'{namespace}/base_action', qos.CONTROL)
        self.event_pub = node.create_publisher(EpisodeEvent, f'{namespace}/episode_events', qos.EVENTS)
        node.create_subscription(PolicyActionRecord, f'{namespace}/action_records', self._on_record, qos.RECORD)
        rng = np.random.default_rng(1)
        self.obs = Observation(joint_names=NAMES, joint_position=rng.normal(size=JOINTS).tolist(),
                               joint_velocity=rng.normal(size=PROPRIO - JOINTS).tolist(),
                               task_state=rng.normal(size=TASK).tolist(),
                               camera_names=[f'cam{i}' for i in range(cameras)],
                               images=[numpy_to_image(rng.integers(0, 256, (84, 84, 3), np.uint8), 'rgb8')
                                       for _ in range(cameras)])
        self.sent: dict[int, float] = {}          # observation stamp ns -> monotonic send time
        self.received: dict[int, float] = {}      # observation stamp ns -> monotonic receive time
        self.commanded: dict[int, int] = {}       # observation stamp ns -> safe record's DDS source time, ns
        self.recording = False
        self.tick = 0

    def start_episode(self) -> None:
        from residual_rl_ros.msg import EpisodeEvent
        event = EpisodeEvent(event=EpisodeEvent.START, episode_id=1)
        event.header.stamp = self.node.get_clock().now().to_msg()
        self.event_pub.publish(event)

    def send(self) -> None:
        now_ns = time.time_ns()
        self.obs.header.stamp.sec, self.obs.header.stamp.nanosec = divmod(now_ns, 1_000_000_000)
        self.obs_pub.publish(self.obs)
        self.base_pub.publish(self.BaseAction(joint_names=NAMES, action=[0.1] * JOINTS,
                                              chunk_phase=self.tick % CHUNK, chunk_length=CHUNK,
                                              observation_stamp=self.obs.header.stamp))
        self.tick += 1
        if self.recording:
            self.sent[now_ns] = time.monotonic()

    def _on_record(self, msg, info) -> None:
        stamp = msg.header.stamp.sec * 1_000_000_000 + msg.header.stamp.nanosec
        if stamp in self.sent:
            self.received[stamp] = time.monotonic()
            self.commanded[stamp] = info['source_timestamp']


class WeightsFeed:
    """Publishes a new weight version to the real residual every `period_s` (what a training run does)."""

    def __init__(self, node, namespace: str, size: str, cameras: int, period_s: float) -> None:
        from residual_rl_ros.msg import PolicyWeights
        from residual_rl_ros.ros import qos
        from residual_rl_ros.ros.conversions import weights_to_msg

        self.pub = node.create_publisher(PolicyWeights, f'{namespace}/policy_weights', qos.LATCHED)
        stamp = node.get_clock().now().to_msg()
        self.messages = [weights_to_msg(make_weights(size, cameras, v), stamp) for v in range(2, 6)]
        self.period_s, self.next_s, self.published = period_s, time.monotonic() + period_s, 0

    def maybe_publish(self) -> None:
        if time.monotonic() >= self.next_s:
            msg = self.messages[self.published % len(self.messages)]
            msg.version = 2 + self.published          # a new version each time
            self.pub.publish(msg)
            self.published += 1
            self.next_s += self.period_s


def spin_block(executor, robot: Robot, period_s: float, seconds: float, record: bool,
               weights: WeightsFeed | None = None) -> None:
    """Drive `robot` at the control rate for `seconds` (absolute-time deadlines, like a timer)."""
    robot.recording = record
    next_tick = time.monotonic()
    end = next_tick + seconds
    while next_tick < end:
        executor.spin_once(timeout_sec=max(next_tick - time.monotonic(), 0.0))
        if time.monotonic() >= next_tick:
            robot.send()
            next_tick += period_s
            if weights is not None:
                weights.maybe_publish()
    drain = time.monotonic() + 0.3           # let the last commands arrive
    while time.monotonic() < drain:
        executor.spin_once(timeout_sec=0.01)
    robot.recording = False


def percentiles(values_ms: np.ndarray, name: str) -> dict[str, float]:
    if not len(values_ms):
        return {}
    return {f'{name}_p50_ms': float(np.percentile(values_ms, 50)),
            f'{name}_p99_ms': float(np.percentile(values_ms, 99)), f'{name}_max_ms': float(values_ms.max())}


def summarize(robot: Robot, period_s: float) -> dict[str, float]:
    """latency: observation stamp -> safe command published (the record's DDS source time, same clock);
    round trip: -> back at the robot; jitter: |interval between consecutive safe commands - period|."""
    stamps = sorted(robot.sent)
    got = [s for s in stamps if s in robot.received]
    latency = np.array([robot.commanded[s] - s for s in got]) * 1e-6
    round_trip = np.array([robot.received[s] - robot.sent[s] for s in got]) * 1e3
    index = {s: i for i, s in enumerate(stamps)}
    pairs = [(a, b) for a, b in zip(got, got[1:])          # consecutive ticks only (not across blocks)
             if index[b] == index[a] + 1 and b - a < 1.5 * period_s * 1e9]
    jitter = np.array([abs((robot.commanded[b] - robot.commanded[a]) * 1e-9 - period_s) for a, b in pairs]) * 1e3
    return {'ticks': len(stamps), 'lost': len(stamps) - len(got), 'late': int(np.sum(latency > period_s * 1e3)),
            **percentiles(latency, 'latency'), **percentiles(round_trip, 'round_trip'), **percentiles(jitter, 'jitter')}


# -- CPU cost of one tick, in process ----------------------------------------------------------------------

def tick_cost(args: argparse.Namespace, folder: Path, cameras: int, ticks: int = 1000) -> dict[str, float]:
    """CPU ms per tick of the real nodes' callbacks (residual + safety, called directly, publishing into
    lists) against the relay chain's work on the same messages; interleaved halves."""
    from rclpy.parameter import Parameter
    from std_msgs.msg import Float64MultiArray

    from residual_rl_ros.msg import BaseAction, EpisodeEvent, PolicyActionRecord
    from residual_rl_ros.nodes.residual_policy import ResidualPolicy
    from residual_rl_ros.nodes.safety_limit import SafetyLimit

    weights, limits = prepare_files(folder, args, cameras)
    residual = ResidualPolicy(parameter_overrides=[
        Parameter('weights_file', value=str(weights)), Parameter('timing_report_period_s', value=0.0)] + (
        [Parameter('inference_backend', value=args.backend)] if args.backend else []))
    safety = SafetyLimit(parameter_overrides=[Parameter('joint_names', value=NAMES),
                                              Parameter('limits_file', value=str(limits))])
    proposals: list = []
    residual.pub.publish = proposals.append
    safety.command_pub.publish = safety.record_pub.publish = lambda msg: None
    residual._on_event(EpisodeEvent(event=EpisodeEvent.START, episode_id=1))
    robot = Robot(residual, '/tick_cost', cameras)

    def real(i: int) -> None:
        robot.obs.header.stamp.sec = 1000 + i
        residual._on_observation(robot.obs)
        residual._on_base_action(BaseAction(joint_names=NAMES, action=[0.1] * JOINTS, chunk_phase=i % CHUNK,
                                            chunk_length=CHUNK, observation_stamp=robot.obs.header.stamp))
        safety._on_proposal(proposals.pop())

    def relay(i: int) -> None:
        base = BaseAction(joint_names=NAMES, action=[0.1] * JOINTS, chunk_phase=i % CHUNK, chunk_length=CHUNK)
        record = PolicyActionRecord(joint_names=list(base.joint_names), base_action=list(base.action),
                                    residual=[0.0] * JOINTS, executed_action=list(base.action),
                                    chunk_phase=base.chunk_phase, chunk_length=base.chunk_length)
        Float64MultiArray(data=list(record.executed_action))

    cpu = {'real': 0.0, 'baseline': 0.0}
    for i in range(50):
        real(i)
    for half in range(2):
        for name, work in (('real', real), ('baseline', relay)):
            start = time.process_time()
            for i in range(ticks // 2):
                work(100 + half * ticks + i)
            cpu[name] += time.process_time() - start
    if args.profile:
        import cProfile
        import pstats
        profile = cProfile.Profile()
        profile.runcall(lambda: [real(10**6 + i) for i in range(ticks)])
        pstats.Stats(profile).sort_stats('tottime').print_stats(12)
    safety.destroy_node()
    residual.destroy_node()
    return {name: value / ticks * 1e3 for name, value in cpu.items()}


# -- one case -----------------------------------------------------------------------------------------------

def prepare_files(folder: Path, args: argparse.Namespace, cameras: int) -> tuple[Path, Path]:
    """The real residual's weights file and safety_limit's joint limits (wide: nothing clamps)."""
    weights = folder / f'weights_{args.size}_{cameras}.safetensors'
    if not weights.exists():
        write_weights(weights, args.size, cameras)
    limits = folder / 'limits.yaml'
    limits.write_text('joint_limits:\n' + ''.join(
        f'  {n}: {{has_position_limits: true, min_position: -3.0, max_position: 3.0}}\n' for n in NAMES))
    return weights, limits


def chain_commands(folder: Path, args: argparse.Namespace, rate: float, cameras: int) -> dict[str, list[list[str]]]:
    weights, limits = prepare_files(folder, args, cameras)
    py, me = sys.executable, str(Path(__file__).resolve())
    if args.rt_priority:
        py = f'chrt -f {args.rt_priority} {py}'.split()
    else:
        py = [py]
    ros = ['--ros-args', '-r', '__ns:=/real']
    def node(module: str) -> list[str]:
        if args.executor == 'single':
            return [*py, '-m', f'residual_rl_ros.nodes.{module}']
        return [*py, me, '--role', f'node-{module}', '--executor', args.executor]
    residual = [*node('residual_policy'), *ros, '-p', f'weights_file:={weights}',
                '-p', f'control_rate_hz:={rate}', '-p', 'timing_report_period_s:=5.0']
    if args.backend:
        residual += ['-p', f'inference_backend:={args.backend}']
    safety = [*node('safety_limit'), *ros, '-p', f'joint_names:={json.dumps(NAMES)}',
              '-p', f'limits_file:={limits}']
    relays = [[*py, me, '--role', f'relay-{s}', '--executor', args.executor, '--ros-args', '-r', '__ns:=/baseline']
              for s in ('policy', 'safety')]
    return {'real': [residual, safety], 'baseline': relays}


def run_case(args: argparse.Namespace, folder: Path, rate: float, cameras: int, trainer: str) -> dict:
    from rclpy.executors import SingleThreadedExecutor
    from rclpy.node import Node

    env = dict(os.environ)
    processes, pids = [], {}
    name = f'{rate:g}Hz_{cameras}cam_{trainer}'
    for chain, commands in chain_commands(folder, args, rate, cameras).items():
        started = [start(cmd, folder / f'{name}_{chain}_{i}.log', env) for i, cmd in enumerate(commands)]
        processes += started
        pids[chain] = [p.pid for p in started]
    if trainer == 'busy':
        processes.append(start([sys.executable, str(Path(__file__).resolve()), '--role', 'trainer', '--size',
                                args.size, '--cameras', str(cameras)], folder / f'{name}_trainer.log', env))
    node = Node('control_loop_bench')
    executor = SingleThreadedExecutor()
    executor.add_node(node)
    robots = {chain: Robot(node, f'/{chain}', cameras) for chain in ('real', 'baseline')}
    feed = WeightsFeed(node, '/real', args.size, cameras, args.weights_period_s) if args.weights_period_s else None
    period = 1.0 / rate
    try:
        for robot in robots.values():          # wait for the chains: a record back means ready
            robot.start_episode()
            deadline = time.monotonic() + 120
            robot.sent.clear()
            while not robot.received:
                assert time.monotonic() < deadline, f'{name}: no command came back; see {folder}/*.log'
                spin_block(executor, robot, period, 0.5, record=True)
            robot.sent.clear(), robot.received.clear(), robot.commanded.clear()
            spin_block(executor, robot, period, 1.0, record=False)     # warm-up
        cpu_start = {chain: np.array([cpu_seconds(pid) for pid in pids[chain]]) for chain in robots}
        done = 0.0
        while done < args.duration_s - 1e-9:
            block = min(args.block_s, args.duration_s - done)
            for chain in ('baseline', 'real'):
                spin_block(executor, robots[chain], period, block, record=True,
                           weights=feed if chain == 'real' else None)
            done += block
        cpu = {chain: np.array([cpu_seconds(pid) for pid in pids[chain]]) - cpu_start[chain] for chain in robots}
    finally:
        executor.remove_node(node)
        node.destroy_node()
        stop(processes)
    return {chain: dict(summarize(robot, period),
                        cpu_ms_per_tick=(cpu[chain] / max(len(robot.sent), 1) * 1e3).round(3).tolist())
            for chain, robot in robots.items()}


def ratio(real: dict, base: dict, key: str) -> str:
    return f'x{real[key] / base[key]:.1f}' if real.get(key) and base.get(key) else 'n/a'


def report(rate: float, cameras: int, trainer: str, result: dict, duration_s: float) -> None:
    real, base = result['real'], result['baseline']
    goal = 2.0 if cameras == 0 else 8.0
    kind = 'state' if not cameras else f'{cameras} cams'
    print(f'{rate:5g} Hz  {kind}  trainer {trainer:4s}  ({duration_s:g} s each)')
    for chain, r in (('real', real), ('baseline', base)):
        figures = '   '.join(f'{label} p50/p99/max ' + ' / '.join(f'{r.get(f"{key}_{q}_ms", np.nan):5.2f}'
                                                                  for q in ('p50', 'p99', 'max')) + ' ms'
                             for key, label in (('latency', 'latency'), ('jitter', 'jitter'),
                                                ('round_trip', 'round trip')))
        print(f'    {chain:8s} {figures}   ticks {r["ticks"]}, lost {r["lost"]}, late {r["late"]}, '
              f'CPU policy + safety stage {" + ".join(f"{c:.2f}" for c in r["cpu_ms_per_tick"])} ms/tick')
    print(f'    real/baseline: latency p50 {ratio(real, base, "latency_p50_ms")}, '
          f'p99 {ratio(real, base, "latency_p99_ms")}, jitter p99 {ratio(real, base, "jitter_p99_ms")};  '
          f'goal p99 <= {goal:g} ms: '
          f'{"met" if real.get("latency_p99_ms", np.inf) <= goal else "NOT met"}', flush=True)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument('--rates', nargs='+', type=float, default=[20.0, 50.0, 100.0])
    parser.add_argument('--cameras', nargs='+', type=int, default=[0, 2])
    parser.add_argument('--trainer', nargs='+', choices=('idle', 'busy'), default=['idle', 'busy'])
    parser.add_argument('--duration-s', type=float, default=20.0, help='measured seconds per chain and case')
    parser.add_argument('--block-s', type=float, default=5.0, help='alternation block length')
    parser.add_argument('--size', default='cpu', help='network sizes: paper or a recipe preset name')
    parser.add_argument('--backend', default='', help='residual inference backend (default: the node default)')
    parser.add_argument('--weights-period-s', type=float, default=0.0,
                        help='publish a new weight version to the real residual this often (0 = never)')
    parser.add_argument('--rt-priority', type=int, default=0,
                        help='run both chains and the robot side SCHED_FIFO at this priority (0 = normal)')
    parser.add_argument('--executor', choices=('single', 'events'), default='single',
                        help='rclpy executor of every node of both chains (single = the nodes\' own main())')
    parser.add_argument('--tick-cost-only', action='store_true', help='only the in-process CPU cost per tick')
    parser.add_argument('--profile', action='store_true', help='cProfile the in-process tick (top 12 by own time)')
    parser.add_argument('--logs', default='', help='keep the node logs in this folder (default: a temp folder)')
    parser.add_argument('--json', default='', help='also write the figures here')
    parser.add_argument('--role', default='bench', help=argparse.SUPPRESS)
    args, ros_args = parser.parse_known_args()
    if args.role == 'trainer':
        run_trainer(args.size, args.cameras[0])
        return 0
    if args.role.startswith('relay-'):
        run_relay(args.role.removeprefix('relay-'), args.executor)
        return 0
    if args.role.startswith('node-'):
        run_node_with(args.role.removeprefix('node-'), args.executor)
        return 0
    import rclpy
    os.environ.setdefault('ROS_AUTOMATIC_DISCOVERY_RANGE', 'LOCALHOST')
    os.environ.setdefault('ROS_DOMAIN_ID', str(100 + os.getpid() % 100))
    if args.rt_priority:
        os.sched_setscheduler(0, os.SCHED_FIFO, os.sched_param(args.rt_priority))
    rclpy.init()
    results = []
    with tempfile.TemporaryDirectory(prefix='control_loop_') as tmp:
        tmp = args.logs or tmp
        Path(tmp).mkdir(parents=True, exist_ok=True)
        policy = f'SCHED_FIFO {args.rt_priority}' if args.rt_priority else 'normal'
        print(f'network sizes {args.size}; scheduling {policy};'
              f' {os.cpu_count()} CPUs, load {os.getloadavg()[0]:.1f}; ROS_DOMAIN_ID {os.environ["ROS_DOMAIN_ID"]};'
              f' logs in {tmp}', flush=True)
        for cameras in args.cameras:
            cost = tick_cost(args, Path(tmp), cameras)
            results.append({'cameras': cameras, 'tick_cpu_ms': cost})
            print(f'tick CPU, {"state" if not cameras else f"{cameras} cams"}: residual + safety callbacks '
                  f'{cost["real"]:.3f} ms, relay work {cost["baseline"]:.3f} ms '
                  f'(x{cost["real"] / cost["baseline"]:.1f})', flush=True)
        if args.tick_cost_only:
            args.trainer = []
        for trainer in args.trainer:
            for cameras in args.cameras:
                for rate in args.rates:
                    result = run_case(args, Path(tmp), rate, cameras, trainer)
                    report(rate, cameras, trainer, result, args.duration_s)
                    results.append({'rate_hz': rate, 'cameras': cameras, 'trainer': trainer, **result})
    rclpy.shutdown()
    if args.json:
        Path(args.json).write_text(json.dumps(results, indent=2) + '\n')
    return 0


if __name__ == '__main__':
    sys.exit(main())
