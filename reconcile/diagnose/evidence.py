"""One attribute, two sides: the shop's value and Customer.io's, read the same way and compared.

Customer.io stores every attribute as a string; timestamps are unix seconds (section 6 of
``customerio-app-api.md``). The shop hands back whatever its driver returns: ``datetime``
(PostgreSQL), an ISO string (SQLite through ``text()``), 0/1 for booleans (SQLite, MariaDB).
:func:`compare_attribute` reads both into the same kind of value and says how they differ, if they do:

* ``consent``  (the column's name contains ``consent``): booleans; ``withdrawn`` when Customer.io
  says yes and the shop says no (someone could be messaged without consent), ``not_granted``
  the other way round (a grant that has not reached Customer.io: stale, nobody is harmed);
* ``timestamp`` (a datetime, an ISO string, or a column named ``*_at``): unix seconds;
  ``unit`` when Customer.io's value has 12 or more digits (milliseconds where seconds are
  expected) or the shop keeps milliseconds and Customer.io seconds; else ``stale`` when they are
  more than a second apart, with the gap;
* anything else: numbers as numbers, text trimmed; ``stale`` when different.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from datetime import date, datetime, timezone
from decimal import Decimal
from typing import Any

TRUE_TEXT = {"true", "t", "1", "yes", "y"}
FALSE_TEXT = {"false", "f", "0", "no", "n", ""}
MS_DIGITS = 12          # a unix timestamp with this many digits or more is in milliseconds


@dataclass(frozen=True)
class Finding:
    """How one mapped attribute differs."""

    attribute: str           # the truth column (the Customer.io attribute is in ``customerio_attribute``)
    customerio_attribute: str
    kind: str                # withdrawn | not_granted | unit | stale
    shop_value: str
    customerio_value: str
    difference: str          # how far apart, in words
    shop_newer: bool = False  # a timestamp the shop has later than Customer.io (or Customer.io lacks)


def missing(value: Any) -> bool:
    return value is None or (isinstance(value, float) and math.isnan(value)) or (
        isinstance(value, str) and not value.strip())


def as_bool(value: Any) -> bool | None:
    if missing(value):
        return None
    if isinstance(value, bool):
        return value
    if isinstance(value, (int, float, Decimal)):
        return value != 0
    text = str(value).strip().lower()
    if text in TRUE_TEXT:
        return True
    if text in FALSE_TEXT:
        return False
    return None


def epoch(value: Any) -> float | None:
    """Unix seconds from a datetime, an ISO string or a number (a 12+ digit number is read as ms)."""
    if missing(value):
        return None
    if isinstance(value, datetime):
        return (value if value.tzinfo else value.replace(tzinfo=timezone.utc)).timestamp()
    if isinstance(value, date):
        return datetime(value.year, value.month, value.day, tzinfo=timezone.utc).timestamp()
    if isinstance(value, (int, float, Decimal)) and not isinstance(value, bool):
        number = float(value)
        return number / 1000 if _digits(number) >= MS_DIGITS else number
    text = str(value).strip()
    if text.lstrip("-").isdigit():
        return epoch(int(text))
    try:
        return epoch(datetime.fromisoformat(text.replace("Z", "+00:00")))
    except ValueError:
        return None


def _digits(number: float) -> int:
    return len(str(int(abs(number)))) if number else 1


def is_timestamp(column: str, value: Any) -> bool:
    if isinstance(value, (datetime, date)):
        return True
    if isinstance(value, str) and not value.strip().isdigit():
        try:
            datetime.fromisoformat(value.strip().replace("Z", "+00:00"))
            return True
        except ValueError:
            return False
    return column.lower().endswith("_at")


def span(seconds: float) -> str:
    """3725 → "1 h 2 min"; whole days for anything above two days."""
    seconds = abs(seconds)
    if seconds < 90:
        return f"{seconds:.0f} s"
    if seconds < 2 * 3600:
        return f"{seconds / 60:.0f} min"
    if seconds < 2 * 86400:
        return f"{seconds // 3600:.0f} h {seconds % 3600 // 60:.0f} min"
    return f"{seconds / 86400:.1f} days"


def shown(value: Any) -> str:
    if missing(value):
        return "(none)"
    if isinstance(value, datetime):
        value = value if value.tzinfo else value.replace(tzinfo=timezone.utc)
        return value.astimezone(timezone.utc).strftime("%Y-%m-%d %H:%M:%S UTC")
    return str(value).strip()


def utc(seconds: float) -> str:
    return datetime.fromtimestamp(seconds, timezone.utc).strftime("%Y-%m-%d %H:%M:%S UTC")


def compare_attribute(column: str, attribute: str, shop: Any, customerio: Any) -> Finding | None:
    """How the shop's value and Customer.io's differ for one mapped attribute; None when they agree."""
    if missing(shop) and missing(customerio):
        return None
    def make(kind: str, difference: str, newer: bool = False, ours: str | None = None) -> Finding:
        return Finding(column, attribute, kind, ours or shown(shop), shown(customerio), difference, newer)

    if "consent" in column.lower() or "consent" in attribute.lower():
        ours, theirs = as_bool(shop), as_bool(customerio)
        shop = shop if ours is None else ("true" if ours else "false")
        if bool(ours) == bool(theirs):
            return None
        if theirs and not ours:
            return make("withdrawn", "Customer.io says yes, the shop says no")
        return make("not_granted", "the shop says yes, Customer.io " + ("says no" if theirs is False else "has no value"))
    if is_timestamp(column, shop):
        ours = epoch(shop)
        if ours is not None and not isinstance(shop, (int, float)):
            shop = f"{utc(ours)} ({int(ours)})"
        raw = str(customerio).strip() if not missing(customerio) else ""
        if raw.isdigit() and len(raw) >= MS_DIGITS:
            gap = f"milliseconds where seconds are expected: {utc(int(raw) / 1000)} in ms" + (
                f", {span(int(raw) / 1000 - ours)} from the shop's" if ours is not None else "")
            return make("unit", gap)
        if raw.isdigit() and isinstance(shop, (int, float)) and _digits(float(shop)) >= MS_DIGITS:
            return make("unit", f"the shop keeps milliseconds ({int(shop):,}), Customer.io seconds ({int(raw):,})")
        theirs = epoch(raw) if raw else None
        if ours is None or theirs is None:
            return make("stale", "missing in Customer.io" if theirs is None else "missing in the shop",
                        newer=theirs is None)
        if abs(ours - theirs) <= 1:
            return None
        direction = "older" if theirs < ours else "newer"
        return make("stale", f"Customer.io is {span(ours - theirs)} {direction} ({utc(theirs)} vs {utc(ours)})",
                    newer=ours > theirs)
    ours_n, theirs_n = _number(shop), _number(customerio)
    if ours_n is not None and theirs_n is not None:
        if abs(ours_n - theirs_n) < 1e-9:
            return None
        return make("stale", f"differs by {abs(ours_n - theirs_n):g}")
    if shown(shop) == shown(customerio):
        return None
    if missing(customerio):
        return make("stale", "missing in Customer.io")
    return make("stale", "missing in the shop" if missing(shop) else "other value")


def _number(value: Any) -> float | None:
    if missing(value) or isinstance(value, bool):
        return None
    try:
        return float(value)
    except (TypeError, ValueError):
        return None


__all__ = ["Finding", "compare_attribute", "epoch", "as_bool", "span", "shown", "is_timestamp", "missing"]
