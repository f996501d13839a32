"""POST a JSON document to a webhook, the one way Slack and generic webhooks are reached.

A webhook's URL is often its credential (Slack's carries the token in its path), so no message
ever shows more of it than its scheme and host, and redirects are never followed: they would
send the payload to an address nobody configured. Anything but a 2xx answer is a failure that
says what the receiver answered.
"""

from __future__ import annotations

import json
from urllib.parse import urlsplit

import requests

from .. import __version__


class PostFailed(Exception):
    """The receiver did not take the document; the message is safe to print."""


def shown(url: str) -> str:
    """``scheme://host[:port]``: all of a webhook URL that may be printed."""
    parts = urlsplit(url)
    return f"{parts.scheme}://{parts.hostname or '?'}{f':{parts.port}' if parts.port else ''}"


def post_json(url: str, document: dict, timeout: float) -> int:
    """POST ``document``; the receiver's status code, or PostFailed saying why it did not take it."""
    body = json.dumps(document, ensure_ascii=False).encode("utf-8")
    headers = {"Content-Type": "application/json; charset=utf-8", "User-Agent": f"reconcile/{__version__}"}
    try:
        response = requests.post(url, data=body, headers=headers, timeout=timeout, allow_redirects=False)
    except requests.Timeout:
        raise PostFailed(f"no answer within {timeout:g} s") from None
    except requests.ConnectionError:
        raise PostFailed("the connection failed (refused, reset or no route); check the URL's host") from None
    except requests.RequestException as exc:
        raise PostFailed(f"the request failed ({exc.__class__.__name__})") from None
    if 300 <= response.status_code < 400:
        raise PostFailed(f"answered {response.status_code} {response.reason}, a redirect, which is not followed "
                         "(it would carry the message elsewhere); check the URL")
    if not 200 <= response.status_code < 300:
        detail = " ".join(response.text[:200].split())
        secret = urlsplit(url).path
        if len(secret) > 1:
            detail = detail.replace(secret, "/…")
        raise PostFailed(f"answered {response.status_code} {response.reason}" + (f" ({detail})" if detail else ""))
    return response.status_code


__all__ = ["post_json", "PostFailed", "shown"]
