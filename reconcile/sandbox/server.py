"""The sandbox on the wire: HTTP on loopback, the rate limit, the request log, and :func:`serve`.

:class:`Sandbox` holds what belongs to the running server rather than to one answer (the socket,
the rate-limit window, the request log, the fault plan), so that :mod:`.api` stays a function of
the request and the workspace. One request goes through these steps::

    rate limit → delay → status / non_json → auth → the endpoint (api.py) → truncated_json / reset

The ``status`` and ``non_json`` faults answer before auth and the endpoint, as a gateway in front
of the API does; ``truncated_json`` and ``reset`` take the real answer and spoil how it is sent.
The export file host (``/_files/...``) skips the bearer check: a signed link is its own
credential, and the API key must not reach a file host. Paths under ``/api/`` are the Track API
(:mod:`.track`), with Basic auth by the workspace's Site ID and Track API key instead.

Every request is recorded on arrival with status 0 and its status is filled in when answered,
so a test sees a delayed request while it waits. The server runs in its own thread: tests use
``with Sandbox(...) as sandbox:``, and the command lines block in :func:`serve`.
"""

from __future__ import annotations

import hmac
import math
import re
import signal
import socket
import sys
import threading
import time
from collections import deque
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any, Callable, NamedTuple
from urllib.parse import urlsplit

from .api import END_OF_PAGES, Endpoints, Request
from .exports import FILES
from .faults import FaultPlan, non_json_reply, reset, status_fault_reply, truncated
from .replies import UNAUTHORIZED, Reply, error_reply
from .track import TrackEndpoints
from .workspace import Workspace


class RequestRecord(NamedTuple):
    """One request as the sandbox saw it: arrival (``time.monotonic``), what was asked, what it
    answered (0 while the answer is still being made, e.g. during a ``delay`` fault), and the
    body it carried (a Track API write's is what tells two merges apart)."""

    time: float
    method: str
    path: str
    query: str
    status: int
    body: bytes = b""


class _Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"   # keep-alive, as the real API: clients reuse connections
    server_version = "reconcile-sandbox"
    timeout = 30                    # an idle keep-alive connection is closed after this many seconds
    server: _Server

    def setup(self) -> None:
        super().setup()
        # headers and body leave in two writes: without this, delayed ACKs hold back a small answer
        self.connection.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        self.server.opened(self.connection)

    def finish(self) -> None:
        try:
            super().finish()
        finally:
            self.server.closed(self.connection)

    def do_GET(self) -> None:
        self._handle("GET")

    def do_POST(self) -> None:
        self._handle("POST")

    def do_PUT(self) -> None:
        self._handle("PUT")

    def do_DELETE(self) -> None:
        self._handle("DELETE")

    def log_message(self, format: str, *args: Any) -> None:  # noqa: A002 - the base class's name
        """Silent: tests and the demo read ``Sandbox.requests`` instead of a log."""

    def _handle(self, method: str) -> None:
        arrived = time.monotonic()
        split = urlsplit(self.path)
        length = int(self.headers.get("Content-Length") or 0)
        body = self.rfile.read(length) if length else b""
        request = Request(method, split.path, split.query, self.headers.get("Authorization", ""), body)
        self._send(self.server.sandbox.answer(request, arrived))

    def _send(self, reply: Reply) -> None:
        try:
            self.send_response(reply.status)
            for name, value in reply.headers.items():
                self.send_header(name, value)
            self.send_header("Content-Length", str(len(reply.body)))
            self.end_headers()
            self.wfile.write(reply.body if reply.cut_at is None else reply.body[: reply.cut_at])
        except (BrokenPipeError, ConnectionResetError):  # the client gave up (a timeout): nothing to do
            self.close_connection = True
        if reply.cut_at is not None:
            self.close_connection = True


class _Server(ThreadingHTTPServer):
    """Threaded server that remembers its open connections, so stopping it closes idle keep-alives."""

    daemon_threads = True
    allow_reuse_address = True

    def __init__(self, address: tuple[str, int], sandbox: Sandbox):
        self.sandbox = sandbox
        self._connections: set[socket.socket] = set()
        self._connections_lock = threading.Lock()
        super().__init__(address, _Handler)

    def opened(self, connection: socket.socket) -> None:
        with self._connections_lock:
            self._connections.add(connection)

    def closed(self, connection: socket.socket) -> None:
        with self._connections_lock:
            self._connections.discard(connection)

    def close_connections(self) -> None:
        with self._connections_lock:
            connections = list(self._connections)
        for connection in connections:
            try:
                connection.shutdown(socket.SHUT_RDWR)
            except OSError:
                pass

    def handle_error(self, request: Any, client_address: Any) -> None:
        """Connections the client dropped are routine here (timeouts are tested); anything else is printed."""
        if not isinstance(sys.exc_info()[1], (ConnectionError, TimeoutError)):
            super().handle_error(request, client_address)


class Sandbox:
    """The stand-in App API: ``with Sandbox(workspace) as sandbox: ... sandbox.url ...``.

    ``rate_limit`` requests per any 1-second window are admitted, more get 429 (None: no
    limit); only admitted requests use up the window, which the App API and the Track API each
    have. Those 429s carry ``Retry-After``: ``retry_after`` when given, else the whole seconds
    until the window has room (at least 1). ``end_of_pages`` is how the last membership page
    ends: ``"omit"`` leaves ``next`` out, ``"empty"`` sends ``""``, ``"null"`` sends ``null``.
    ``site_id`` and ``track_api_key`` are the Track API's credentials (:attr:`track` serves it).
    """

    def __init__(self, workspace: Workspace, *, api_key: str = "sandbox-key", host: str = "127.0.0.1",
                 port: int = 0, rate_limit: float | None = 10.0, retry_after: float | None = None,
                 end_of_pages: str = "omit", site_id: str = "sandbox-site", track_api_key: str = "sandbox-track-key"):
        if end_of_pages not in END_OF_PAGES:
            raise ValueError(f"end_of_pages must be one of {END_OF_PAGES}, got {end_of_pages!r}")
        self.workspace, self.api_key = workspace, api_key
        self.host, self.port = host, port
        self.rate_limit, self.retry_after = rate_limit, retry_after
        self.faults = FaultPlan()
        self.endpoints = Endpoints(workspace, self.faults, end_of_pages)
        self.endpoints.exports.base_url = lambda: self.url
        self.track = TrackEndpoints(workspace, site_id, track_api_key, lambda: self.url)
        self.requests: list[RequestRecord] = []
        self._lock = threading.Lock()
        self._admitted: dict[bool, deque[float]] = {False: deque(), True: deque()}   # App API, Track API
        self._server: _Server | None = None
        self._thread: threading.Thread | None = None

    # ------------------------------------------------------------------ lifecycle

    def start(self) -> Sandbox:
        self._server = _Server((self.host, self.port), self)
        self.port = self._server.server_address[1]
        self._thread = threading.Thread(target=self._server.serve_forever, kwargs={"poll_interval": 0.05},
                                        name=f"sandbox:{self.port}", daemon=True)
        self._thread.start()
        return self

    def stop(self) -> None:
        if self._server is None:
            return
        self._server.shutdown()
        self._server.close_connections()
        self._server.server_close()
        self._thread.join()
        self._server = self._thread = None

    def __enter__(self) -> Sandbox:
        return self.start()

    def __exit__(self, *exc_info: Any) -> None:
        self.stop()

    @property
    def url(self) -> str:
        return f"http://{self.host}:{self.port}"

    def inject(self, kind: str, *, path: str = r".*", times: int = 1, after: int = 0, **params: Any) -> None:
        """Shorthand for ``faults.add``: e.g. ``inject("status", status=503, path=r"/membership$")``."""
        self.faults.add(kind, path=path, times=times, after=after, **params)

    # ------------------------------------------------------------------ one request

    def answer(self, request: Request, arrived: float) -> Reply:
        """The reply to one request. It is recorded on arrival with status 0 (a delayed request
        is visible while it waits) and its status is filled in before the reply is sent."""
        pending = RequestRecord(arrived, request.method, request.path, request.query, 0, request.body)
        with self._lock:
            self.requests.append(pending)
        wait = self._admit(arrived, request.path.startswith("/api/"))
        if wait is None:
            reply = self._answer_admitted(request)
        else:
            after = f"{self.retry_after:g}" if self.retry_after is not None else str(max(1, math.ceil(wait)))
            reply = error_reply(429, f"Your request is over the {self.rate_limit:g}-per-second limit",
                                {"Retry-After": after})
        self._answered(pending, reply.status)
        return reply

    def _answered(self, pending: RequestRecord, status: int) -> None:
        with self._lock:
            for index in range(len(self.requests) - 1, -1, -1):   # usually among the last few
                if self.requests[index] is pending:
                    self.requests[index] = pending._replace(status=status)
                    return

    def _answer_admitted(self, request: Request) -> Reply:
        path, faults = request.path, self.faults
        delay = faults.take("delay", path)
        if delay:
            time.sleep(delay["seconds"])
        fault = faults.take("status", path)
        if fault:
            return status_fault_reply(fault, path)
        fault = faults.take("non_json", path)
        if fault:
            return non_json_reply(fault)
        file = FILES.fullmatch(path)
        if file:          # the export file host: a signed link is its own credential, no bearer key
            reply = Reply(*self.endpoints.exports.file(file[1], request.authorization))
        elif path.startswith("/api/"):
            reply = self.track.answer(request)
        elif not hmac.compare_digest(request.authorization.encode(), f"Bearer {self.api_key}".encode()):
            return error_reply(401, UNAUTHORIZED)
        else:
            reply = self.endpoints.answer(request)
        if reply.status == 200 and faults.take("truncated_json", path):
            return truncated(reply)
        if faults.take("reset", path):
            return reset(reply)
        return reply

    def _admit(self, arrived: float, track: bool) -> float | None:
        """None when this arrival keeps admitted requests within ``rate_limit`` per any 1-second
        window (it is admitted), else the seconds until the window has room; the App API and the
        Track API are limited apart, as upstream."""
        if self.rate_limit is None:
            return None
        with self._lock:
            window = self._admitted[track]
            while window and window[0] <= arrived - 1.0:
                window.popleft()
            if len(window) + 1 > self.rate_limit:
                return window[0] + 1.0 - arrived if window else 1.0
            window.append(arrived)
            return None

    # ------------------------------------------------------------------ what tests look at

    def max_requests_per_second(self) -> int:
        """The most request arrivals (admitted or not) in any half-open 1-second window."""
        with self._lock:
            times = sorted(record.time for record in self.requests)
        most, first = 0, 0
        for last, moment in enumerate(times):
            while times[first] <= moment - 1.0:
                first += 1
            most = max(most, last - first + 1)
        return most

    def requests_to(self, path_regex: str) -> list[RequestRecord]:
        """The recorded requests whose path matches the regex (``re.search``)."""
        pattern = re.compile(path_regex)
        with self._lock:
            return [record for record in self.requests if pattern.search(record.path)]


def serve(workspace: Workspace, *, api_key: str, host: str = "127.0.0.1", port: int = 8765,
          on_ready: Callable[[Sandbox], None] | None = None, **credentials: str) -> None:
    """Serve ``workspace`` until Ctrl-C, then stop: the one serving loop, shared by
    ``python -m reconcile.sandbox`` and ``reconcile sandbox`` so that neither keeps its own.

    ``on_ready(sandbox)`` runs once the sandbox listens; the caller prints its banner there,
    because each command line says something different (``sandbox.url`` holds the port picked
    for ``port=0``). Ctrl-C (SIGINT) is made to stop it before the banner appears, even where the
    process was started ignoring SIGINT, as a shell starts background jobs; otherwise
    ``kill -INT`` would leave it running. The caller's SIGINT handler is put back on return.
    ``credentials`` are the Track API's ``site_id`` and ``track_api_key``, when not the defaults.
    """
    with Sandbox(workspace, api_key=api_key, host=host, port=port, **credentials) as sandbox:
        in_main_thread = threading.current_thread() is threading.main_thread()
        previous = signal.signal(signal.SIGINT, signal.default_int_handler) if in_main_thread else None
        try:
            if on_ready is not None:
                on_ready(sandbox)
            while True:          # the server has its own thread; this one only waits for Ctrl-C
                time.sleep(3600)
        except KeyboardInterrupt:
            pass
        finally:
            if previous is not None:
                signal.signal(signal.SIGINT, previous)


__all__ = ["Sandbox", "RequestRecord", "serve"]
