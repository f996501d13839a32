"""A stand-in Customer.io App API over real HTTP on loopback, with faults on demand.

It serves the read endpoints ``reconcile`` uses exactly as ``customerio-app-api.md`` documents
them (bearer auth, paging with opaque tokens, limit default 1000 and cap 30000, the 10-per-second
limit answered with 429), so the client is tested against HTTP rather than against mocks of
itself. Where the real API is UNCONFIRMED (how the last page ends, whether ``Retry-After``
is sent) the sandbox is configurable and the tests cover each form.

Faults (:class:`FaultPlan`) reproduce what production does on a bad day: a fault matches a path
regex, lets ``after`` matching requests pass, fires ``times`` times, then it is spent. One request
goes through these steps:
rate limit → ``delay`` → ``status`` / ``non_json`` → auth → the endpoint (``repeat_token``,
``short_page``, ``count_changes``, ``state`` change its answer) → ``truncated_json`` / ``reset``
(change how the answer is sent).
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import hmac
import json
import os
import re
import signal
import socket
import struct
import sys
import threading
import time
from collections import deque
from dataclasses import dataclass, field
from http import HTTPStatus
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any, Callable, NamedTuple
from urllib.parse import parse_qs, unquote, urlsplit

from .exports import FILES, Exports
from .workspace import ID_TYPES, Workspace

DEFAULT_LIMIT, MAX_LIMIT = 1000, 30_000
MAX_IDS_PER_LOOKUP = 100
END_OF_PAGES = ("omit", "empty", "null")
UNAUTHORIZED = "Unauthorized request. Make sure that you provided the right credentials."
WRONG_DATACENTER = {"errors": [{"detail": "wrong datacenter", "status": "301"}]}
BAD_GATEWAY_HTML = ("<html><head><title>502 Bad Gateway</title></head><body><center><h1>502 Bad Gateway</h1>"
                    "</center><hr><center>nginx</center></body></html>")

REQUIRED = object()
# kind -> the parameters it accepts, with their defaults
FAULT_KINDS: dict[str, dict[str, Any]] = {
    "status": {"status": REQUIRED, "body": None, "headers": None},
    "non_json": {"status": 502},
    "truncated_json": {},
    "delay": {"seconds": REQUIRED},
    "reset": {},
    "repeat_token": {"earlier": 0},
    "short_page": {"drop": 1},
    "count_changes": {"delta": 1},
    "state": {"state": "build", "progress": 40},
}


class RequestRecord(NamedTuple):
    """One request as the sandbox saw it: arrival (``time.monotonic``), what was asked, what it
    answered (0 while the answer is still being made, e.g. during a ``delay`` fault)."""

    time: float
    method: str
    path: str
    query: str
    status: int


# ---------------------------------------------------------------------- faults


@dataclass
class Fault:
    """One planned misbehaviour: it lets ``skip`` matching requests pass, then fires ``remaining`` times."""

    kind: str
    path: re.Pattern
    remaining: int
    params: dict[str, Any]
    skip: int = 0

    def __getitem__(self, name: str) -> Any:
        return self.params[name]


class FaultPlan:
    """The faults still to fire, shared by the server's threads."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._faults: list[Fault] = []

    def add(self, kind: str, *, path: str = r".*", times: int = 1, after: int = 0, **params: Any) -> Fault:
        """Plan ``kind`` for ``times`` requests whose path matches the regex ``path`` (``re.search``),
        after letting ``after`` of them pass unharmed (e.g. "the third page repeats a token")."""
        if kind not in FAULT_KINDS:
            raise ValueError(f"unknown fault {kind!r}; known: {', '.join(FAULT_KINDS)}")
        accepted = FAULT_KINDS[kind]
        unknown = set(params) - set(accepted)
        missing = [name for name, default in accepted.items() if default is REQUIRED and name not in params]
        if unknown or missing:
            raise ValueError(f"fault {kind!r} takes {sorted(accepted)}; unknown {sorted(unknown)}, missing {missing}")
        fault = Fault(kind, re.compile(path), times, {**accepted, **params}, skip=after)
        with self._lock:
            self._faults.append(fault)
        return fault

    def take(self, kind: str, path: str) -> Fault | None:
        """Fire the first unspent fault of this kind matching the path, or None."""
        with self._lock:
            for fault in self._faults:
                if fault.kind != kind or fault.remaining <= 0 or not fault.path.search(path):
                    continue
                if fault.skip > 0:
                    fault.skip -= 1
                    continue
                fault.remaining -= 1
                return fault
        return None

    def pending(self) -> list[Fault]:
        """Faults that have not fired as often as planned (a test can assert it is empty)."""
        with self._lock:
            return [fault for fault in self._faults if fault.remaining > 0]

    def clear(self) -> None:
        with self._lock:
            self._faults.clear()


# ---------------------------------------------------------------------- replies and tokens


@dataclass
class Reply:
    """What to send; ``cut_at`` (a reset) sends only that many body bytes, then closes."""

    status: int
    body: bytes = b""
    headers: dict[str, str] = field(default_factory=dict)
    cut_at: int | None = None


class ApiError(Exception):
    """An endpoint refusing a request; it becomes an ``errors[]`` JSON reply."""

    def __init__(self, status: int, detail: str):
        super().__init__(detail)
        self.status, self.detail = status, detail


def json_reply(status: int, payload: Any, headers: dict[str, str] | None = None) -> Reply:
    body = json.dumps(payload, separators=(",", ":")).encode()
    return Reply(status, body, {"Content-Type": "application/json", **(headers or {})})


def error_reply(status: int, detail: str, headers: dict[str, str] | None = None) -> Reply:
    """The ``{"errors":[{"detail", "status"}]}`` shape (the one seen from the App API in the wild)."""
    return json_reply(status, {"errors": [{"detail": detail, "status": str(status)}]}, headers)


class PageTokens:
    """Opaque paging tokens: urlsafe base64 of (segment id, offset) signed with a per-sandbox secret.

    Signing makes a forged token, or one from another segment or another sandbox, fail like a
    real opaque token would, instead of silently serving some other page.
    """

    _BLOB = struct.Struct(">qq")
    _SIGNATURE = 12

    def __init__(self, secret: bytes | None = None):
        self._secret = secret or os.urandom(16)

    def _sign(self, blob: bytes) -> bytes:
        return hmac.new(self._secret, blob, hashlib.sha256).digest()[: self._SIGNATURE]

    def make(self, segment_id: int, offset: int) -> str:
        blob = self._BLOB.pack(segment_id, offset)
        return base64.urlsafe_b64encode(blob + self._sign(blob)).decode().rstrip("=")

    def read(self, token: str, segment_id: int) -> int | None:
        """The offset a token stands for, or None unless this sandbox made it for this segment."""
        try:
            raw = base64.urlsafe_b64decode(token + "=" * (-len(token) % 4))
        except (binascii.Error, ValueError):
            return None
        blob, signature = raw[: self._BLOB.size], raw[self._BLOB.size:]
        if len(raw) != self._BLOB.size + self._SIGNATURE or not hmac.compare_digest(signature, self._sign(blob)):
            return None
        owner, offset = self._BLOB.unpack(blob)
        return offset if owner == segment_id and offset >= 0 else None


# ---------------------------------------------------------------------- the endpoints


@dataclass
class Request:
    method: str
    path: str
    query: str
    authorization: str
    body: bytes

    @property
    def params(self) -> dict[str, str]:
        """Query parameters, first value each (``+`` decodes to a space, as on any server)."""
        return {name: values[0] for name, values in parse_qs(self.query, keep_blank_values=True).items()}


class Endpoints:
    """The App API routes the sandbox serves, answering from a :class:`Workspace`."""

    def __init__(self, workspace: Workspace, faults: FaultPlan, end_of_pages: str):
        self.workspace, self.faults, self.end_of_pages = workspace, faults, end_of_pages
        self.tokens = PageTokens()
        self.exports = Exports(workspace)        # its base_url is set by the Sandbox once it listens
        self.routes: list[tuple[str, re.Pattern, Callable[[Request, re.Match], Reply]]] = [
            ("GET", re.compile(r"/v1/segments"), self.list_segments),
            ("GET", re.compile(r"/v1/segments/(\d+)"), self.get_segment),
            ("GET", re.compile(r"/v1/segments/(\d+)/customer_count"), self.customer_count),
            ("GET", re.compile(r"/v1/segments/(\d+)/membership"), self.membership),
            ("GET", re.compile(r"/v1/customers"), self.customers_by_email),
            ("POST", re.compile(r"/v1/customers/attributes"), self.attributes_batch),
            ("GET", re.compile(r"/v1/customers/([^/]+)/attributes"), self.person_attributes),
            ("GET", re.compile(r"/v1/customers/([^/]+)/segments"), self.person_segments),
            ("POST", re.compile(r"/v1/exports/customers"), lambda r, m: json_reply(*self.exports.create(r.body))),
            ("GET", re.compile(r"/v1/exports/(\d+)"), lambda r, m: json_reply(*self.exports.show(int(m[1])))),
            ("GET", re.compile(r"/v1/exports/(\d+)/download"), lambda r, m: json_reply(*self.exports.download(int(m[1])))),
        ]

    def answer(self, request: Request) -> Reply:
        for method, pattern, endpoint in self.routes:
            match = pattern.fullmatch(request.path)
            if match and method == request.method:
                try:
                    return endpoint(request, match)
                except ApiError as exc:
                    return error_reply(exc.status, exc.detail)
        return error_reply(404, f"no such endpoint: {request.method} {request.path}")

    # ------------------------------------------------------------------ segments

    def _segment(self, match: re.Match):
        segment = self.workspace.segment(int(match.group(1)))
        if segment is None:
            raise ApiError(404, "The segment_id does not exist.")
        return segment

    def list_segments(self, request: Request, match: re.Match) -> Reply:
        return json_reply(200, {"segments": [segment.api_dict() for segment in self.workspace.segments]})

    def get_segment(self, request: Request, match: re.Match) -> Reply:
        shown = self._segment(match).api_dict()
        fault = self.faults.take("state", request.path)
        if fault:
            shown.update(state=fault["state"], progress=fault["progress"])
        return json_reply(200, {"segment": shown})

    def customer_count(self, request: Request, match: re.Match) -> Reply:
        segment = self._segment(match)
        count = len(segment.members)
        fault = self.faults.take("count_changes", request.path)
        if fault:
            count += fault["delta"]
        return json_reply(200, {"segment_id": segment.id, "count": count})

    def membership(self, request: Request, match: re.Match) -> Reply:
        segment = self._segment(match)
        params = request.params
        limit = _limit(params.get("limit"))
        start = params.get("start") or None
        offset = self._offset(start, segment.id)
        rows = segment.members[offset: offset + limit]
        end = offset + len(rows)
        more = end < len(segment.members)
        short = self.faults.take("short_page", request.path)
        if short:
            rows, more = rows[: max(0, len(rows) - short["drop"])], True
        people = [self.workspace.identifiers_of(row) for row in rows]
        page: dict[str, Any] = {"segment_id": segment.id, "ids": [person["id"] or "" for person in people],
                                "identifiers": people}
        next_token = self.tokens.make(segment.id, end) if more else None
        repeat = self.faults.take("repeat_token", request.path) if start else None
        if repeat:
            earlier = offset - repeat["earlier"] * limit
            next_token = self.tokens.make(segment.id, earlier) if repeat["earlier"] and earlier >= limit else start
        self._set_next(page, next_token)
        return json_reply(200, page)

    def _offset(self, start: str | None, segment_id: int) -> int:
        if start is None:
            return 0
        offset = self.tokens.read(start, segment_id)
        if offset is None:
            raise ApiError(400, "The start token is not valid for this segment.")
        return offset

    def _set_next(self, page: dict[str, Any], token: str | None) -> None:
        """``next`` on the last page: left out, ``""`` or ``null``, as configured (UNCONFIRMED upstream)."""
        if token is not None:
            page["next"] = token
        elif self.end_of_pages == "empty":
            page["next"] = ""
        elif self.end_of_pages == "null":
            page["next"] = None

    # ------------------------------------------------------------------ customers

    def customers_by_email(self, request: Request, match: re.Match) -> Reply:
        email = request.params.get("email")
        if not email:
            raise ApiError(400, "email is required")
        results = []
        for row in self.workspace.rows_with_email(email):
            person = self.workspace.person(row)
            results.append({"email": person.email, "id": person.id, "cio_id": person.cio_id})
        return json_reply(200, {"results": results})

    def attributes_batch(self, request: Request, match: re.Match) -> Reply:
        id_type = self._id_type(request)
        try:
            ids = json.loads(request.body or b"null")["ids"]
        except (ValueError, TypeError, KeyError):
            raise ApiError(400, 'The body must be JSON like {"ids": [...]}.') from None
        if not isinstance(ids, list) or not 1 <= len(ids) <= MAX_IDS_PER_LOOKUP:
            raise ApiError(400, f"ids must hold between 1 and {MAX_IDS_PER_LOOKUP} identifiers.")
        rows = dict.fromkeys(row for row in (self.workspace.find(str(value), id_type) for value in ids)
                             if row is not None)
        return json_reply(200, {"customers": [{"customer": self._customer(row)} for row in rows]})

    def person_attributes(self, request: Request, match: re.Match) -> Reply:
        return json_reply(200, {"customer": self._customer(self._person(request, match))})

    def person_segments(self, request: Request, match: re.Match) -> Reply:
        segments = self.workspace.segments_of(self._person(request, match))
        return json_reply(200, {"segments": [{"id": s.id, "name": s.name, "description": s.description}
                                             for s in segments]})

    def _person(self, request: Request, match: re.Match) -> int:
        row = self.workspace.find(unquote(match.group(1)), self._id_type(request))
        if row is None:
            raise ApiError(404, "The customer_id does not exist.")
        return row

    def _id_type(self, request: Request) -> str:
        """``id_type``, refused with 400 where the workspace does not have that identifier."""
        id_type = request.params.get("id_type", "id")
        if id_type not in ID_TYPES:
            raise ApiError(400, f"id_type {id_type!r} is not an identifier in this workspace.")
        if id_type == "email" and self.workspace.identifiers == "id_only":
            raise ApiError(400, "email is not an identifier in this workspace.")
        return id_type

    def _customer(self, row: int) -> dict[str, Any]:
        person = self.workspace.person(row)
        return {"id": person.id, "identifiers": self.workspace.identifiers_of(row),
                "attributes": dict(person.attributes), "unsubscribed": person.unsubscribed, "devices": []}


def _limit(value: str | None) -> int:
    """Page size: default 1000; above 30000 clamped to 30000; anything but a positive integer is a 400."""
    if value is None or value == "":
        return DEFAULT_LIMIT
    try:
        limit = int(value)
    except ValueError:
        raise ApiError(400, f"limit must be an integer, got {value!r}.") from None
    if limit < 1:
        raise ApiError(400, "limit must be at least 1.")
    return min(limit, MAX_LIMIT)


# ---------------------------------------------------------------------- faults applied to replies


def status_fault_reply(fault: Fault, path: str) -> Reply:
    """A ``status`` fault: the given body and headers, else what that status looks like upstream."""
    status, body, headers = fault["status"], fault["body"], dict(fault["headers"] or {})
    if body is None:
        if status in (301, 302):
            headers.setdefault("Location", f"https://api-eu.customer.io{path}")
            return json_reply(status, WRONG_DATACENTER, headers)
        return error_reply(status, _default_detail(status), headers)
    if isinstance(body, (dict, list)):
        return json_reply(status, body, headers)
    raw = body.encode() if isinstance(body, str) else bytes(body)
    return Reply(status, raw, {"Content-Type": "text/plain; charset=utf-8", **headers})


def _default_detail(status: int) -> str:
    if status == 401:
        return UNAUTHORIZED
    if status == 429:
        return "Your request is over the 10-per-second limit"
    try:
        return HTTPStatus(status).phrase
    except ValueError:
        return f"status {status}"


def non_json_reply(fault: Fault) -> Reply:
    return Reply(fault["status"], BAD_GATEWAY_HTML.encode(), {"Content-Type": "text/html"})


def truncated(reply: Reply) -> Reply:
    """The real body cut in half, sent whole (a consistent Content-Length): valid HTTP, broken JSON."""
    return Reply(reply.status, reply.body[: len(reply.body) // 2], reply.headers)


def reset(reply: Reply) -> Reply:
    """The real headers and Content-Length, then half the body and a closed connection."""
    return Reply(reply.status, reply.body, reply.headers, cut_at=len(reply.body) // 2)


# ---------------------------------------------------------------------- HTTP


class _Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"   # keep-alive, as the real API: clients reuse connections
    server_version = "reconcile-sandbox"
    timeout = 30                    # an idle keep-alive connection is closed after this many seconds
    server: _Server

    def setup(self) -> None:
        super().setup()
        # headers and body leave in two writes: without this, delayed ACKs add ~40 ms to a small answer
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
    limit); only admitted requests use up the window. ``retry_after`` adds that header to those
    429s. ``end_of_pages`` is how the last membership page ends: ``"omit"`` leaves ``next``
    out, ``"empty"`` sends ``""``, ``"null"`` sends ``null``.
    """

    def __init__(self, workspace: Workspace, *, api_key: str = "sandbox-key", host: str = "127.0.0.1",
                 port: int = 0, rate_limit: float | None = 10.0, retry_after: float | None = None,
                 end_of_pages: str = "omit"):
        if end_of_pages not in END_OF_PAGES:
            raise ValueError(f"end_of_pages must be one of {END_OF_PAGES}, got {end_of_pages!r}")
        self.workspace, self.api_key = workspace, api_key
        self.host, self.port = host, port
        self.rate_limit, self.retry_after = rate_limit, retry_after
        self.faults = FaultPlan()
        self.endpoints = Endpoints(workspace, self.faults, end_of_pages)
        self.endpoints.exports.base_url = lambda: self.url
        self.requests: list[RequestRecord] = []
        self._lock = threading.Lock()
        self._admitted: deque[float] = deque()
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

    def serve_until_interrupted(self) -> None:
        """Block until Ctrl-C (the server runs in its own thread): for ``python -m reconcile.sandbox``
        and the project's ``reconcile sandbox`` command, so neither needs its own wait loop.

        Ctrl-C (SIGINT) is made to stop it even where it was started ignoring SIGINT, as a shell
        starts background jobs; otherwise ``kill -INT`` would leave it running."""
        if threading.current_thread() is threading.main_thread():
            signal.signal(signal.SIGINT, signal.default_int_handler)
        try:
            while True:
                time.sleep(3600)
        except KeyboardInterrupt:
            pass

    def inject(self, kind: str, *, path: str = r".*", times: int = 1, after: int = 0, **params: Any) -> None:
        """Shorthand for ``faults.add``: e.g. ``inject("status", status=503, path=r"/membership$")``."""
        self.faults.add(kind, path=path, times=times, after=after, **params)

    # ------------------------------------------------------------------ one request

    def answer(self, request: Request, arrived: float) -> Reply:
        """The reply to one request. It is recorded on arrival with status 0 (a delayed request
        is visible while it waits) and its status is filled in before the reply is sent."""
        pending = RequestRecord(arrived, request.method, request.path, request.query, 0)
        with self._lock:
            self.requests.append(pending)
        if self._admit(arrived):
            reply = self._answer_admitted(request)
        else:
            headers = {"Retry-After": f"{self.retry_after:g}"} if self.retry_after is not None else {}
            reply = error_reply(429, f"Your request is over the {self.rate_limit:g}-per-second limit", headers)
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
        elif not hmac.compare_digest(request.authorization.encode(), f"Bearer {self.api_key}".encode()):
            return error_reply(401, UNAUTHORIZED)
        else:
            reply = self.endpoints.answer(request)
        if reply.status == 200 and faults.take("truncated_json", path):
            return truncated(reply)
        if faults.take("reset", path):
            return reset(reply)
        return reply

    def _admit(self, arrived: float) -> bool:
        """Whether this arrival keeps admitted requests within ``rate_limit`` per any 1-second window."""
        if self.rate_limit is None:
            return True
        with self._lock:
            window = self._admitted
            while window and window[0] <= arrived - 1.0:
                window.popleft()
            if len(window) + 1 > self.rate_limit:
                return False
            window.append(arrived)
            return True

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


__all__ = ["Sandbox", "FaultPlan", "Fault", "RequestRecord", "PageTokens", "Endpoints", "FAULT_KINDS",
           "END_OF_PAGES", "DEFAULT_LIMIT", "MAX_LIMIT"]
