"""Faults on demand: what production does on a bad day, planned by a test and fired by the sandbox.

A fault is data (a kind, a path regex, how many matching requests to let pass, how often to
fire) rather than a callback, so a test states the bad day in one line
(``inject("status", status=503, path=r"/membership$")``) and can assert afterwards that every
planned fault fired (:meth:`FaultPlan.pending`). :data:`FAULT_KINDS` is the one list of kinds
and their parameters; :meth:`FaultPlan.add` checks a plan against it, so a misspelt fault fails
where it is written instead of never firing.

The kinds act at three points of one request:

* before the endpoint, in :mod:`.server`: ``delay``, then ``status`` and ``non_json``, whose
  replies are built here (:func:`status_fault_reply`, :func:`non_json_reply`);
* inside the endpoint, in :mod:`.api`: ``state``, ``count_changes``, ``short_page``,
  ``repeat_token`` and ``fresh_token_same_page`` change what the answer says;
* after the endpoint, in :mod:`.server`: ``truncated_json`` and ``reset`` change how the real
  answer is sent (:func:`truncated`, :func:`reset`).
"""

from __future__ import annotations

import re
import threading
from dataclasses import dataclass
from http import HTTPStatus
from typing import Any

from .replies import UNAUTHORIZED, Reply, error_reply, json_reply

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
    "fresh_token_same_page": {"back": 0},   # a new token each page, serving this page again (``back`` members earlier)
    "short_page": {"drop": 1},
    "count_changes": {"delta": 1},
    "state": {"state": "build", "progress": 40},
}


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


# ---------------------------------------------------------------------- the replies faults send


def status_fault_reply(fault: Fault, path: str) -> Reply:
    """A ``status`` fault: the given body and headers, else what that status looks like upstream."""
    status, body, headers = fault["status"], fault["body"], dict(fault["headers"] or {})
    if status == 429 and fault["headers"] is None:
        headers["Retry-After"] = "1"   # the limit's own answer carries one; headers={} sends none
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


__all__ = ["FAULT_KINDS", "Fault", "FaultPlan", "status_fault_reply", "non_json_reply", "truncated", "reset"]
