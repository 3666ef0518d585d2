"""A stdlib HTTP server for the operator page: static files, JSON state, server-sent events, actions.

GET /                 index.html (and /app.js, /style.css from this folder)
GET /api/state        the dashboard snapshot as JSON
GET /events           text/event-stream: a `state` event whenever the snapshot changes (no reloads)
POST /api/action      {"action": "success", "episode_id": 0, "version": 3} -> {"ok": ..., "message": ...}

ROS-free: the node passes `snapshot()` and `act(payload)`; `act` runs in a server thread and may block
briefly (the node hands the request to its executor and waits for the result).
"""
from __future__ import annotations

import json
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any, Callable

STATIC_DIR = Path(__file__).resolve().parent
_TYPES = {'.html': 'text/html; charset=utf-8', '.js': 'text/javascript; charset=utf-8',
          '.css': 'text/css; charset=utf-8', '.png': 'image/png'}
_STATIC = {'/': 'index.html', '/index.html': 'index.html', '/app.js': 'app.js', '/style.css': 'style.css'}


class OperatorServer:
    """Serves the page on host:port (port 0 picks a free one: see `.port`) from a daemon thread."""

    def __init__(self, host: str, port: int, snapshot: Callable[[], dict[str, Any]],
                 act: Callable[[dict[str, Any]], dict[str, Any]], period_s: float = 0.25) -> None:
        self.snapshot, self.act, self.period_s = snapshot, act, period_s
        self.stopping = threading.Event()
        self.httpd = ThreadingHTTPServer((host, port), _handler(self))
        self.httpd.daemon_threads = True
        self.port = self.httpd.server_address[1]
        self.thread = threading.Thread(target=self.httpd.serve_forever, name='operator_http', daemon=True)

    def start(self) -> 'OperatorServer':
        self.thread.start()
        return self

    def stop(self) -> None:
        self.stopping.set()
        self.httpd.shutdown()
        self.httpd.server_close()


def _handler(server: OperatorServer) -> type[BaseHTTPRequestHandler]:
    class Handler(BaseHTTPRequestHandler):
        protocol_version = 'HTTP/1.1'

        def log_message(self, fmt: str, *args: Any) -> None:     # quiet: the node logs actions itself
            pass

        def _send(self, code: int, body: bytes, content_type: str) -> None:
            self.send_response(code)
            self.send_header('Content-Type', content_type)
            self.send_header('Content-Length', str(len(body)))
            self.send_header('Cache-Control', 'no-store')
            self.end_headers()
            self.wfile.write(body)

        def _json(self, code: int, value: Any) -> None:
            self._send(code, json.dumps(value).encode(), 'application/json')

        def do_GET(self) -> None:  # noqa: N802 (http.server's naming)
            path = self.path.split('?', 1)[0]
            if path in _STATIC:
                file = STATIC_DIR / _STATIC[path]
                self._send(200, file.read_bytes(), _TYPES[file.suffix])
            elif path == '/api/state':
                self._json(200, server.snapshot())
            elif path == '/events':
                self._stream()
            else:
                self._json(404, {'ok': False, 'message': f'no such page {path}'})

        def do_POST(self) -> None:  # noqa: N802
            if self.path != '/api/action':
                self._json(404, {'ok': False, 'message': f'no such endpoint {self.path}'})
                return
            try:
                length = int(self.headers.get('Content-Length', 0))
                payload = json.loads(self.rfile.read(length) or b'{}')
                if not isinstance(payload, dict) or not isinstance(payload.get('action'), str):
                    raise ValueError('expected a JSON object with an "action" string')
            except ValueError as exc:
                self._json(400, {'ok': False, 'message': str(exc)})
                return
            self._json(200, server.act(payload))

        def _stream(self) -> None:
            self.send_response(200)
            self.send_header('Content-Type', 'text/event-stream')
            self.send_header('Cache-Control', 'no-store')
            self.send_header('Connection', 'close')
            self.end_headers()
            self.close_connection = True
            last, last_sent = None, 0.0
            try:
                while not server.stopping.is_set():
                    body = json.dumps(server.snapshot())
                    now = time.monotonic()
                    if body != last:
                        self.wfile.write(f'event: state\ndata: {body}\n\n'.encode())
                        last, last_sent = body, now
                    elif now - last_sent > 10.0:
                        self.wfile.write(b': keep-alive\n\n')
                        last_sent = now
                    self.wfile.flush()
                    time.sleep(server.period_s)
            except (BrokenPipeError, ConnectionResetError):
                pass

    return Handler
