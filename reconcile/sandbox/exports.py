"""The sandbox's Exports API (``customerio-app-api.md`` §3), with its file host.

* ``POST /v1/exports/customers`` with ``{"filters": {...}}`` holding a ``{"segment": {"id": N}}``
  leaf creates a ``pending`` export whose ``total`` stays 0 until it is done.
* ``GET /v1/exports/{id}`` moves it to ``done`` after ``ready_after`` polls (or to ``failed``
  when the sandbox was told to fail the next export).
* ``GET /v1/exports/{id}/download`` returns ``{"url": ...}``, a signed link to ``/_files/...``
  on the same server that expires ``url_ttl`` seconds later (900, as upstream); an expired or
  forged link gets 403, the way object stores answer.
* The file is CSV with a header ``id,email,cio_id`` (gzipped when ``gzip`` is set), one of the
  plausible forms; the client reads the others too (tested on bytes).

``Exports.download_authorizations`` records the ``Authorization`` header of every file request,
so tests can prove the API key never reaches the file host.
"""

from __future__ import annotations

import base64
import csv
import gzip
import hashlib
import hmac
import io
import json
import os
import re
import threading
import time
from typing import Any

FILES = re.compile(r"/_files/([A-Za-z0-9_-]+)")


class Exports:
    def __init__(self, workspace, base_url=lambda: ""):
        self.workspace, self.base_url = workspace, base_url
        self.ready_after, self.url_ttl, self.gzip = 2, 900.0, False
        self.fail_next = 0                      # how many of the next exports fail
        self.download_authorizations: list[str] = []
        self._exports: dict[int, dict[str, Any]] = {}
        self._secret = os.urandom(16)
        self._lock = threading.Lock()

    # ------------------------------------------------------------------ the API side

    def create(self, body: bytes) -> tuple[int, dict]:
        try:
            filters = json.loads(body or b"null")["filters"]
        except (ValueError, TypeError, KeyError):
            return 400, _error(400, 'The body must be JSON like {"filters": {"and": [{"segment": {"id": 7}}]}}.')
        segment_id = _segment_leaf(filters)
        segment = self.workspace.segment(segment_id) if segment_id is not None else None
        if segment is None:
            return 400, _error(400, "filters must name an existing segment.")
        now = int(time.time())
        with self._lock:
            export_id = len(self._exports) + 1
            failing = self.fail_next > 0
            self.fail_next -= 1 if failing else 0
            self._exports[export_id] = {"id": export_id, "segment": segment.id, "polls": 0, "failing": failing,
                                        "status": "pending", "created_at": now, "updated_at": now, "downloads": 0}
            return 200, {"export": self._shown(export_id)}

    def show(self, export_id: int) -> tuple[int, dict]:
        with self._lock:
            export = self._exports.get(export_id)
            if export is None:
                return 404, _error(404, "The export_id does not exist.")
            export["polls"] += 1
            if export["status"] == "pending" and export["polls"] >= self.ready_after:
                export["status"] = "failed" if export["failing"] else "done"
                export["updated_at"] = int(time.time())
            return 200, {"export": self._shown(export_id)}

    def download(self, export_id: int) -> tuple[int, dict]:
        with self._lock:
            export = self._exports.get(export_id)
            if export is None:
                return 404, _error(404, "The export_id does not exist.")
            if export["status"] != "done":
                return 400, _error(400, f"The export is {export['status']}; only a done export can be downloaded.")
            export["downloads"] += 1
        expires = time.time() + self.url_ttl
        blob = f"{export_id}:{expires:.3f}".encode()
        token = base64.urlsafe_b64encode(blob + b"|" + self._sign(blob)).decode().rstrip("=")
        return 200, {"url": f"{self.base_url()}/_files/{token}"}

    def _shown(self, export_id: int) -> dict:
        export = self._exports[export_id]
        done = export["status"] == "done"
        return {"id": export_id, "user_id": 1, "user_email": "sandbox@example.com",
                "total": len(self.workspace.segment(export["segment"]).members) if done else 0,
                "deduplicate_id": f"{export_id}:{export['updated_at']}", "type": "customers",
                "failed": export["status"] == "failed", "status": export["status"], "description": "",
                "downloads": export["downloads"], "created_at": export["created_at"],
                "updated_at": export["updated_at"]}

    # ------------------------------------------------------------------ the file host

    def file(self, token: str, authorization: str) -> tuple[int, bytes, dict]:
        self.download_authorizations.append(authorization)
        try:
            raw = base64.urlsafe_b64decode(token + "=" * (-len(token) % 4))
            blob, signature = raw.rsplit(b"|", 1)
            export_id, expires = blob.decode().split(":")
        except ValueError:
            return 403, b"<Error><Code>AccessDenied</Code></Error>", {"Content-Type": "application/xml"}
        if not hmac.compare_digest(signature, self._sign(blob)):
            return 403, b"<Error><Code>SignatureDoesNotMatch</Code></Error>", {"Content-Type": "application/xml"}
        if time.time() > float(expires):
            return 403, (b"<Error><Code>AccessDenied</Code><Message>Request has expired</Message></Error>"), \
                {"Content-Type": "application/xml"}
        body = self.csv(self._exports[int(export_id)]["segment"])
        if self.gzip:
            return 200, gzip.compress(body, 1), {"Content-Type": "application/gzip"}
        return 200, body, {"Content-Type": "text/csv"}

    def csv(self, segment_id: int) -> bytes:
        out = io.StringIO()
        writer = csv.writer(out, lineterminator="\n")
        writer.writerow(["id", "email", "cio_id"])
        for row in self.workspace.segment(segment_id).members:
            person = self.workspace.identifiers_of(int(row))
            writer.writerow([person.get("id") or "", person.get("email") or "", person["cio_id"]])
        return out.getvalue().encode()

    def _sign(self, blob: bytes) -> bytes:
        return hmac.new(self._secret, blob, hashlib.sha256).hexdigest()[:24].encode()


def _segment_leaf(filters: Any) -> int | None:
    """The segment id of the first ``{"segment": {"id": N}}`` leaf in an audience filter."""
    if isinstance(filters, dict):
        segment = filters.get("segment")
        if isinstance(segment, dict) and isinstance(segment.get("id"), int):
            return segment["id"]
        for key in ("and", "or", "not"):
            found = _segment_leaf(filters.get(key))
            if found is not None:
                return found
    if isinstance(filters, list):
        for item in filters:
            found = _segment_leaf(item)
            if found is not None:
                return found
    return None


def _error(status: int, detail: str) -> dict:
    return {"errors": [{"detail": detail, "status": str(status)}]}


__all__ = ["Exports", "FILES"]
