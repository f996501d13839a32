"""The Customer.io App API client (the Track API's is :mod:`.track`; their shared retries, :mod:`.http`).

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
(:meth:`~.http.RetryingClient.error`). What the answers mean is in :mod:`.answers`.
"""

from __future__ import annotations

from typing import Any, Callable
from urllib.parse import quote

import requests

from ..errors import AuthError, BadRequest, CustomerIOError, PaginationError, SegmentNotFound, SegmentNotReady
from .answers import REGION_BASES, Segment, auth_message, error_detail, unreadable
from .http import REDIRECTS, RetryingClient, Transient, checked_key
from .membership import Membership, MemoryMembership

MAX_PAGE_SIZE = 30_000          # membership `limit` maximum
LOOKUP_BATCH = 100              # POST /v1/customers/attributes takes 1-100 ids
ACTIVITIES_PAGE = 100           # GET /v1/customers/{id}/activities: limit at most 100
ID_TYPES = ("id", "email", "cio_id")


class CustomerIOClient(RetryingClient):
    """Read-only App API client with throttling, retries and errors that say what to do.

    ``base_url`` overrides ``region`` (for the sandbox and tests). ``sleep`` is used for the
    waits between retries and export polls, so unit tests need not wait; the rate limiter always
    really waits, because throttling is what it is for.
    """

    def __init__(self, *, api_key: str, max_pages: int = 10_000, **options: Any):
        """``options``: ``region``, ``base_url``, ``timeout``, ``max_retries``, ``rate_limit``,
        ``backoff_base``, ``backoff_cap``, ``session`` and ``sleep`` (see :class:`~.http.RetryingClient`)."""
        key = checked_key(api_key, "customerio.app_api_key", "App API key")
        super().__init__(secrets=(key,), headers={"Authorization": f"Bearer {key}"}, bases=REGION_BASES, **options)
        self.max_pages = max_pages

    def __repr__(self) -> str:
        return f"CustomerIOClient(base_url={self.base_url!r}, region={self.region!r})"

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
                           membership: Membership | None = None, expected: int | None = None) -> Membership:
        """Every member of the segment, page by page, in the API's order.

        Paging ends when ``next`` is missing, ``""`` or ``null`` (which one the API sends is
        UNCONFIRMED). Paging that makes no progress raises PaginationError as soon as it shows,
        whatever the tokens look like: a token seen before, a page serving the same members as an
        earlier one, more members than ``expected`` (the segment's ``customer_count``) allows with
        a margin for people joining meanwhile, or more than ``max_pages`` pages. A loop would
        otherwise run until the page cap, and a list read twice would be diffed as if it were the
        segment. ``on_page(page, members_so_far)`` follows each page. ``membership`` is the (empty)
        container to fill; by default a new :class:`MemoryMembership`.
        """
        if not 1 <= page_size <= MAX_PAGE_SIZE:
            raise ValueError(f"page_size must be between 1 and {MAX_PAGE_SIZE}, got {page_size}")
        path = f"/v1/segments/{int(segment_id)}/membership"
        membership = membership if membership is not None else MemoryMembership(int(segment_id))
        given: dict[str, int] = {}          # token -> the page whose answer gave it
        served: dict[tuple, int] = {}       # a page's members, in short -> the page that served them
        most = None if expected is None else expected + max(page_size, expected // 100)
        token: str | None = None
        while True:
            if membership.pages >= self.max_pages:
                raise self.error(PaginationError, self._page_cap_message(membership))
            params = {"limit": page_size, **({"start": token} if token else {})}
            page = self._call("GET", path, params=params, segment_id=segment_id)
            self._read_page(membership, page, path)
            self._check_progress(membership, page, served, most, expected)
            if on_page is not None:
                on_page(membership.pages, len(membership))
            token = self._next_token(page, membership, given)
            if token is None:
                return membership

    def _check_progress(self, membership: Membership, page: dict[str, Any], served: dict[tuple, int],
                        most: int | None, expected: int | None) -> None:
        """PaginationError when a page repeats an earlier page's members or the list outgrows the count."""
        members = page.get("identifiers") if isinstance(page.get("identifiers"), list) else page.get("ids")
        if isinstance(members, list) and members:
            short = (len(members), repr(members[0]), repr(members[-1]))
            if short in served:
                raise self._unused(
                    f"Customer.io served the same members of segment {membership.segment_id} twice (pages "
                    f"{served[short]} and {membership.pages}) under different paging tokens; the list would hold "
                    "people twice")
            served[short] = membership.pages
        if most is not None and len(membership) > most:
            raise self._unused(
                f"segment {membership.segment_id}'s membership grew to {len(membership):,} members by page "
                f"{membership.pages}, but its customer_count is {expected:,}: paging is not making progress")

    def _next_token(self, page: dict[str, Any], membership: Membership, given: dict[str, int]) -> str | None:
        """The token for the next page, None at the end; PaginationError if any earlier page gave it."""
        token = page.get("next")
        if not token:
            return None
        token = str(token)
        if token in given:
            raise self._unused(
                f"Customer.io repeated a paging token of segment {membership.segment_id}'s membership (first given "
                f"by page {given[token]}, again by page {membership.pages}); following it would loop or count "
                "members twice")
        given[token] = membership.pages
        return token

    def _unused(self, why: str) -> PaginationError:
        """Paging that went wrong: the list is not used, whatever it holds so far."""
        return self.error(PaginationError, f"{why}, so the list was not used: re-run, and report it if it happens again")

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

    # ------------------------------------------------------------------ what an answer means

    def _interpret(self, response: requests.Response, method: str, path: str, where: str,
                   segment_id: int | None = None, missing_ok: bool = False) -> dict[str, Any] | None:
        """The answer's JSON object. A 404 raises SegmentNotFound when ``segment_id`` is given,
        returns None when ``missing_ok`` (customer paths), and is a CustomerIOError otherwise."""
        status = response.status_code
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
        self.repeatable(response)
        raise self.error(BadRequest, (
            f"Customer.io answered {status} {response.reason} for {where}: {error_detail(response)}; "
            "fix the request or the workspace setting the detail names"), status=status)

    def _json_object(self, response: requests.Response, method: str, path: str) -> dict[str, Any]:
        try:
            body = response.json()
        except ValueError:
            raise Transient(f"{response.status_code} with a body that is not valid JSON (cut short?)") from None
        if not isinstance(body, dict):
            raise self.error(CustomerIOError, unreadable(method, path, "not a JSON object"))
        return body

    def _segment(self, data: Any, path: str) -> Segment:
        try:
            return Segment.from_api(data)
        except (AttributeError, KeyError, TypeError, ValueError) as exc:
            raise self.error(CustomerIOError, unreadable(
                "GET", path, f"a segment object without a usable id ({exc.__class__.__name__}: {exc})")) from None


# ---------------------------------------------------------------------- small helpers


def _check_id_type(id_type: str) -> None:
    if id_type not in ID_TYPES:
        raise ValueError(f"id_type must be one of {ID_TYPES}, got {id_type!r}")


__all__ = ["CustomerIOClient", "MAX_PAGE_SIZE", "LOOKUP_BATCH", "ID_TYPES"]
