"""The Customer.io App API client: the only module that speaks HTTP.

It reads segments, their membership and profiles, and runs exports, as
``customerio-app-api.md`` documents them, and turns every way that can fail into one of the
exceptions of :mod:`reconcile.errors`::

    429 ..................... wait (Retry-After, else backoff), retry → RateLimited
    5xx, 408, timeout, reset,
    a body that is not JSON . backoff, retry → APIUnavailable
    301/302 wrong datacenter  WrongRegionError (never followed: it would carry the key elsewhere)
    401, 403 ................ AuthError
    404 ..................... SegmentNotFound on segment paths; an empty answer on customer
                              paths (a merged or deleted profile is not an error)
    other 4xx ............... BadRequest with the server's own detail and the status

Every request, retries included, passes one :class:`~.throttle.RateLimiter` (10 per second by
default, the App API's documented limit). Messages are one line that says what is wrong and
what to do, and never contain the API key: every message is scrubbed of it before it is raised
(:meth:`CustomerIOClient.error`). What the answers mean is in :mod:`.answers`.
"""

from __future__ import annotations

import logging
import random
import time
from typing import Any, Callable
from urllib.parse import quote, urlsplit

import requests

from .. import __version__
from ..errors import (APIUnavailable, AuthError, BadRequest, ConfigError, CustomerIOError, PaginationError,
                      RateLimited, SegmentNotFound, SegmentNotReady, WrongRegionError)
from .answers import (REGION_BASES, Segment, auth_message, connection_reason, error_detail, other_region_hosts,
                      server_error_reason, switch_region_hint, unreadable)
from .membership import Membership, MemoryMembership
from .throttle import RateLimiter, parse_retry_after

log = logging.getLogger(__name__)

MAX_PAGE_SIZE = 30_000          # membership `limit` maximum
LOOKUP_BATCH = 100              # POST /v1/customers/attributes takes 1-100 ids
ACTIVITIES_PAGE = 100           # GET /v1/customers/{id}/activities: limit at most 100
ID_TYPES = ("id", "email", "cio_id")
REDIRECTS = (301, 302, 303, 307, 308)


class _Transient(Exception):
    """An attempt that may succeed if repeated; ``reason`` says what happened, for the final message."""

    def __init__(self, reason: str, *, status: int | None = None, retry_after: float | None = None):
        super().__init__(reason)
        self.reason, self.status, self.retry_after = reason, status, retry_after


class CustomerIOClient:
    """Read-only App API client with throttling, retries and errors that say what to do.

    ``base_url`` overrides ``region`` (for the sandbox and tests). ``sleep`` is used for the
    waits between retries and export polls, so unit tests need not wait; the rate limiter always
    really waits, because throttling is what it is for.
    """

    def __init__(self, *, api_key: str, region: str = "us", base_url: str | None = None,
                 timeout: float = 30.0, max_retries: int = 5, rate_limit: float = 10.0,
                 backoff_base: float = 0.5, backoff_cap: float = 30.0, max_pages: int = 10_000,
                 session: requests.Session | None = None, sleep: Callable[[float], None] = time.sleep):
        self._key = _checked_key(api_key)
        self.region = region
        self.base_url = _base_url(region, base_url)
        self.timeout, self.max_retries, self.max_pages = timeout, max_retries, max_pages
        self.backoff_base, self.backoff_cap = backoff_base, backoff_cap
        self.limiter = RateLimiter(rate_limit)
        self._session = session or requests.Session()
        self._owns_session = session is None
        self.sleep = sleep
        self._random = random.Random()
        self._headers = {"Authorization": f"Bearer {self._key}", "Accept": "application/json",
                         "User-Agent": f"reconcile/{__version__}"}

    def __repr__(self) -> str:
        return f"CustomerIOClient(base_url={self.base_url!r}, region={self.region!r})"

    def close(self) -> None:
        if self._owns_session:
            self._session.close()

    def __enter__(self) -> CustomerIOClient:
        return self

    def __exit__(self, *exc_info: Any) -> None:
        self.close()

    # ------------------------------------------------------------------ segments

    def list_segments(self) -> list[Segment]:
        """Every segment of the workspace (one page: the API documents no paging here)."""
        path = "/v1/segments"
        body = self._call("GET", path)
        return [self._segment(item, path) for item in body.get("segments") or []]

    def get_segment(self, segment_id: int) -> Segment:
        path = f"/v1/segments/{int(segment_id)}"
        return self._segment(self._call("GET", path, segment_id=segment_id).get("segment"), path)

    def ensure_ready(self, segment_id: int) -> Segment:
        """The segment, if its membership is final; SegmentNotReady while it is still building."""
        segment = self.get_segment(segment_id)
        if segment.state != "finished":
            done = f"{segment.progress}% done" if segment.progress is not None else "progress unknown"
            raise self.error(SegmentNotReady, (
                f"Customer.io segment {segment.id} (\"{segment.name}\") is still building (state \"{segment.state}\", "
                f"{done}); its membership is not final yet: re-run once it is finished"))
        return segment

    def segment_count(self, segment_id: int) -> int:
        path = f"/v1/segments/{int(segment_id)}/customer_count"
        count = self._call("GET", path, segment_id=segment_id).get("count")
        if isinstance(count, bool) or not isinstance(count, int):
            raise self.error(CustomerIOError, unreadable("GET", path, "no integer count"))
        return count

    def segment_membership(self, segment_id: int, *, page_size: int = MAX_PAGE_SIZE,
                           on_page: Callable[[int, int], None] | None = None,
                           membership: Membership | None = None) -> Membership:
        """Every member of the segment, page by page, in the API's order.

        Paging ends when ``next`` is missing, ``""`` or ``null`` (which one the API sends is
        UNCONFIRMED). A token seen before, or more than ``max_pages`` pages, raises
        PaginationError: a loop would otherwise never end, and a cut-off list would be
        diffed as if it were complete. ``on_page(page, members_so_far)`` follows each page.
        ``membership`` is the (empty) container to fill; by default a new :class:`MemoryMembership`.
        """
        if not 1 <= page_size <= MAX_PAGE_SIZE:
            raise ValueError(f"page_size must be between 1 and {MAX_PAGE_SIZE}, got {page_size}")
        path = f"/v1/segments/{int(segment_id)}/membership"
        membership = membership if membership is not None else MemoryMembership(int(segment_id))
        given: dict[str, int] = {}          # token -> the page whose answer gave it
        token: str | None = None
        while True:
            if membership.pages >= self.max_pages:
                raise self.error(PaginationError, self._page_cap_message(membership))
            params = {"limit": page_size, **({"start": token} if token else {})}
            page = self._call("GET", path, params=params, segment_id=segment_id)
            self._read_page(membership, page, path)
            if on_page is not None:
                on_page(membership.pages, len(membership))
            token = self._next_token(page, membership, given)
            if token is None:
                return membership

    def _next_token(self, page: dict[str, Any], membership: Membership, given: dict[str, int]) -> str | None:
        """The token for the next page, None at the end; PaginationError if any earlier page gave it."""
        token = page.get("next")
        if not token:
            return None
        token = str(token)
        if token in given:
            raise self.error(PaginationError, (
                f"Customer.io repeated a paging token of segment {membership.segment_id}'s membership (first given "
                f"by page {given[token]}, again by page {membership.pages}); following it would loop or count "
                "members twice, so the list was not used: re-run, and report it if it happens again"))
        given[token] = membership.pages
        return token

    def _read_page(self, membership: Membership, page: dict[str, Any], path: str) -> None:
        membership.pages += 1
        try:
            membership.add_page(page)
        except (AttributeError, TypeError, ValueError) as exc:
            raise self.error(CustomerIOError, unreadable(
                "GET", path, f"page {membership.pages} has a shape this client cannot read ({exc})")) from None

    def _page_cap_message(self, membership: Membership) -> str:
        return (f"segment {membership.segment_id}'s membership has more than {self.max_pages:,} pages "
                f"({len(membership):,} members so far) and was not used, because it would be incomplete: "
                "raise max_pages if the segment really is that large")

    # ------------------------------------------------------------------ customers

    def customers_attributes(self, ids: list[str], id_type: str = "id") -> list[dict]:
        """The ``customer`` objects of these people, in batches of 100; unknown ids are simply absent."""
        _check_id_type(id_type)
        ids = [str(value) for value in ids]
        found: list[dict] = []
        for start in range(0, len(ids), LOOKUP_BATCH):
            body = self._call("POST", "/v1/customers/attributes", params={"id_type": id_type},
                              json={"ids": ids[start: start + LOOKUP_BATCH]}, missing_ok=True)
            entries = (body or {}).get("customers") or []
            found.extend(entry["customer"] for entry in entries
                         if isinstance(entry, dict) and isinstance(entry.get("customer"), dict))
        return found

    def customers_by_email(self, email: str) -> list[dict]:
        """Every profile with this email (there can be several); ``+`` is sent percent-encoded."""
        body = self._call("GET", "/v1/customers", params={"email": email}, missing_ok=True)
        return list((body or {}).get("results") or [])

    def customer_segments(self, customer_id: str, id_type: str = "id") -> list[dict]:
        """The segments a person is in; [] when the profile does not exist (merged or deleted)."""
        _check_id_type(id_type)
        path = f"/v1/customers/{quote(str(customer_id), safe='')}/segments"
        body = self._call("GET", path, params={"id_type": id_type}, missing_ok=True)
        return list((body or {}).get("segments") or [])

    def customer_activities(self, customer_id: str, id_type: str = "id", *, type: str | None = None,
                            name: str | None = None) -> list[dict] | None:
        """A person's activities, newest first, every page (100 each, the API's maximum); None
        when the profile does not exist. A repeated token or ``max_pages`` pages is a PaginationError."""
        _check_id_type(id_type)
        path = f"/v1/customers/{quote(str(customer_id), safe='')}/activities"
        params = {"id_type": id_type, "limit": ACTIVITIES_PAGE, **({"type": type} if type else {}),
                  **({"name": name} if name else {})}
        found: list[dict] = []
        tokens: set[str] = set()
        while len(tokens) < self.max_pages:
            body = self._call("GET", path, params=params, missing_ok=True)
            if body is None:
                return None
            found.extend(item for item in body.get("activities") or [] if isinstance(item, dict))
            token = body.get("next")
            if not token:
                return found
            if str(token) in tokens:
                raise self.error(PaginationError, f"Customer.io repeated a paging token of {path}; re-run")
            tokens.add(str(token))
            params["start"] = str(token)
        raise self.error(PaginationError, f"{path} has more than {self.max_pages:,} pages of activities")

    # ------------------------------------------------------------------ exports (see .exports)

    def create_export(self, segment_id: int) -> dict[str, Any]:
        """Start a customers export of the segment; the export object (``id``, ``status``, ``total``)."""
        path = "/v1/exports/customers"
        body = self._call("POST", path, json={"filters": {"and": [{"segment": {"id": int(segment_id)}}]}},
                          segment_id=segment_id)
        return self._export(body, "POST", path)

    def export(self, export_id: Any) -> dict[str, Any]:
        """The export object as it is now (poll it until ``status`` is ``done`` or ``failed``)."""
        path = f"/v1/exports/{export_id}"
        return self._export(self._call("GET", path), "GET", path)

    def export_download_url(self, export_id: Any) -> str:
        """A fresh signed link to the export's file (it expires after about 15 minutes)."""
        path = f"/v1/exports/{export_id}/download"
        url = (self._call("GET", path) or {}).get("url")
        if not isinstance(url, str) or not url.startswith(("http://", "https://")):
            raise self.error(CustomerIOError, unreadable("GET", path, "no download url"))
        return url

    def _export(self, body: Any, method: str, path: str) -> dict[str, Any]:
        export = body.get("export") if isinstance(body, dict) else None
        if not isinstance(export, dict) or export.get("id") is None:
            raise self.error(CustomerIOError, unreadable(method, path, "no export object with an id"))
        return export

    # ------------------------------------------------------------------ one call, retried

    def _call(self, method: str, path: str, *, params: dict | None = None, json: Any = None,
              segment_id: int | None = None, missing_ok: bool = False) -> dict[str, Any] | None:
        """The answer's JSON object after throttling and retries.

        A 404 raises SegmentNotFound when ``segment_id`` is given, returns None when
        ``missing_ok`` (customer paths), and is a CustomerIOError otherwise.
        """
        last = _Transient("no attempt was made")
        for attempt in range(self.max_retries + 1):
            if attempt:
                self._pause(attempt - 1, last, method, path)
            try:
                response = self._send(method, path, params, json)
                log.debug("Customer.io %s %s: %d", method, path, response.status_code)
                return self._interpret(response, method, path, segment_id, missing_ok)
            except _Transient as transient:
                last = transient
        raise self._exhausted(last, method, path)

    def _send(self, method: str, path: str, params: dict | None, json: Any) -> requests.Response:
        self.limiter.acquire()
        try:
            return self._session.request(method, self.base_url + path, params=params, json=json,
                                         headers=self._headers, timeout=self.timeout, allow_redirects=False)
        except requests.Timeout:
            raise _Transient(f"timed out after {self.timeout:g} s") from None
        except requests.exceptions.ChunkedEncodingError:
            raise _Transient("the connection was closed in the middle of the answer") from None
        except requests.ConnectionError as exc:
            raise _Transient(connection_reason(exc, self.timeout)) from None
        except requests.exceptions.ContentDecodingError:
            raise _Transient("the answer could not be decoded") from None
        except requests.RequestException as exc:
            raise self.error(CustomerIOError, (
                f"could not send {method} {path} to {self.base_url} ({exc.__class__.__name__}): "
                "check customerio.base_url")) from None

    def _interpret(self, response: requests.Response, method: str, path: str, segment_id: int | None,
                   missing_ok: bool) -> dict[str, Any] | None:
        status, where = response.status_code, f"{method} {path}"
        if 200 <= status < 300:
            return self._json_object(response, method, path)
        if status in REDIRECTS:
            raise self._redirect_error(response, where)
        if status in (401, 403):
            raise self.error(AuthError, auth_message(status, where))
        if status == 404:
            if missing_ok:
                return None
            if segment_id is not None:
                raise self.error(SegmentNotFound, (
                    f"Customer.io has no segment {segment_id} (404): check customerio_segment_id in the config"))
            raise self.error(CustomerIOError, f"Customer.io answered 404 for {where}: check customerio.base_url")
        if status == 429:
            raise _Transient(f"429 {response.reason} (over the per-second limit)", status=429,
                             retry_after=parse_retry_after(response.headers.get("Retry-After")))
        if status >= 500 or status == 408:
            raise _Transient(server_error_reason(response))
        raise self.error(BadRequest, (
            f"Customer.io answered {status} {response.reason} for {where}: {error_detail(response)}; "
            "fix the request or the workspace setting the detail names"), status=status)

    def _json_object(self, response: requests.Response, method: str, path: str) -> dict[str, Any]:
        try:
            body = response.json()
        except ValueError:
            raise _Transient(f"{response.status_code} with a body that is not valid JSON (cut short?)") from None
        if not isinstance(body, dict):
            raise self.error(CustomerIOError, unreadable(method, path, "not a JSON object"))
        return body

    def _redirect_error(self, response: requests.Response, where: str) -> CustomerIOError:
        """Redirects are never followed: the bearer key would go to whatever host they name."""
        location = response.headers.get("Location", "")
        said = (response.text[:2000] + " " + location).lower()
        host = urlsplit(location).hostname or ""
        if "wrong datacenter" in said or host in other_region_hosts(self.base_url):
            return self.error(WrongRegionError, (
                f"Customer.io answered {response.status_code} \"wrong datacenter\" for {where}: the workspace "
                f"lives in the other region; {switch_region_hint(self.base_url)}"))
        return self.error(CustomerIOError, (
            f"Customer.io answered {response.status_code} for {where}, redirecting to {host or 'another address'}; "
            "redirects are not followed because they would carry the API key to another host: "
            "check customerio.base_url and customerio.region"))

    def _pause(self, retry: int, last: _Transient, method: str, path: str) -> None:
        """Wait before a retry: Retry-After when the server gave one, else full-jitter backoff."""
        if last.retry_after is not None:
            wait = last.retry_after
        else:
            wait = self._random.uniform(0, min(self.backoff_cap, self.backoff_base * 2 ** retry))
        log.warning("Customer.io %s %s: %s; retry %d of %d in %.2f s", method, path, last.reason,
                    retry + 1, self.max_retries, wait)
        self.sleep(wait)

    def _exhausted(self, last: _Transient, method: str, path: str) -> CustomerIOError:
        attempts = self.max_retries + 1
        if last.status == 429:
            return self.error(RateLimited, (
                f"Customer.io still answered 429 (over the per-second limit) to {method} {path} after {attempts} "
                "attempts; another job may be using this workspace's API limit: lower "
                "customerio.requests_per_second or re-run later"))
        return self.error(APIUnavailable, (
            f"Customer.io gave no usable answer to {method} {path} after {attempts} attempts (last: {last.reason}); "
            f"check that {self.base_url} is reachable and https://status.customer.io, then re-run"))

    def _segment(self, data: Any, path: str) -> Segment:
        try:
            return Segment.from_api(data)
        except (AttributeError, KeyError, TypeError, ValueError) as exc:
            raise self.error(CustomerIOError, unreadable(
                "GET", path, f"a segment object without a usable id ({exc.__class__.__name__}: {exc})")) from None

    def error(self, kind: type[CustomerIOError], message: str, **data: Any) -> CustomerIOError:
        """The exception to raise, its message on one line and scrubbed of the API key (servers may echo it)."""
        return kind(" ".join(message.replace(self._key, "***").split()), **data)


# ---------------------------------------------------------------------- small helpers


def _check_id_type(id_type: str) -> None:
    if id_type not in ID_TYPES:
        raise ValueError(f"id_type must be one of {ID_TYPES}, got {id_type!r}")


def _checked_key(api_key: str) -> str:
    """The key without surrounding blanks; refuse one that cannot be sent (and would be echoed by requests)."""
    key = (api_key or "").strip()
    if not key:
        raise ConfigError("customerio.app_api_key is empty: set it (or the variable it names) to the App API key")
    if any(ord(char) < 33 or ord(char) > 126 for char in key):
        raise ConfigError("customerio.app_api_key contains spaces, line breaks or non-ASCII characters: "
                          "copy the App API key again from Customer.io")
    return key


def _base_url(region: str, base_url: str | None) -> str:
    if base_url:
        return base_url.rstrip("/")
    if region not in REGION_BASES:
        raise ConfigError(f"customerio.region must be \"us\" or \"eu\", got {region!r}")
    return REGION_BASES[region]


__all__ = ["CustomerIOClient", "MAX_PAGE_SIZE", "LOOKUP_BATCH", "ID_TYPES"]
