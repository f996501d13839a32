"""What the stand-in App API answers: the routes, their replies and their refusals.

An answer is made here from a :class:`Request` and the :class:`Workspace` (and, for exports, the
export's progress); sockets, threads, the rate limit and auth live in :mod:`.server`, so the route
table reads as the list of what ``customerio-app-api.md`` documents. An endpoint refuses by
raising :class:`ApiError`, which :meth:`Endpoints.answer` turns into the ``errors[]`` body the App
API sends.

The faults that change what an endpoint says (``state``, ``count_changes``, ``short_page``,
``repeat_token``, ``fresh_token_same_page``) are taken here, where the answer is made; those that change whether or how an
answer is sent are applied by :mod:`.server`. Replies are :mod:`.replies`' values, which the
faults build too.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import hmac
import json
import os
import re
import struct
from dataclasses import dataclass
from typing import Any, Callable
from urllib.parse import parse_qs, unquote

from . import activities
from .exports import Exports
from .faults import FaultPlan
from .replies import Reply, error_reply, json_reply
from .workspace import ID_TYPES, Workspace

DEFAULT_LIMIT, MAX_LIMIT = 1000, 30_000
MAX_IDS_PER_LOOKUP = 100
END_OF_PAGES = ("omit", "empty", "null")


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


class ApiError(Exception):
    """An endpoint refusing a request; it becomes an ``errors[]`` JSON reply."""

    def __init__(self, status: int, detail: str):
        super().__init__(detail)
        self.status, self.detail = status, detail


class PageTokens:
    """Opaque paging tokens: urlsafe base64 of (segment id, offset) signed with a per-sandbox secret.

    Signing makes a forged token, or one from another segment or another sandbox, fail like a
    real opaque token would, instead of silently serving some other page.
    """

    _BLOB = struct.Struct(">qqq")          # segment id, offset, a serial: no two tokens alike
    _SIGNATURE = 12

    def __init__(self, secret: bytes | None = None):
        self._secret = secret or os.urandom(16)

    def _sign(self, blob: bytes) -> bytes:
        return hmac.new(self._secret, blob, hashlib.sha256).digest()[: self._SIGNATURE]

    def make(self, segment_id: int, offset: int, serial: int = 0) -> str:
        blob = self._BLOB.pack(segment_id, offset, serial)
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
        owner, offset, _ = self._BLOB.unpack(blob)
        return offset if owner == segment_id and offset >= 0 else None


class Endpoints:
    """The App API routes the sandbox serves, answering from a :class:`Workspace`."""

    def __init__(self, workspace: Workspace, faults: FaultPlan, end_of_pages: str):
        self.workspace, self.faults, self.end_of_pages = workspace, faults, end_of_pages
        self.tokens = PageTokens()
        self.serial = 0
        self.activity_tokens = PageTokens()      # a token of one profile's activities fits no other list
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
            ("GET", re.compile(r"/v1/customers/([^/]+)/activities"), self.person_activities),
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
        stale = self.faults.take("fresh_token_same_page", request.path)
        if stale:                 # a token never seen before that leads back to (near) this page
            self.serial += 1
            next_token = self.tokens.make(segment.id, max(0, offset - stale["back"]), self.serial)
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

    def person_activities(self, request: Request, match: re.Match) -> Reply:
        """One page of the profile's activity log (:mod:`.activities`)."""
        row = self._person(request, match)
        params, person = request.params, self.workspace.person(row)
        limit = _limit(params.get("limit"), activities.DEFAULT_LIMIT, activities.MAX_LIMIT)
        start = params.get("start") or None
        offset = 0 if start is None else self.activity_tokens.read(start, row)
        if offset is None:
            raise ApiError(400, "The start token is not valid for this customer.")
        shown, more = activities.page(self.workspace.activities, person.cio_id, person.id,
                                      self.workspace.identifiers_of(row), type=params.get("type") or None,
                                      name=params.get("name") or None, offset=offset, limit=limit)
        answer: dict[str, Any] = {"activities": shown}
        self._set_next(answer, self.activity_tokens.make(row, offset + limit) if more else None)
        return json_reply(200, answer)

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
        """The spec's customer object: ``id`` is a string, left out for a profile without one."""
        person = self.workspace.person(row)
        shown = {"id": person.id} if person.id is not None else {}
        return {**shown, "identifiers": self.workspace.identifiers_of(row),
                "attributes": dict(person.attributes), "unsubscribed": person.unsubscribed, "devices": []}


def _limit(value: str | None, default: int = DEFAULT_LIMIT, most: int = MAX_LIMIT) -> int:
    """Page size: ``default`` when not given; above ``most`` clamped to it; anything but a
    positive integer is a 400 (membership: default 1000, at most 30000)."""
    if value is None or value == "":
        return default
    try:
        limit = int(value)
    except ValueError:
        raise ApiError(400, f"limit must be an integer, got {value!r}.") from None
    if limit < 1:
        raise ApiError(400, "limit must be at least 1.")
    return min(limit, most)


__all__ = ["Request", "ApiError", "PageTokens", "Endpoints", "END_OF_PAGES", "DEFAULT_LIMIT", "MAX_LIMIT"]
