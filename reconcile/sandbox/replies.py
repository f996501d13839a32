"""A reply of the stand-in API: status, body, headers, and how it is cut short (a reset).

The endpoints (:mod:`.api`) and the faults (:mod:`.faults`) both build replies, so they live
here, below both.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from typing import Any

UNAUTHORIZED = "Unauthorized request. Make sure that you provided the right credentials."


@dataclass
class Reply:
    """What to send; ``cut_at`` (a reset) sends only that many body bytes, then closes."""

    status: int
    body: bytes = b""
    headers: dict[str, str] = field(default_factory=dict)
    cut_at: int | None = None


def json_reply(status: int, payload: Any, headers: dict[str, str] | None = None) -> Reply:
    body = json.dumps(payload, separators=(",", ":")).encode()
    return Reply(status, body, {"Content-Type": "application/json", **(headers or {})})


def error_reply(status: int, detail: str, headers: dict[str, str] | None = None) -> Reply:
    """The ``{"errors":[{"detail", "status"}]}`` shape (the one seen from the App API in the wild)."""
    return json_reply(status, {"errors": [{"detail": detail, "status": str(status)}]}, headers)


__all__ = ["Reply", "json_reply", "error_reply", "UNAUTHORIZED"]
