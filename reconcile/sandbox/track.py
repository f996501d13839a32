"""The stand-in Track API: the writes a repair plan sends, on the same server as the App API.

What ``customerio-track-api.md`` documents, answered from and written into the
:class:`~.workspace.Workspace` (whose data-driven segments then follow their people)::

    GET    /api/v1/accounts/region           {url, region, environment_id}
    PUT    /api/v1/customers/{identifier}    identify: update, give an identifier, or create
    DELETE /api/v1/customers/{identifier}    delete (200 whether or not the person exists)
    POST   /api/v1/customers/{identifier}/suppress   delete and block the id and email
    POST   /api/v1/merge_customers           {"primary": {one key}, "secondary": {one key}}

Auth is HTTP Basic with the workspace's Site ID and Track API key, which are not the App API
key. The path identifier is a ``cio_<cio_id>``, an email (it has an ``@``, in an email-or-id
workspace) or else an id. Where Customer.io answers 200 but logs a failure instead of applying
the change (``_update`` matching nobody, a ``cio_`` that does not exist, a merge whose profiles
are gone, a suppressed identifier) the sandbox does the same and records the failure in
:attr:`TrackEndpoints.failures`. Where the real answer is UNCONFIRMED (a delete of nobody, a merge
replayed after it succeeded) the sandbox answers 200 and changes nothing. The v2 batch endpoint
is not served: nothing in reconcile sends it.
"""

from __future__ import annotations

import base64
import hmac
import json
import re
import threading
from typing import Any, Callable
from urllib.parse import unquote

from .api import Request
from .replies import Reply, json_reply
from .workspace import Workspace, email_key

MAX_VALUE_BYTES, MAX_ATTRIBUTES = 1000, 300
IDENTIFIERS = ("id", "email", "cio_id")
UNSUBSCRIBED_TRUE = ("true", "1")


class TrackEndpoints:
    """The Track API routes, writing into ``workspace`` under one lock (the server is threaded)."""

    def __init__(self, workspace: Workspace, site_id: str, api_key: str, base_url: Callable[[], str]):
        self.workspace, self.base_url = workspace, base_url
        self._credentials = f"Basic {base64.b64encode(f'{site_id}:{api_key}'.encode()).decode()}"
        self.suppressed: set[str] = set()
        self.failures: list[str] = []
        self._lock = threading.Lock()
        self.routes: list[tuple[str, re.Pattern, Callable[[Request, re.Match], Reply]]] = [
            ("GET", re.compile(r"/api/v1/accounts/region"), self.region),
            ("PUT", re.compile(r"/api/v1/customers/([^/]+)"), self.identify),
            ("DELETE", re.compile(r"/api/v1/customers/([^/]+)"), self.delete),
            ("POST", re.compile(r"/api/v1/customers/([^/]+)/suppress"), self.suppress),
            ("POST", re.compile(r"/api/v1/merge_customers"), self.merge),
        ]

    def answer(self, request: Request) -> Reply:
        if not hmac.compare_digest(request.authorization.encode(), self._credentials.encode()):
            return json_reply(401, {"meta": {"error": "Unauthorized request"}})
        for method, pattern, endpoint in self.routes:
            match = pattern.fullmatch(request.path)
            if match and method == request.method:
                with self._lock:
                    return endpoint(request, match)
        return json_reply(404, {"meta": {"error": f"no such endpoint: {request.method} {request.path}"}})

    def region(self, request: Request, match: re.Match) -> Reply:
        return json_reply(200, {"url": self.base_url(), "region": "us",
                                "environment_id": self.workspace.environment_id})

    # ------------------------------------------------------------------ people

    def identify(self, request: Request, match: re.Match) -> Reply:
        body = _object(request.body)
        if body is None:
            return _errors("the body must be a JSON object of attributes")
        problem = _too_big(body)
        if problem:
            return _errors(problem)
        kind, value = self._identifier(unquote(match[1]))
        if self._blocked(kind, value) or any(self._blocked(k, body[k]) for k in ("id", "email") if body.get(k)):
            return self._failed(f"{kind} {value} is suppressed: ignored")
        row = self._target(kind, value, body)
        if row is None:
            return json_reply(200, {})          # Customer.io answers 200 and logs why nothing changed
        if "unsubscribed" in body:
            self.workspace.set_unsubscribed(row, str(body["unsubscribed"]).strip().lower() in UNSUBSCRIBED_TRUE)
        changes = {name: _stored(value) for name, value in body.items()
                   if not name.startswith("_") and name not in ("id", "cio_id", "unsubscribed")}
        self.workspace.set_attributes(row, changes)
        return json_reply(200, {})

    def _target(self, kind: str, value: str, body: dict[str, Any]) -> int | None:
        """The profile an identify writes to (created if need be), or None with the failure logged."""
        row = self.workspace.find(value, kind)
        if row is not None:
            for key in ("id", "email"):       # a refused identifier change is logged, the attributes still apply
                if body.get(key) not in (None, ""):
                    self._give(row, key, str(body[key]), change=kind == "cio_id")
            return row
        if kind == "cio_id":
            self.failures.append(f"no profile cio_{value}: dropped")
            return None
        row = self._by_body(body)
        if row is not None:
            return row if self._give(row, kind, value, change=False) else None
        if body.get("_update") is True:
            self.failures.append(f"Failed Attribute Change: no profile with {kind} {value}")
            return None
        return self.workspace.add_profile(value if kind == "id" else _text(body.get("id")),
                                          value if kind == "email" else _text(body.get("email")))

    def delete(self, request: Request, match: re.Match) -> Reply:
        kind, value = self._identifier(unquote(match[1]))
        row = self.workspace.find(value, kind)
        if row is not None:
            self.workspace.remove(row)
        return json_reply(200, {})

    def suppress(self, request: Request, match: re.Match) -> Reply:
        kind, value = self._identifier(unquote(match[1]))
        row = self.workspace.find(value, kind)
        if row is None:
            self.suppressed.add(_blocked_key(kind, value))
            return json_reply(200, {})
        person = self.workspace.person(row)
        self.suppressed.update(_blocked_key(k, v) for k, v in (("id", person.id), ("email", person.email)) if v)
        self.workspace.remove(row)
        return json_reply(200, {})

    def merge(self, request: Request, match: re.Match) -> Reply:
        body = _object(request.body)
        sides = [body.get(side) if body else None for side in ("primary", "secondary")]
        if not all(isinstance(side, dict) and len(side) == 1 and next(iter(side)) in IDENTIFIERS for side in sides):
            return json_reply(400, {"meta": {"error": "primary and secondary must each hold exactly one of "
                                                      "id, email or cio_id"}})
        (primary_kind, primary), (secondary_kind, secondary) = (next(iter(side.items())) for side in sides)
        rows = [self.workspace.find(str(primary), primary_kind), self.workspace.find(str(secondary), secondary_kind)]
        if None in rows or rows[0] == rows[1]:
            return self._failed(f"merge of {primary_kind} {primary} and {secondary_kind} {secondary}: "
                                "a profile does not exist (or both are one): nothing merged")
        self.workspace.merge(*rows)
        return json_reply(200, {})

    # ------------------------------------------------------------------ helpers

    def _identifier(self, text: str) -> tuple[str, str]:
        """(kind, value) of a path identifier: ``cio_…``, an email (with ``@``) or an id."""
        if text.startswith("cio_"):
            return "cio_id", text[4:]
        if "@" in text and self.workspace.identifiers == "email_or_id":
            return "email", text
        return "id", text

    def _by_body(self, body: dict[str, Any]) -> int | None:
        for key in ("id", "email"):
            if body.get(key) not in (None, ""):
                row = self.workspace.find(str(body[key]), key)
                if row is not None:
                    return row
        return None

    def _give(self, row: int, kind: str, value: str, change: bool) -> bool:
        """Give the profile this identifier; whether it has it now. Another one it already has is
        replaced only with ``change`` (the profile was addressed by its cio_id)."""
        person = self.workspace.person(row)
        current = person.id if kind == "id" else email_key(person.email)
        wanted = value if kind == "id" else email_key(value)
        if current == wanted or kind == "cio_id":
            return True
        if current is not None and not change:
            self.failures.append(f"Attribute Update Failure: the {kind} of cio_{person.cio_id} is kept")
            return False
        self.workspace.set_identifier(row, kind, value)
        return True

    def _blocked(self, kind: str, value: Any) -> bool:
        return _blocked_key(kind, str(value)) in self.suppressed

    def _failed(self, what: str) -> Reply:
        self.failures.append(what)
        return json_reply(200, {})


def _blocked_key(kind: str, value: str) -> str:
    return f"email:{email_key(value)}" if kind == "email" else f"{kind}:{value}"


def _object(raw: bytes) -> dict[str, Any] | None:
    try:
        body = json.loads(raw or b"null")
    except ValueError:
        return None
    return body if isinstance(body, dict) else None


def _too_big(body: dict[str, Any]) -> str | None:
    if len(body) > MAX_ATTRIBUTES:
        return f"a person can have at most {MAX_ATTRIBUTES} attributes per call"
    for name, value in body.items():
        if len((_stored(value) or "").encode()) > MAX_VALUE_BYTES:
            return f"value for attribute '{name}' cannot be longer than {MAX_VALUE_BYTES} bytes"
    return None


def _stored(value: Any) -> str | None:
    """How an attribute is kept, as the App API reads it back: text (None removes the attribute)."""
    if value is None:
        return None
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, (dict, list)):
        return json.dumps(value, separators=(",", ":"))
    return str(value)


def _text(value: Any) -> str | None:
    return None if value in (None, "") else str(value)


def _errors(message: str) -> Reply:
    return json_reply(400, {"meta": {"errors": [message]}})


__all__ = ["TrackEndpoints"]
