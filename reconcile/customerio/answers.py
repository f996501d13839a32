"""What Customer.io's answers mean: the objects it returns, and its errors in words.

Error bodies differ by endpoint family (``meta.error``, ``meta.errors[]``, ``errors[].detail``),
so every documented form is read; unknown keys in answers are ignored, because Customer.io adds
fields without notice. The phrases here end up in one-line messages that say what to do.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any
from urllib.parse import urlsplit

import requests

US_BASE = "https://api.customer.io"
EU_BASE = "https://api-eu.customer.io"
REGION_BASES = {"us": US_BASE, "eu": EU_BASE}
TRACK_BASES = {"us": "https://track.customer.io", "eu": "https://track-eu.customer.io"}   # the Track API's hosts


@dataclass(frozen=True)
class Segment:
    """A segment's metadata; only ``state == "finished"`` membership is worth comparing."""

    id: int
    name: str
    description: str
    state: str
    progress: int | None
    type: str
    tags: list[str] | None
    updated_at: int | None

    @classmethod
    def from_api(cls, data: dict[str, Any]) -> Segment:
        """Build from the API's Segment object, ignoring keys this client does not know."""
        tags = data.get("tags")
        return cls(id=int(data["id"]), name=str(data.get("name") or ""),
                   description=str(data.get("description") or ""), state=str(data.get("state") or ""),
                   progress=_int_or_none(data.get("progress")), type=str(data.get("type") or ""),
                   tags=[str(tag) for tag in tags] if isinstance(tags, list) else None,
                   updated_at=_int_or_none(data.get("updated_at")))


def _int_or_none(value: Any) -> int | None:
    return None if value is None else int(value)


def error_detail(response: requests.Response) -> str:
    """The server's own words about an error, on one line of at most 200 characters."""
    try:
        body = response.json()
    except ValueError:
        body = None
    found = _details(body) if isinstance(body, dict) else []
    text = "; ".join(found) if found else response.text[:200]
    return " ".join(text.split())[:200] or "(empty body)"


def _details(body: dict[str, Any]) -> list[str]:
    found: list[str] = []
    meta = body.get("meta")
    if isinstance(meta, dict):
        if meta.get("error"):
            found.append(str(meta["error"]))
        found.extend(_messages(meta.get("errors")))
    found.extend(_messages(body.get("errors")))
    return found


def _messages(items: Any) -> list[str]:
    if not isinstance(items, list):
        return []
    messages = []
    for item in items:
        if isinstance(item, dict):
            item = item.get("detail") or item.get("message") or item.get("title")
        if item:
            messages.append(str(item))
    return messages


def unreadable(method: str, path: str, what: str) -> str:
    """The message for an answer that cannot be read (the API may have changed)."""
    return (f"Customer.io's answer to {method} {path} cannot be read: {what}; the API may have changed: "
            "please report it with this message")


def other_region_hosts(base_url: str, bases: dict[str, str] = REGION_BASES) -> set[str]:
    return {urlsplit(url).hostname for url in bases.values() if url != base_url}


def switch_region_hint(base_url: str, bases: dict[str, str] = REGION_BASES) -> str:
    if base_url == bases["us"]:
        return 'set customerio.region = "eu"'
    if base_url == bases["eu"]:
        return 'set customerio.region = "us"'
    return 'set customerio.region to the workspace\'s region ("us" or "eu") and check customerio.base_url'


def auth_message(status: int, where: str) -> str:
    if status == 401:
        return (f"Customer.io answered 401 Unauthorized for {where}: the App API key is wrong or belongs to a "
                "workspace in the other region; check customerio.app_api_key and customerio.region")
    return (f"Customer.io answered 403 Forbidden for {where}: the App API key lacks the scope for this call; "
            "give it read access to segments and people in Customer.io, or use another App API key")


def server_error_reason(response: requests.Response) -> str:
    try:
        response.json()
    except ValueError:
        return f"{response.status_code} with a non-JSON body"
    detail = error_detail(response)
    said = f"{response.status_code} {response.reason}"
    return said if detail.lower() == str(response.reason).lower() else f"{said}: {detail}"


def connection_reason(exc: requests.ConnectionError, timeout: float) -> str:
    text = str(exc).lower()
    if "timed out" in text:           # a timeout while reading the body surfaces as ConnectionError
        return f"timed out after {timeout:g} s"
    if "refused" in text:
        return "the connection was refused"
    return "the connection failed or was dropped"


__all__ = ["US_BASE", "EU_BASE", "REGION_BASES", "TRACK_BASES", "Segment", "error_detail", "unreadable", "other_region_hosts",
           "switch_region_hint", "auth_message", "server_error_reason", "connection_reason"]
