"""The Customer.io Track API client: the writes a repair plan sends, and the workspace check.

As ``customerio-track-api.md`` documents them: hosts per region (``track.customer.io``,
``track-eu.customer.io``), HTTP Basic auth with the Site ID as user name and the Track API key as
password, JSON bodies. Throttling, retries (429 with ``Retry-After``, 5xx, timeouts, resets) and
refused redirects are the App client's (:mod:`.http`), through a limiter of its own::

    2xx ..................... accepted (an empty body, or ``{}``, is a success)
    301/302 wrong datacenter  WrongRegionError
    401, 403 ................ AuthError: the site id or Track key is wrong, or the region
    other 4xx ............... BadRequest with the server's detail: this call, not the run, is wrong

A write's path can hold a person's id or email, so every message and log line names the call by
a label the caller gives (``PUT /api/v1/customers/…``), never by its path; the key and the Basic
credentials are scrubbed from every message.
"""

from __future__ import annotations

import base64
from typing import Any

import requests

from ..errors import AuthError, BadRequest, ConfigError, CustomerIOError
from .answers import TRACK_BASES, error_detail, unreadable
from .http import REDIRECTS, RetryingClient, Transient, checked_key

REGION_PATH = "/api/v1/accounts/region"
WRITE_METHODS = ("PUT", "POST", "DELETE")


class TrackClient(RetryingClient):
    """Track API client: ``workspace()`` says which workspace the credentials write to; ``send`` writes."""

    def __init__(self, *, site_id: str, api_key: str, **options: Any):
        """``options`` as for the App client (:class:`~.http.RetryingClient`): region, base_url, limits."""
        site = checked_key(site_id, "customerio.site_id", "Site ID")
        if ":" in site:
            raise ConfigError("customerio.site_id contains ':', which Basic auth cannot carry: "
                                  "copy the Site ID again from Customer.io")
        key = checked_key(api_key, "customerio.track_api_key", "Track API key")
        token = base64.b64encode(f"{site}:{key}".encode()).decode()
        super().__init__(secrets=(key, token), headers={"Authorization": f"Basic {token}"}, bases=TRACK_BASES,
                         **options)
        self.site_id = site

    def __repr__(self) -> str:
        return f"TrackClient(base_url={self.base_url!r}, region={self.region!r})"

    def workspace(self) -> dict[str, str]:
        """``{"region", "environment_id", "url"}``: the workspace these credentials write to."""
        body = self._call("GET", REGION_PATH)
        if not isinstance(body, dict) or body.get("environment_id") in (None, ""):
            raise self.error(CustomerIOError, unreadable("GET", REGION_PATH, "no environment_id"))
        return {"region": str(body.get("region") or ""), "environment_id": str(body["environment_id"]),
                "url": str(body.get("url") or "")}

    def send(self, method: str, path: str, body: Any = None, *, label: str | None = None) -> dict[str, Any]:
        """One write, exactly as given (a plan's call); the answer's JSON object, ``{}`` when empty."""
        if method not in WRITE_METHODS or not path.startswith(("/api/v1/", "/api/v2/")):
            raise ValueError(f"not a Track API write: {method} {label or path}")
        return self._call(method, path, json=body, label=label)

    def _interpret(self, response: requests.Response, method: str, path: str, where: str) -> dict[str, Any]:
        status = response.status_code
        if 200 <= status < 300:
            try:
                body = response.json() if response.content.strip() else {}
            except ValueError:
                if method == "GET":
                    raise Transient(f"{status} with a body that is not valid JSON (cut short?)") from None
                body = {}       # the status is the answer to a write; a body cut short changes nothing
            return body if isinstance(body, dict) else {}
        if status in REDIRECTS:
            raise self._redirect_error(response, where)
        if status in (401, 403):
            raise self.error(AuthError, (
                f"Customer.io answered {status} for {where}: the Site ID or Track API key is wrong, lacks "
                "write access, or belongs to a workspace in the other region; check customerio.site_id, "
                "customerio.track_api_key and customerio.region"))
        self.repeatable(response)
        raise self.error(BadRequest, (
            f"Customer.io answered {status} {response.reason} for {where}: {error_detail(response)}"), status=status)


__all__ = ["TrackClient", "REGION_PATH", "WRITE_METHODS"]
