"""Start a graph of `graphs.py` as separate processes without the launch package (the venv path).

Each node runs from its installed executable (`<prefix>/lib/residual_rl_ros/<node>`), with the command
line launch_ros would give it. Output lines are prefixed with the node name; Ctrl-C (SIGINT) and SIGTERM
are forwarded to every node; nodes still alive after a grace period are terminated, then killed.

    residual_rl_ros_launch humanoid_train [name:=value ...]
"""
from __future__ import annotations

import dataclasses
import os
import signal
import subprocess
import sys
import threading
import time
from pathlib import Path
from typing import Mapping, Sequence

from residual_rl_ros.bringup.graphs import GRAPHS, PACKAGE, RESPAWN_DELAY_S, Graph, argument_reference


CONFIG_ERROR_EXIT = 2      # what a node's main() returns for a configuration error (ros/node_main.py)


@dataclasses.dataclass(frozen=True)
class ProcessPlan:
    name: str
    cmd: tuple[str, ...]
    required: bool
    respawn: bool = False


def package_prefix() -> Path:
    """The install prefix holding lib/residual_rl_ros and share/residual_rl_ros (ament index)."""
    os.environ.setdefault('AMENT_PREFIX_PATH', sys.prefix)
    from ament_index_python.packages import get_package_prefix
    return Path(get_package_prefix(PACKAGE))


def resolve_arguments(graph: Graph, overrides: Mapping[str, str], prefix: Path) -> dict[str, str]:
    """Argument values: defaults, then `overrides`; unknown names are a ValueError naming them."""
    known = {a.name: a for a in graph.arguments}
    unknown = sorted(set(overrides) - set(known))
    if unknown:
        raise ValueError(f'graph {graph.name!r} has no argument(s) {unknown}; arguments: {sorted(known)}')
    values = {}
    for name, argument in known.items():
        default = str(prefix / 'share' / PACKAGE / argument.default) if argument.share_relative \
            else argument.default
        values[name] = overrides.get(name, default)
    return values


def plan(graph: Graph, overrides: Mapping[str, str] | None = None,
         prefix: Path | None = None) -> list[ProcessPlan]:
    """The command line of every node of `graph`, as launch_ros would build it."""
    prefix = prefix or package_prefix()
    args = resolve_arguments(graph, overrides or {}, prefix)
    plans = []
    for node in graph.nodes:
        cmd = [str(prefix / 'lib' / PACKAGE / node.executable), '--ros-args',
               '--log-level', args['log_level'], '-r', f'__node:={node.name}']
        if args['namespace']:
            cmd += ['-r', f'__ns:=/{args["namespace"].strip("/")}']
        cmd += ['--params-file', args['params_file']]
        for name in node.parameter_args:
            cmd += ['-p', f'{name}:={args[name]}']
        for source, target in node.remappings:
            reference = argument_reference(target)
            cmd += ['-r', f'{source}:={args[reference] if reference else target}']
        plans.append(ProcessPlan(node.name, tuple(cmd), node.required, node.respawn))
    return plans


def _pump(name: str, stream, lock: threading.Lock) -> None:
    for line in stream:
        with lock:
            sys.stdout.write(f'[{name}] {line}')
            sys.stdout.flush()


def _start(plan: ProcessPlan, lock: threading.Lock) -> subprocess.Popen:
    proc = subprocess.Popen(plan.cmd, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True,
                            start_new_session=True)
    threading.Thread(target=_pump, args=(plan.name, proc.stdout, lock), daemon=True).start()
    return proc


def run(plans: Sequence[ProcessPlan], grace_s: float = 10.0, respawn_delay_s: float = RESPAWN_DELAY_S) -> int:
    """Start every process; stop all when a required one exits or on SIGINT/SIGTERM. Returns an exit code.

    A process planned with `respawn` is started again `respawn_delay_s` after it exits (launch_ros's
    respawn), until the graph stops.
    """
    lock = threading.Lock()
    by_name = {p.name: p for p in plans}
    procs: dict[str, subprocess.Popen] = {p.name: _start(p, lock) for p in plans}
    stop = threading.Event()
    previous = {sig: signal.signal(sig, lambda *_: stop.set()) for sig in (signal.SIGINT, signal.SIGTERM)}
    try:
        return _supervise(plans, by_name, procs, stop, lock, grace_s, respawn_delay_s)
    finally:
        for sig, handler in previous.items():
            signal.signal(sig, handler)


def _supervise(plans: Sequence[ProcessPlan], by_name: Mapping[str, ProcessPlan], procs: dict[str, subprocess.Popen],
               stop: threading.Event, lock: threading.Lock, grace_s: float, respawn_delay_s: float) -> int:
    """Watch the processes until a required one exits, all have exited, or `stop` is set."""
    required = {p.name for p in plans if p.required}
    exit_code = 0
    reported: dict[str, float] = {}       # exited process -> when it was seen gone
    while not stop.is_set():
        ended = [n for n, proc in procs.items() if proc.poll() is not None]
        for name in sorted(set(ended) - set(reported)):
            reported[name] = time.monotonic()
            with lock:
                print(f'[launch] {name} exited with code {procs[name].returncode}'
                      f'{", respawning" if _respawns(by_name[name], procs[name]) else ""}', flush=True)
        for name in [n for n in ended if _respawns(by_name[n], procs[n])]:
            if time.monotonic() - reported[name] >= respawn_delay_s:
                procs[name] = _start(by_name[name], lock)
                del reported[name]
        ended = [n for n, proc in procs.items() if proc.poll() is not None]
        if any(n in required and not _respawns(by_name[n], procs[n]) for n in ended) or len(ended) == len(procs):
            exit_code = max((procs[n].returncode for n in ended if n in required), default=0, key=abs)
            break
        stop.wait(0.2)
    _shutdown(procs, grace_s)
    return exit_code


def _respawns(plan: ProcessPlan, proc: subprocess.Popen) -> bool:
    """Respawn a crash, not a configuration error (exit status 2: starting again cannot help); a required
    node that exits cleanly (0: its work is done) stops the graph instead."""
    return plan.respawn and proc.returncode != CONFIG_ERROR_EXIT and not (plan.required and proc.returncode == 0)


def _shutdown(procs: Mapping[str, subprocess.Popen], grace_s: float) -> None:
    for sig, wait_s in ((signal.SIGINT, grace_s), (signal.SIGTERM, 5.0), (signal.SIGKILL, 5.0)):
        alive = [p for p in procs.values() if p.poll() is None]
        for proc in alive:
            proc.send_signal(sig)
        deadline = time.monotonic() + wait_s
        for proc in alive:
            try:
                proc.wait(timeout=max(0.0, deadline - time.monotonic()))
            except subprocess.TimeoutExpired:
                pass


def parse_overrides(tokens: Sequence[str]) -> dict[str, str]:
    """`name:=value` tokens (the ros2 launch syntax) to a dict; ValueError on anything else."""
    overrides = {}
    for token in tokens:
        name, sep, value = token.partition(':=')
        if not sep or not name:
            raise ValueError(f'expected name:=value, got {token!r}')
        overrides[name] = value
    return overrides


def main(argv: Sequence[str] | None = None) -> int:
    argv = list(sys.argv[1:] if argv is None else argv)
    if not argv or argv[0] not in GRAPHS:
        print(f'usage: residual_rl_ros_launch {{{",".join(GRAPHS)}}} [name:=value ...]', file=sys.stderr)
        return 2
    graph = GRAPHS[argv[0]]
    try:
        plans = plan(graph, parse_overrides(argv[1:]))
    except ValueError as exc:
        print(f'residual_rl_ros_launch: {exc}', file=sys.stderr)
        return 2
    print(f'[launch] {graph.name}: {graph.description}; nodes: {", ".join(p.name for p in plans)}', flush=True)
    return run(plans)


if __name__ == '__main__':
    sys.exit(main())
