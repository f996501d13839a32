"""The demo's purchases: problems planted in the outbox on known orders, Customer.io's activity
log of them, and what the purchases' comparison must therefore show.

1. **Planted, on known orders** (:func:`plant_purchases`, before the shop is written). Lost
   purchases: the orders Customer.io never received (:mod:`.drift`'s ``purchase_not_received``)
   never left the outbox either; one more is lost among the sampled orders when none of those
   is. Then four orders of the activity sample, untouched by any other drift, get one problem
   each: a duplicate (the event sent twice, seconds apart), a revenue in cents (×100), a late
   event (two hours after the order) and an event on a ghost profile (sent anonymously from
   the thank-you page, where the checkout's email created an email-only profile in Customer.io,
   while the customer's own profile still has an older email).
2. **Customer.io's side** (:func:`purchase_side`, after :func:`.drift.customerio_side`). Every
   purchase event of the outbox is recorded in the activity log of the profile it reached: the
   profile with its ``customer_id``, the ghost's for the anonymous one, none for a customer
   Customer.io never identified. Timestamps as sent (milliseconds stay milliseconds).
3. **The record**, computed from these objects, never from the SQL it checks: each problem's
   orders in the window, the money, and the outcome each sampled order's activity log must give.

Everything random comes from its own ``random.Random`` (seeded from the demo's seed), so the
rest of the demo, and every number already in its record, is the same with or without this.
"""

from __future__ import annotations

import json
import random
import uuid
from dataclasses import dataclass, field
from datetime import timedelta
from decimal import Decimal
from importlib import resources
from pathlib import Path
from typing import Any

from ..config import PurchasesConfig, parse_config
from ..purchases.activity import GUARANTEED_DAYS, sample_positions
from .drift import Plan
from .shop import DAY, Event, Order, Shop, _token

LATE_BY = 2 * 3600                 # a late event: two hours after its order
CENTS = 100                        # a revenue sent in cents
GHOST_CIO_IDS = 0xB7000000         # cio_ids of ghost profiles, apart from the workspace's others
KINDS = ("duplicate_event", "revenue_mismatch", "late_event", "wrong_person")


def demo_purchases() -> PurchasesConfig:
    """The ``[purchases]`` of the shipped ``config.toml``."""
    text = resources.files(__package__).joinpath("config.toml").read_text(encoding="utf-8")
    purchases = parse_config(text, Path(__file__).with_name("config.toml")).purchases
    if purchases is None:
        raise RuntimeError("the demo config.toml has no [purchases] section")
    return purchases


@dataclass
class PurchasePlan:
    """The planted problems: which orders, and the events that carry them."""

    window: tuple[int, int]                               # [start, end) unix seconds
    sampled: list[Order]                                  # the activity sample, newest first
    lost: list[Order] = field(default_factory=list)
    planted: dict[str, Order] = field(default_factory=dict)   # kind -> its order
    ghost_event: Event | None = None
    copies: list[Event] = field(default_factory=list)         # the duplicate's second event


def window_orders(shop: Shop, settings: PurchasesConfig) -> tuple[tuple[int, int], list[Order], list[Order]]:
    """(the window, its orders, the activity sample) as reconcile reads them at ``shop.as_of``."""
    end = shop.as_of.timestamp()
    start = (shop.as_of - timedelta(days=settings.window_days)).timestamp()
    orders = [o for o in shop.orders() if start <= o.completed_at < end]
    since = int(end) - GUARANTEED_DAYS * DAY
    recent = sorted((o for o in orders if o.completed_at >= since), key=lambda o: (o.completed_at, o.order_id),
                    reverse=True)
    sampled = [recent[i] for i in sample_positions(len(recent), settings.activity_sample)]
    return (int(start), int(end)), orders, sampled


def plant_purchases(shop: Shop, plan: Plan, seed: int, settings: PurchasesConfig | None = None) -> PurchasePlan:
    """Plant the purchases' problems in ``shop.events`` (see the module docstring); call after freeze."""
    settings = settings or demo_purchases()
    rng = random.Random(f"purchases:{seed}")
    window, orders, sampled = window_orders(shop, settings)
    planted = PurchasePlan(window=window, sampled=sampled)
    events = _events_by_order(shop)
    touched = set().union(*(set(p["event_ids"]) for p in shop.event_problems.values()))
    repeated = set(shop.event_problems["duplicate_order_completed"]["order_ids"])

    def clean(order: Order) -> bool:
        found = events.get(order.order_id, [])
        return order.order_id not in repeated and len(found) == 1 and found[0].event_id not in touched

    planted.lost = [o for o in sorted(plan.unsent_orders, key=lambda o: o.id) if clean(o)]
    eligible = [o for o in sampled if clean(o) and o not in plan.unsent_orders and o.customer.id not in plan.kinds
                and o.completed_at + LATE_BY < shop.now]
    if not set(planted.lost) & set(sampled) and eligible:
        planted.lost.append(eligible.pop(rng.randrange(len(eligible))))
    chosen = rng.sample(eligible, min(len(KINDS), len(eligible)))
    planted.planted = dict(zip(KINDS, chosen))
    lost = {id(events[o.order_id][0]) for o in planted.lost}
    shop.events[:] = [e for e in shop.events if id(e) not in lost]
    _plant(shop, planted, events, rng)
    shop.events.sort(key=lambda e: (e.at, e.name, e.event_id))
    for n, event in enumerate(shop.events, start=1):
        event.id = n
    return planted


def _events_by_order(shop: Shop) -> dict[str, list[Event]]:
    found: dict[str, list[Event]] = {}
    for event in shop.events:
        if event.name == "order_completed":
            found.setdefault(event.properties["order_id"], []).append(event)
    return found


def _plant(shop: Shop, planted: PurchasePlan, events: dict[str, list[Event]], rng: random.Random) -> None:
    for kind, order in planted.planted.items():
        event = events[order.order_id][0]
        if kind == "duplicate_event":
            copy = Event(event.name, event.at + rng.randint(1, 90), dict(event.properties), event.customer_id,
                         event.anonymous_id, event_id=str(uuid.UUID(int=rng.getrandbits(128), version=4)))
            shop.events.append(copy)
            planted.copies.append(copy)
        elif kind == "revenue_mismatch":
            event.properties = {**event.properties, "revenue": float(order.revenue * CENTS)}
        elif kind == "late_event":
            event.at += LATE_BY
        else:   # wrong_person: sent anonymously; Customer.io filed it under the checkout's email
            event.customer_id, event.anonymous_id = None, _token(rng, "anon", 64)
            planted.ghost_event = event


# ---------------------------------------------------------------------- Customer.io's side, the record


def purchase_side(shop: Shop, planted: PurchasePlan, workspace: dict[str, Any],
                  settings: PurchasesConfig | None = None) -> dict[str, Any]:
    """Add the ghost profile and every profile's purchase activities to ``workspace``; return the record."""
    settings = settings or demo_purchases()
    people = workspace["people"]
    by_id = {}
    for person in people:
        if person["id"] is not None:
            by_id.setdefault(person["id"], person)
    ghost = None
    if planted.ghost_event is not None:
        customer = planted.planted["wrong_person"].customer
        own = by_id[str(customer.id)]
        local, domain = customer.email.split("@")
        own["email"] = own["attributes"]["email"] = f"{local}+old@{domain}"   # the email it was identified with
        ghost = {"cio_id": f"{GHOST_CIO_IDS + 1:08x}", "id": None, "email": customer.email,
                 "attributes": {"email": customer.email, "created_at": str(planted.ghost_event.at)},
                 "unsubscribed": False}
        people.append(ghost)
    activities = workspace.setdefault("activities", [])
    for event in shop.events:
        if event.name != "order_completed":
            continue
        profile = ghost if event is planted.ghost_event else by_id.get(str(event.customer_id))
        if profile is not None:
            activities.append({"cio_id": profile["cio_id"], "id": event.event_id, "type": "event", "name": event.name,
                               "timestamp": event.timestamp, "data": _sent(event)})
    return _record(shop, planted, people, activities, settings, ghost)


def _sent(event: Event) -> dict[str, Any]:
    return json.loads(event.properties_json())


def _record(shop: Shop, planted: PurchasePlan, people: list[dict], activities: list[dict],
            settings: PurchasesConfig, ghost: dict | None) -> dict[str, Any]:
    start, end = planted.window
    events = _events_by_order(shop)
    orders = window_orders(shop, settings)[1]
    expected: dict[str, list[str]] = {kind: [] for kind in ("missing_event", "wrong_person", "duplicate_event",
                                                           "revenue_mismatch", "late_event")}
    without, twice = Decimal("0"), Decimal("0")
    for order in orders:
        found = events.get(order.order_id, [])
        problem = _problem(order, found, settings)
        if problem:
            expected[problem].append(order.order_id)
        if not found:
            without += order.revenue
        twice += max(0, len(found) - 1) * order.revenue
    known = {o.order_id for o in orders}
    orphans = sorted(e.event_id for found in events.values() for e in found
                     if e.properties["order_id"] not in known and start <= e.at < end)
    return {"window_days": settings.window_days, "orders": len(orders), "ghost_profile": ghost["cio_id"] if ghost else None,
            "planted": {"missing_event": sorted(o.order_id for o in planted.lost if start <= o.completed_at < end),
                        **{kind: [order.order_id] for kind, order in planted.planted.items()}},
            "expected": {kind: sorted(ids) for kind, ids in expected.items()}, "orphan_events": orphans,
            "duplicate_copies": {e.event_id: e.properties["revenue"] for e in planted.copies},
            "revenue_without_event": float(without), "revenue_counted_twice": float(twice),
            "activity": {"sampled": [o.order_id for o in planted.sampled],
                         "outcomes": {o.order_id: _outcome(o, people, activities, settings) for o in planted.sampled}}}


def _problem(order: Order, found: list[Event], settings: PurchasesConfig) -> str | None:
    if not found:
        return "missing_event"
    if all(e.customer_id != order.customer.id for e in found):
        return "wrong_person"
    if len(found) > 1:
        return "duplicate_event"
    (event,) = found
    revenue = Decimal(str(event.properties.get("revenue")))
    if abs(revenue - order.revenue) > Decimal(str(settings.revenue_tolerance)) * order.revenue:
        return "revenue_mismatch"
    return "late_event" if event.at - order.completed_at > settings.max_latency_seconds else None


def _outcome(order: Order, people: list[dict], activities: list[dict], settings: PurchasesConfig) -> str:
    """What the activity log must say of a sampled order, read off the profiles as the API serves them."""
    def profile_with(field_: str, value: str) -> dict | None:
        def same(a: str | None) -> bool:
            return a is not None and (a.strip().lower() == value.strip().lower() if field_ == "email" else a == value)
        return next((p for p in people if same(p[field_])), None)

    def theirs(profile: dict | None) -> list[dict]:
        return [a for a in activities if profile is not None and a["cio_id"] == profile["cio_id"]
                and a["data"].get("order_id") == order.order_id]

    own = theirs(profile_with("id", str(order.customer.id)))
    if not own:
        return "other_profile" if theirs(profile_with("email", order.customer.email)) else "not_found"
    if len(own) > 1:
        return "found_twice"
    revenue = Decimal(str(own[0]["data"].get("revenue")))
    if abs(revenue - order.revenue) > Decimal(str(settings.revenue_tolerance)) * order.revenue:
        return "revenue_differs"
    return "timestamp_unit" if own[0]["timestamp"] >= 10**11 else "found_once"


__all__ = ["PurchasePlan", "plant_purchases", "purchase_side", "demo_purchases", "window_orders"]
