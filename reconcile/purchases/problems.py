"""What can be wrong with a purchase, and the one rule that says which, for both comparisons.

Each order of the window gets at most one problem, the first of these that fits (worst first):

    missing_event     no event carries its order_id
    wrong_person      none of its events is under the order's customer (by the identity key):
                      a ghost or anonymous profile
    duplicate_event   more than one event carries its order_id
    revenue_mismatch  the event's revenue differs from the order's by more than revenue_tolerance
                      (relative), or the event has none
    late_event        the event came more than max_latency_seconds after the order

and an event of the window whose order_id the shop does not have (or that has none) is an
``orphan_event``. The in-memory comparison (:mod:`.in_memory`) and the SQL one
(:mod:`.in_database`) both reduce an order's events to a :class:`Matched` and leave the
choice, the evidence and the money to :func:`classify` and :func:`summarize`, so the two can
only differ in how they read, never in what they decide.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timezone

import pandas as pd

from ..results import PURCHASE_COLUMNS, PURCHASE_PROBLEMS, PurchaseResult, Severity

SEVERITY = {
    "missing_event": Severity.HIGH,       # a cart flow messages a buyer; the revenue is not counted
    "wrong_person": Severity.HIGH,        # suppression misses the buyer; the ghost gets post-purchase flows
    "duplicate_event": Severity.HIGH,     # revenue counted twice, post-purchase sent twice
    "revenue_mismatch": Severity.MEDIUM,  # value-based segments and reports are wrong
    "late_event": Severity.MEDIUM,        # a cart flow can reach the buyer before the purchase arrives
    "orphan_event": Severity.MEDIUM,      # a purchase the shop never had: a test order, another system
}


@dataclass(frozen=True)
class Settings:
    """What the comparison needs from the config, with the window as whole unix seconds."""

    event: str
    key: str                      # the identity key: "id" or "email"
    max_latency_seconds: float
    revenue_tolerance: float
    window_start: int
    as_of: int


@dataclass(frozen=True)
class Order:
    """One order as both comparisons read it: ids as normalised text, times in unix seconds."""

    order_id: str
    person: str | None            # by the identity key
    id: str | None
    email: str | None
    revenue: float | None
    t: int | None


@dataclass(frozen=True)
class Matched:
    """An order's events, reduced: how many, whether one is the customer's, and the first's
    revenue, time and person (there is one when no earlier problem fits)."""

    n: int = 0
    mine: bool = False
    revenue: float | None = None
    t: int | None = None
    person: str | None = None
    anonymous_id: str | None = None


@dataclass(frozen=True)
class Orphan:
    event_id: str | None
    order_id: str | None
    person: str | None
    anonymous_id: str | None
    t: int | None


def revenue_differs(shop: float | None, event: float | None, tolerance: float) -> bool:
    return shop is not None and (event is None or abs(event - shop) > tolerance * abs(shop))


def classify(order: Order, matched: Matched, settings: Settings) -> str | None:
    """The order's problem, worst first; None when its one event is right."""
    if matched.n == 0:
        return "missing_event"
    if order.person is not None and not matched.mine:
        return "wrong_person"
    if matched.n > 1:
        return "duplicate_event"
    if revenue_differs(order.revenue, matched.revenue, settings.revenue_tolerance):
        return "revenue_mismatch"
    if order.t is not None and matched.t is not None and matched.t - order.t > settings.max_latency_seconds:
        return "late_event"
    return None


def _when(t: int | None) -> str:
    return "an unreadable time" if t is None else datetime.fromtimestamp(t, timezone.utc).strftime("%Y-%m-%d %H:%M:%S UTC")


def _money(value: float | None) -> str:
    return "none" if value is None else f"{value:,.2f}"


def evidence(problem: str, order: Order, matched: Matched, settings: Settings) -> str:
    """One line a person can check by hand."""
    if problem == "missing_event":
        return f"no {settings.event} event with this order_id; the order completed {_when(order.t)}"
    if problem == "wrong_person":
        who = (f"{settings.key} {matched.person}" if matched.person is not None
               else f"anonymous_id {matched.anonymous_id}" if matched.anonymous_id is not None else "no person")
        return f"the event is under {who}, the order's customer is {settings.key} {order.person}"
    if problem == "duplicate_event":
        return f"{matched.n} events with this order_id: the revenue ({_money(order.revenue)}) counts {matched.n} times"
    if problem == "revenue_mismatch":
        return f"the event says revenue {_money(matched.revenue)}, the shop {_money(order.revenue)}"
    return (f"the event came {matched.t - order.t:,} s after the order (max_latency_seconds "
            f"{settings.max_latency_seconds:g}): {_when(order.t)} → {_when(matched.t)}")


def summarize(result: PurchaseResult, orders: int, checked: list[tuple[Order, Matched]], orphans: list[Orphan],
              settings: Settings, has_revenue: bool) -> None:
    """Fill ``result`` from the orders with a problem (``checked`` may hold others too: they are
    classified again and dropped) and the orphan events: counts, money, the rows of
    purchase_discrepancies.csv (worst problem first, then by order_id)."""
    rows, missing_revenue, twice = [], 0.0, 0.0
    for order, matched in sorted(checked, key=lambda pair: pair[0].order_id):
        problem = classify(order, matched, settings)
        if problem is None:
            continue
        if problem == "missing_event":
            missing_revenue += order.revenue or 0.0
        if matched.n > 1:
            twice += (matched.n - 1) * (order.revenue or 0.0)
        rows.append((order.order_id, order.id, order.email, problem, evidence(problem, order, matched, settings)))
    for orphan in sorted(orphans, key=lambda o: (o.order_id or "", o.event_id or "")):
        said = f"order_id {orphan.order_id}" if orphan.order_id is not None else "no order_id"
        rows.append((orphan.order_id, orphan.person if settings.key == "id" else None,
                     orphan.person if settings.key == "email" else None, "orphan_event",
                     f"event {orphan.event_id} at {_when(orphan.t)} has {said}, which is not an order of the window"))
    rank = {problem: n for n, problem in enumerate(PURCHASE_PROBLEMS)}
    rows.sort(key=lambda row: rank[row[3]])                  # stable: by order_id within a problem
    frame = pd.DataFrame([(r[0], r[1], r[2], r[3], SEVERITY[r[3]].value, r[4]) for r in rows],
                         columns=PURCHASE_COLUMNS, dtype=object)
    result.orders, result.discrepancies = orders, frame
    result.problems = {problem: int((frame["problem"] == problem).sum()) for problem in PURCHASE_PROBLEMS}
    result.severities = dict(SEVERITY)
    result.revenue_without_event = round(missing_revenue, 2) if has_revenue else None
    result.revenue_counted_twice = round(twice, 2) if has_revenue else None


__all__ = ["SEVERITY", "Settings", "Order", "Matched", "Orphan", "classify", "evidence", "summarize",
           "revenue_differs"]
