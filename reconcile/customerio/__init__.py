"""The Customer.io side: the App API, and the members it says a segment holds. The only HTTP.

    client.py        CustomerIOClient: segments, membership pages, profiles, exports
    track.py         TrackClient: the workspace check and the writes a repair plan sends
    http.py          what both clients share: the limiter, retries, refused redirects, scrubbing
    answers.py       what an answer means: the Segment object, error bodies, hints in words
    throttle.py      the one rate limiter every request passes, and Retry-After
    membership.py    the Membership protocol, MemoryMembership, and a page read as Arrow
    exports.py       a membership from one export: poll, download without the key, read the file
    completeness.py  a membership is used only when customer_count agrees with it
"""

from __future__ import annotations

from ..config import CustomerIOConfig
from ..errors import ConfigError
from .answers import EU_BASE, US_BASE, Segment
from .client import LOOKUP_BATCH, MAX_PAGE_SIZE, CustomerIOClient
from .membership import Membership, MemoryMembership
from .throttle import RateLimiter, parse_retry_after
from .track import TrackClient


def client_from_settings(settings: CustomerIOConfig) -> CustomerIOClient:
    """The client a config's ``[customerio]`` section describes."""
    return CustomerIOClient(api_key=settings.app_api_key, region=settings.region, base_url=settings.base_url,
                            timeout=settings.timeout_seconds, max_retries=settings.max_retries,
                            rate_limit=settings.requests_per_second)


def track_client_from_settings(settings: CustomerIOConfig) -> TrackClient:
    """The Track API client of ``[customerio]``: ``site_id``, and the key from its variable, read now."""
    if not settings.site_id:
        raise ConfigError("customerio.site_id is not set: the Track API needs the workspace's Site ID "
                          "(Customer.io: Settings, API Credentials) beside track_api_key")
    return TrackClient(site_id=settings.site_id, api_key=settings.track_api_key(), region=settings.region,
                       base_url=settings.base_url, timeout=settings.timeout_seconds,
                       max_retries=settings.max_retries, rate_limit=settings.requests_per_second)


__all__ = ["CustomerIOClient", "TrackClient", "client_from_settings", "track_client_from_settings", "Segment",
           "Membership", "MemoryMembership", "RateLimiter", "parse_retry_after", "US_BASE", "EU_BASE", "MAX_PAGE_SIZE",
           "LOOKUP_BATCH"]
