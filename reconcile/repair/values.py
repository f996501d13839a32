"""What a repair sends for one attribute, and whether the shop still says what the run saw.

Values are compared exactly as the diagnosis compares them
(:func:`reconcile.diagnose.evidence.compare_attribute`), and repaired by these rules:

* **timestamps** go as integer unix seconds, never milliseconds: the shop's instant when it has
  one, else Customer.io's millisecond value divided by 1000 (``customerio-track-api.md`` §2);
  where the shop keeps milliseconds and Customer.io seconds, Customer.io is already right;
* **consent** follows the shop, but ``true`` is sent only where the shop positively records
  consent; a withdrawal, or a shop with no record at all, is ``false``;
* an attribute the shop has **no value** for is left alone: whether ``null`` or ``""`` removes an
  attribute is UNCONFIRMED upstream, so the plan says so instead of guessing;
* numbers stay numbers (a ``Decimal`` as its exact text), text is trimmed.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from decimal import Decimal
from typing import Any

from ..diagnose.evidence import as_bool, compare_attribute, epoch, is_timestamp, missing, shown

_EPOCH_SHOWN = re.compile(r"\((-?\d+)\)$")     # how the run shows a shop instant: "2026-… UTC (1795451902)"
NOT_SHOWN = "(none)"


@dataclass(frozen=True)
class Change:
    """One attribute to write: Customer.io's value now, and what is sent."""

    attribute: str
    before: Any
    after: Any


@dataclass(frozen=True)
class Skip:
    """One differing attribute the plan leaves alone, and why."""

    attribute: str
    why: str


def is_consent(column: str, attribute: str) -> bool:
    return "consent" in column.lower() or "consent" in attribute.lower()


def from_run(text: str) -> Any:
    """The shop's value as the run wrote it: ``(none)`` is no value, a shown instant its epoch."""
    text = (text or "").strip()
    if text in ("", NOT_SHOWN):
        return None
    found = _EPOCH_SHOWN.search(text)
    return int(found[1]) if found else text


def repair(column: str, attribute: str, shop: Any, customerio: Any) -> Change | Skip | None:
    """What to write so Customer.io's ``attribute`` agrees with the shop's ``column``; None when they agree."""
    finding = compare_attribute(column, attribute, shop, customerio)
    if finding is None:
        return None
    before = None if missing(customerio) else str(customerio).strip()
    if finding.kind == "withdrawn":
        return Change(attribute, before, False)
    if finding.kind == "not_granted":
        return Change(attribute, before, True) if as_bool(shop) is True else Skip(attribute, "no consent on record")
    if finding.kind == "unit":
        if before is not None and before.isdigit() and len(before) >= 12:
            seconds = epoch(shop) if not missing(shop) else int(before) / 1000
            return Change(attribute, before, int(seconds))
        return Skip(attribute, "Customer.io holds seconds already; the shop keeps milliseconds")
    if missing(shop):
        return Skip(attribute, "the shop has no value, and removing an attribute is unconfirmed upstream")
    return Change(attribute, before, initial(column, attribute, shop))


def initial(column: str, attribute: str, shop: Any) -> Any:
    """The value a new profile gets for this shop value (None: nothing to send)."""
    if missing(shop):
        return None
    if is_consent(column, attribute):
        return as_bool(shop)
    if is_timestamp(column, shop):
        seconds = epoch(shop)
        return None if seconds is None else int(seconds)
    if isinstance(shop, bool):
        return shop
    if isinstance(shop, int):
        return shop
    if isinstance(shop, float):
        return int(shop) if shop.is_integer() else shop
    if isinstance(shop, Decimal):
        return str(shop)
    return str(shop).strip()


def unchanged(column: str, attribute: str, seen: str, now: Any) -> bool:
    """Whether the shop's value now is the one the run saw (``seen`` as the run wrote it)."""
    then = from_run(seen)
    if missing(then) and missing(now):
        return True
    if is_consent(column, attribute):
        return as_bool(then) == as_bool(now)
    if is_timestamp(column, now) or isinstance(then, int):
        first, second = epoch(then), epoch(now)
        return first is not None and second is not None and abs(first - second) <= 1
    if missing(then) or missing(now):
        return False
    try:
        return float(then) == float(now)
    except (TypeError, ValueError):
        return shown(then) == shown(now)


__all__ = ["Change", "Skip", "repair", "initial", "unchanged", "from_run", "is_consent"]
