"""Segment conditions the sandbox evaluates over a profile's attributes, so writes move people.

A data-driven segment in Customer.io adds and removes people as their attributes change. The
sandbox does the same for a segment whose workspace entry carries a ``condition``: a small JSON
subset of Customer.io's rules, enough for the demo's segments and for tests::

    {"and": [c, ...]}    {"or": [c, ...]}    {"not": c}
    {"attribute": "email_consent", "equals": "true"}            the attribute's text is exactly this
    {"attribute": "phone", "exists": true}                      present and not blank (false: the opposite)
    {"attribute": "last_order_at", "within_days": 30}           a timestamp in [clock - 30 days, clock]
    {"attribute": "last_order_at", "before_days": 90}           a timestamp before clock - 90 days
    {"attribute": "last_order_at", "before_attribute": "cart_updated_at"}   both timestamps, this one earlier
    {"attribute": "bought_categories", "contains": "cleanser"}  a comma-separated list holding the item

A timestamp is whole unix seconds written in digits (at most 11 of them): milliseconds, ISO text
and anything else match no timestamp rule, as Customer.io documents for its own (see
``customerio-track-api.md`` §2). ``clock`` is the instant the segment is evaluated at.
"""

from __future__ import annotations

from typing import Any, Mapping

TESTS = ("equals", "exists", "within_days", "before_days", "before_attribute", "contains")
MAX_SECONDS_DIGITS = 11
DAY = 86_400


def check(condition: Any, where: str = "condition") -> None:
    """Raise ValueError naming the place of the first thing this evaluator cannot read."""
    if not isinstance(condition, dict) or len(condition) not in (1, 2):
        raise ValueError(f"{where}: expected an object like {{\"and\": [...]}} or {{\"attribute\": ..., \"equals\": ...}}")
    if "and" in condition or "or" in condition:
        (name, parts), = condition.items()
        if not isinstance(parts, list) or not parts:
            raise ValueError(f"{where}.{name}: expected a non-empty list of conditions")
        for index, part in enumerate(parts):
            check(part, f"{where}.{name}[{index}]")
        return
    if "not" in condition:
        check(condition["not"], f"{where}.not")
        return
    tests = [name for name in condition if name != "attribute"]
    if not isinstance(condition.get("attribute"), str) or len(tests) != 1 or tests[0] not in TESTS:
        raise ValueError(f"{where}: expected \"attribute\" and one of {', '.join(TESTS)}")


def matches(condition: Mapping[str, Any], attributes: Mapping[str, Any], clock: float) -> bool:
    """Whether a profile with these attributes is in a segment with this condition at ``clock``."""
    if "and" in condition:
        return all(matches(part, attributes, clock) for part in condition["and"])
    if "or" in condition:
        return any(matches(part, attributes, clock) for part in condition["or"])
    if "not" in condition:
        return not matches(condition["not"], attributes, clock)
    value = attributes.get(condition["attribute"])
    text = "" if value is None else str(value).strip()
    if "equals" in condition:
        return value is not None and str(value) == str(condition["equals"])
    if "exists" in condition:
        return bool(text) == bool(condition["exists"])
    if "contains" in condition:
        return str(condition["contains"]) in [item.strip() for item in text.split(",")]
    seconds = timestamp(text)
    if seconds is None:
        return False
    if "within_days" in condition:
        return clock - condition["within_days"] * DAY <= seconds <= clock
    if "before_days" in condition:
        return seconds < clock - condition["before_days"] * DAY
    other = timestamp(str(attributes.get(condition["before_attribute"]) or "").strip())
    return other is not None and seconds < other


def timestamp(text: str) -> int | None:
    """Unix seconds, when the text is whole seconds in digits; else None (no timestamp rule matches)."""
    return int(text) if text.isascii() and text.isdigit() and len(text) <= MAX_SECONDS_DIGITS else None


__all__ = ["check", "matches", "timestamp"]
