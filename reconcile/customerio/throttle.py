"""How fast reconcile may ask: one limiter for every request, and the server's ``Retry-After``."""

from __future__ import annotations

import math
import threading
import time
from collections import deque
from datetime import datetime, timezone
from email.utils import parsedate_to_datetime
from typing import Callable

RETRY_AFTER_CAP = 300.0         # seconds; a longer Retry-After is treated as this


class RateLimiter:
    """Keeps request starts at or below ``rate`` in any 1-second window, across threads.

    A sliding log of the last ``floor(rate)`` starts (at least one): a new start waits until
    the oldest of them is a window old. Unlike a refilling token bucket, this bounds *every*
    1-second window, which is how the limit is counted upstream. The window is 50 ms longer than
    a second because the server counts arrivals, not starts: network and thread-scheduling
    jitter can bring two starts that were a second apart closer together at the other end.
    """

    SLACK = 0.05

    def __init__(self, rate: float = 10.0, clock: Callable[[], float] = time.monotonic,
                 sleep: Callable[[float], None] = time.sleep):
        if not rate > 0:
            raise ValueError(f"rate must be above 0, got {rate!r}")
        self.rate = rate
        self._burst = max(1, math.floor(rate))
        self._window = max(1.0, self._burst / rate) + self.SLACK
        self._starts: deque[float] = deque()
        self._lock = threading.Lock()
        self._clock, self._sleep = clock, sleep

    def acquire(self) -> None:
        """Block until one more request may start, and count it as started now."""
        with self._lock:  # held while waiting: callers queue up and start in turn
            now = self._clock()
            while len(self._starts) >= self._burst:
                wait = self._starts[0] + self._window - now
                if wait <= 0:
                    self._starts.popleft()
                    break
                self._sleep(wait)
                now = self._clock()
            self._starts.append(now)


def parse_retry_after(value: str | None, now: datetime | None = None) -> float | None:
    """Seconds to wait from a ``Retry-After`` header (seconds or an HTTP date), capped at 300; None if unusable."""
    if not value:
        return None
    try:
        seconds = float(value.strip())
    except ValueError:
        try:
            when = parsedate_to_datetime(value.strip())
        except (TypeError, ValueError, IndexError):
            return None
        if when.tzinfo is None:
            when = when.replace(tzinfo=timezone.utc)
        seconds = (when - (now or datetime.now(timezone.utc))).total_seconds()
    if math.isnan(seconds):
        return None
    return min(max(seconds, 0.0), RETRY_AFTER_CAP)


__all__ = ["RateLimiter", "parse_retry_after", "RETRY_AFTER_CAP"]
