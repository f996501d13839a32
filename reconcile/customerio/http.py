"""What every Customer.io client shares: one limiter, retries, redirects refused, secrets scrubbed.

:class:`RetryingClient` sends one request at a time through a :class:`~.throttle.RateLimiter`
and repeats the attempts worth repeating::

    429 ..................... wait (Retry-After, else backoff), retry → RateLimited
    5xx, 408, timeout, reset  backoff, retry → APIUnavailable
    301/302 ................. never followed (it would carry the key elsewhere): WrongRegionError

What any other answer means differs between the App API (:mod:`.client`) and the Track API
(:mod:`.track`), so each subclass interprets its answers in ``_interpret`` and raises
:class:`Transient` for the ones to repeat. Every message is one line, scrubbed of the client's
secrets before it is raised (:meth:`RetryingClient.error`); retries are logged under a label the
caller chooses, so a path holding a person's email need never reach a log.
"""

from __future__ import annotations

import logging
import random
import time
from typing import Any, Callable, Mapping
from urllib.parse import urlsplit

import requests

from .. import __version__
from ..errors import APIUnavailable, ConfigError, CustomerIOError, RateLimited, WrongRegionError
from .answers import connection_reason, error_detail, other_region_hosts, server_error_reason, switch_region_hint
from .throttle import RateLimiter, parse_retry_after

log = logging.getLogger("reconcile.customerio.client")

REDIRECTS = (301, 302, 303, 307, 308)


class Transient(Exception):
    """An attempt that may succeed if repeated; ``reason`` says what happened, for the final message."""

    def __init__(self, reason: str, *, status: int | None = None, retry_after: float | None = None,
                 quota: bool = False):
        super().__init__(reason)
        self.reason, self.status, self.retry_after, self.quota = reason, status, retry_after, quota


class RetryingClient:
    """Throttled, retried requests to one base URL; subclasses say what the answers mean.

    ``bases`` are the regions' hosts; ``base_url`` overrides ``region`` (for the sandbox and
    tests). ``sleep`` is used for the waits between retries, so unit tests need not wait; the rate
    limiter always really waits, because throttling is what it is for.
    """

    def __init__(self, *, secrets: tuple[str, ...], headers: dict[str, str], bases: Mapping[str, str],
                 region: str = "us", base_url: str | None = None, timeout: float = 30.0, max_retries: int = 5,
                 rate_limit: float = 10.0, backoff_base: float = 0.5, backoff_cap: float = 30.0,
                 session: requests.Session | None = None, sleep: Callable[[float], None] = time.sleep):
        self._secrets = tuple(secret for secret in secrets if secret)
        self.region = region
        self.base_url, self._bases = base_url_for(region, base_url, bases), bases
        self.timeout, self.max_retries = timeout, max_retries
        self.backoff_base, self.backoff_cap = backoff_base, backoff_cap
        self.limiter = RateLimiter(rate_limit)
        self._session = session or requests.Session()
        self._owns_session = session is None
        self.sleep = sleep
        self._random = random.Random()
        self._headers = {"Accept": "application/json", "User-Agent": f"reconcile/{__version__}", **headers}

    def close(self) -> None:
        if self._owns_session:
            self._session.close()

    def __enter__(self):
        return self

    def __exit__(self, *exc_info: Any) -> None:
        self.close()

    def _call(self, method: str, path: str, *, params: dict | None = None, json: Any = None,
              label: str | None = None, **context: Any) -> Any:
        """What ``_interpret`` makes of the answer, after throttling and retries.

        ``label`` names the request in messages and logs (default ``METHOD path``).
        """
        where = label or f"{method} {path}"
        last = Transient("no attempt was made")
        for attempt in range(self.max_retries + 1):
            if attempt:
                self._pause(attempt - 1, last, where)
            try:
                response = self._send(method, path, params, json, where)
                log.debug("Customer.io %s: %d", where, response.status_code)
                return self._interpret(response, method, path, where, **context)
            except Transient as transient:
                last = transient
        raise self._exhausted(last, where)

    def _interpret(self, response: requests.Response, method: str, path: str, where: str, **context: Any) -> Any:
        raise NotImplementedError

    def _send(self, method: str, path: str, params: dict | None, json: Any, where: str) -> requests.Response:
        self.limiter.acquire()
        try:
            return self._session.request(method, self.base_url + path, params=params, json=json,
                                         headers=self._headers, timeout=self.timeout, allow_redirects=False)
        except requests.Timeout:
            raise Transient(f"timed out after {self.timeout:g} s") from None
        except requests.exceptions.ChunkedEncodingError:
            raise Transient("the connection was closed in the middle of the answer") from None
        except requests.ConnectionError as exc:
            raise Transient(connection_reason(exc, self.timeout)) from None
        except requests.exceptions.ContentDecodingError:
            raise Transient("the answer could not be decoded") from None
        except requests.RequestException as exc:
            raise self.error(CustomerIOError, (
                f"could not send {where} to {self.base_url} ({exc.__class__.__name__}): "
                "check customerio.base_url")) from None

    @staticmethod
    def repeatable(response: requests.Response) -> None:
        """Raise :class:`Transient` for the answers worth repeating: 429, 408 and 5xx."""
        status = response.status_code
        if status == 429:
            # The per-second limit answers with a Retry-After or says "per-second"; a 429 with
            # neither is a quota beyond it (daily, plan), which waiting seconds does not clear.
            retry_after, detail = parse_retry_after(response.headers.get("Retry-After")), error_detail(response)
            quota = retry_after is None and "per-second" not in detail.lower()
            raise Transient(f"429 {response.reason} ({f'a quota: {detail}' if quota else 'over the per-second limit'})",
                            status=429, retry_after=retry_after, quota=quota)
        if status >= 500 or status == 408:
            raise Transient(server_error_reason(response))

    def _redirect_error(self, response: requests.Response, where: str) -> CustomerIOError:
        """Redirects are never followed: the credentials would go to whatever host they name."""
        location = response.headers.get("Location", "")
        said = (response.text[:2000] + " " + location).lower()
        host = urlsplit(location).hostname or ""
        if "wrong datacenter" in said or host in other_region_hosts(self.base_url, self._bases):
            return self.error(WrongRegionError, (
                f"Customer.io answered {response.status_code} \"wrong datacenter\" for {where}: the workspace "
                f"lives in the other region; {switch_region_hint(self.base_url, self._bases)}"))
        return self.error(CustomerIOError, (
            f"Customer.io answered {response.status_code} for {where}, redirecting to {host or 'another address'}; "
            "redirects are not followed because they would carry the API key to another host: "
            "check customerio.base_url and customerio.region"))

    def _pause(self, retry: int, last: Transient, where: str) -> None:
        """Wait before a retry: Retry-After when the server gave one, else full-jitter backoff."""
        if last.retry_after is not None:
            wait = last.retry_after
        else:
            wait = self._random.uniform(0, min(self.backoff_cap, self.backoff_base * 2 ** retry))
        log.warning("Customer.io %s: %s; retry %d of %d in %.2f s", where, last.reason, retry + 1,
                    self.max_retries, wait)
        self.sleep(wait)

    def _exhausted(self, last: Transient, where: str) -> CustomerIOError:
        attempts = self.max_retries + 1
        if last.quota:
            return self.error(RateLimited, (
                f"Customer.io answered 429 to {where} on all {attempts} attempts with no Retry-After and without "
                f"naming the per-second limit (last: {last.reason}): a quota beyond the per-second limit (daily or "
                "plan) is used up; check the workspace's API usage in Customer.io, then re-run once it resets"))
        if last.status == 429:
            return self.error(RateLimited, (
                f"Customer.io still answered 429 (over the per-second limit) to {where} after {attempts} "
                "attempts; another job may be using this workspace's API limit: lower "
                "customerio.requests_per_second or re-run later"))
        return self.error(APIUnavailable, (
            f"Customer.io gave no usable answer to {where} after {attempts} attempts (last: {last.reason}); "
            f"check that {self.base_url} is reachable and https://status.customer.io, then re-run"))

    def error(self, kind: type[CustomerIOError], message: str, **data: Any) -> CustomerIOError:
        """The exception to raise, its message on one line and scrubbed of the secrets (servers may echo them)."""
        for secret in self._secrets:
            message = message.replace(secret, "***")
        return kind(" ".join(message.split()), **data)


def checked_key(value: str, setting: str, what: str) -> str:
    """A key without surrounding blanks; refuse one that cannot be sent (and would be echoed by requests)."""
    key = (value or "").strip()
    if not key:
        raise ConfigError(f"{setting} is empty: set it (or the variable it names) to the {what}")
    if any(ord(char) < 33 or ord(char) > 126 for char in key):
        raise ConfigError(f"{setting} contains spaces, line breaks or non-ASCII characters: "
                          f"copy the {what} again from Customer.io")
    return key


def base_url_for(region: str, base_url: str | None, bases: Mapping[str, str]) -> str:
    """``base_url`` when given (the sandbox, tests), else the region's host."""
    if base_url:
        return base_url.rstrip("/")
    if region not in bases:
        raise ConfigError(f"customerio.region must be \"us\" or \"eu\", got {region!r}")
    return bases[region]


__all__ = ["RetryingClient", "Transient", "checked_key", "base_url_for", "REDIRECTS"]
