"""Terminal keyboard mode for the operator: single key presses become the page's actions (same server).

    python -m residual_rl_ros.web.keyboard [--url http://127.0.0.1:8765/]

Keys: s start, y success, n failure, a abort, u undo, e e-stop, p pause training, r resume, q quit.
"""
from __future__ import annotations

import argparse
import json
import sys
import urllib.error
import urllib.request
from typing import Callable, Iterable

from residual_rl_ros.core.dashboard import OPERATOR_KEYS

Post = Callable[[dict], dict]


def http_post(url: str) -> Post:
    def post(payload: dict) -> dict:
        request = urllib.request.Request(url.rstrip('/') + '/api/action', json.dumps(payload).encode(),
                                         {'Content-Type': 'application/json'})
        try:
            with urllib.request.urlopen(request, timeout=5) as response:
                return json.loads(response.read())
        except (urllib.error.URLError, OSError) as exc:
            return {'ok': False, 'message': f'operator page not reachable at {url} ({exc})'}
    return post


def run(keys: Iterable[str], post: Post, out=sys.stdout) -> int:
    """Send one action per mapped key until 'q'; returns how many actions were accepted."""
    accepted = 0
    for key in keys:
        if key.lower() == 'q':
            break
        action = OPERATOR_KEYS.get(key.lower())
        if action is None:
            continue
        result = post({'action': action})
        accepted += bool(result.get('ok'))
        print(f'{action}: {"" if result.get("ok") else "refused: "}{result.get("message", "")}', file=out, flush=True)
    return accepted


def _terminal_keys() -> Iterable[str]:
    if not sys.stdin.isatty():
        yield from iter(lambda: sys.stdin.read(1), '')
        return
    import termios
    import tty
    saved = termios.tcgetattr(sys.stdin)
    try:
        tty.setcbreak(sys.stdin.fileno())
        yield from iter(lambda: sys.stdin.read(1), '')
    finally:
        termios.tcsetattr(sys.stdin, termios.TCSADRAIN, saved)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split('\n\n')[0])
    parser.add_argument('--url', default='http://127.0.0.1:8765/', help='the operator_ui page')
    args = parser.parse_args(argv)
    print('keys: ' + ', '.join(f'{k} {a}' for k, a in OPERATOR_KEYS.items()) + ', q quit', flush=True)
    run(_terminal_keys(), http_post(args.url))
    return 0


if __name__ == '__main__':
    sys.exit(main())
