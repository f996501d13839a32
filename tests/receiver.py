"""A real HTTP receiver on loopback for the Slack and webhook tests: it keeps every POST and
answers by path: ``/ok`` 200, ``/fail`` 500, ``/slow`` after 3 s, ``/moved`` a 302 to ``/ok``."""

from __future__ import annotations

import json
import threading
import time
from contextlib import contextmanager
from dataclasses import dataclass
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Iterator


@dataclass
class Posted:
    path: str
    headers: dict
    body: bytes

    @property
    def json(self):
        return json.loads(self.body)


class _Handler(BaseHTTPRequestHandler):
    def do_POST(self) -> None:  # noqa: N802
        body = self.rfile.read(int(self.headers.get("Content-Length", 0)))
        self.server.posted.append(Posted(self.path, dict(self.headers), body))
        route = self.path.split("/")[1] if "/" in self.path else ""
        if route == "slow":
            time.sleep(3)
        if route == "moved":
            self.send_response(302)
            self.send_header("Location", "/ok/elsewhere")
            self.end_headers()
            return
        status = 500 if route == "fail" else 200
        payload = b"server exploded" if status == 500 else b"ok"
        self.send_response(status)
        self.send_header("Content-Length", str(len(payload)))
        self.end_headers()
        self.wfile.write(payload)

    def log_message(self, *args) -> None:
        """Quiet: tests read ``posted``."""


class _Server(ThreadingHTTPServer):
    daemon_threads = True

    def handle_error(self, request, client_address) -> None:
        """A client that gave up (the timeout test) makes the late answer fail: expected, silent."""


@contextmanager
def receiver() -> Iterator[tuple[str, list[Posted]]]:
    """``(base URL, the POSTs received)`` while the server runs."""
    server = _Server(("127.0.0.1", 0), _Handler)
    server.posted = []
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}", server.posted
    finally:
        server.shutdown()
        server.server_close()
