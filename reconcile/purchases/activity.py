"""The sampled activity log: what Customer.io itself recorded for a sample of the window's orders.

The warehouse comparison sees what the shop sent; only the activity log shows what Customer.io
kept, under which profile. For ``activity_sample`` orders of the window (evenly spread over the
orders newest first, among those of the last 30 days, the history the API guarantees) the
person's ``event`` activities named like the purchase event are read
(``GET /v1/customers/{id}/activities?type=event&name=order_completed``, 100 a page, through the
client's one rate limiter and its retries) and each sampled order gets one outcome, worst first:

    not_found        no activity with its order_id, under the customer nor under another profile
    other_profile    found only under another profile: the one the order's other identifier
                     (its email in an id workspace) names, looked up with ``id_type``
    found_twice      two or more activities with its order_id
    revenue_differs  the activity's revenue differs from the shop's (revenue_tolerance, relative)
    timestamp_unit   the activity's timestamp is in milliseconds (or finer), where Customer.io
                     expects unix seconds
    found_once       once, under the customer, as the shop has it

A profile that does not exist (404: never identified, merged or deleted) is "not there", not an
error; an API that keeps failing after the client's retries stops the sample with its message.
"""

from __future__ import annotations

from typing import Any, Callable

from ..customerio import CustomerIOClient
from ..errors import CustomerIOError
from ..identity import normalize_id
from ..results import ActivityResult
from .in_memory import json_text
from .problems import Order, revenue_differs
from .times import as_number

GUARANTEED_DAYS = 30            # the activity log's history the API guarantees
SECONDS_BELOW = 1e11            # a timestamp at or above this is not in seconds (as the checks read units)


def sample_positions(available: int, wanted: int) -> list[int]:
    """``wanted`` positions spread evenly over ``available`` (all of them when there are fewer),
    the first always among them: position 0 is the newest order."""
    if wanted <= 0 or available <= 0:
        return []
    if available <= wanted:
        return list(range(available))
    return [i * available // wanted for i in range(wanted)]


def newest_first(orders: list[Order], since: int) -> list[Order]:
    """The orders since ``since``, newest first (ties: the greater order_id), as the SQL orders them."""
    recent = [order for order in orders if order.t is not None and order.t >= since]
    return sorted(recent, key=lambda order: (order.t, order.order_id), reverse=True)


def read_activity(client: CustomerIOClient, sampled: list[Order], event: str, key: str, revenue_tolerance: float,
                  tolerance: float) -> ActivityResult:
    """One outcome per sampled order (see the module docstring)."""
    result = ActivityResult(tolerance=tolerance)
    try:
        for order in sampled:
            result.orders.append(outcome(client.customer_activities, order, event, key, revenue_tolerance))
    except CustomerIOError as exc:
        result.error = f"the activity log could not be read: {exc}"
    return result


def outcome(activities: Callable[..., "list[dict] | None"], order: Order, event: str, key: str, revenue_tolerance: float) -> dict[str, Any]:
    """The order's outcome, with its evidence and the profile it was found under."""
    entry = {"order_id": order.order_id, "id": order.id, "email": order.email, "outcome": "not_found",
             "evidence": "", "cio_id": None}
    own = _matching(activities(order.person, key, type="event", name=event) if order.person else None,
                    order.order_id)
    if own:
        entry.update(_judged(own, order, revenue_tolerance))
        return entry
    other_key = "email" if key == "id" else "id"
    other = order.email if key == "id" else order.id
    theirs = _matching(activities(other, other_key, type="event", name=event) if other else None, order.order_id)
    if theirs:
        profile = theirs[0].get("customer_identifiers") or {}
        entry.update(outcome="other_profile", cio_id=profile.get("cio_id"),
                     evidence=f"under the profile {other_key} {other} names (cio_id {profile.get('cio_id')}, "
                              f"id {profile.get('id') or 'none'}), not under {key} {order.person or 'none'}")
        return entry
    looked = f"{key} {order.person}" if order.person else f"no {key}"
    entry["evidence"] = (f"no {event} activity with this order_id under {looked}"
                         + (f" nor under {other_key} {other}" if other else ""))
    return entry


def _matching(activities: list[dict] | None, order_id: str) -> list[dict]:
    """The activities that carry ``order_id`` in their data (read as the events' order_id is)."""
    found = []
    for activity in activities or []:
        data = activity.get("data")
        if isinstance(data, dict) and normalize_id(json_text(data.get("order_id"))) == order_id:
            found.append(activity)
    return found


def _judged(found: list[dict], order: Order, revenue_tolerance: float) -> dict[str, Any]:
    profile = (found[0].get("customer_identifiers") or {}).get("cio_id")
    if len(found) > 1:
        return {"outcome": "found_twice", "cio_id": profile, "evidence": f"{len(found)} activities with this order_id"}
    activity = found[0]
    revenue = as_number((activity.get("data") or {}).get("revenue"))
    if revenue_differs(order.revenue, revenue, revenue_tolerance):
        return {"outcome": "revenue_differs", "cio_id": profile,
                "evidence": f"Customer.io recorded revenue {revenue if revenue is not None else 'none'}, "
                            f"the shop {order.revenue:,.2f}"}
    stamp = as_number(activity.get("timestamp"))
    if stamp is not None and abs(stamp) >= SECONDS_BELOW:
        return {"outcome": "timestamp_unit", "cio_id": profile,
                "evidence": f"Customer.io recorded timestamp {activity.get('timestamp')}: milliseconds, not seconds"}
    return {"outcome": "found_once", "cio_id": profile, "evidence": ""}


__all__ = ["sample_positions", "newest_first", "read_activity", "outcome", "GUARANTEED_DAYS"]
