"""Two kinds of drift that look like something harmless, so the diagnosis must tell them apart.

* **An id format shift** (``id_format_shift``): an integration sends the id as a float, so
  Customer.io holds customer 7 as ``7.0``. The diff is exact, so the customer is missing as
  ``7`` and extra as ``7.0`` in every segment that holds them; both are ``id_format``.
* **A lost order inside the grace** (``lost_order_in_grace``): an order placed 5 to 40 minutes
  inside the 30-day purchase window that never reached Customer.io. It sits within the
  diagnosis' ``boundary_grace_seconds`` of the window's start, but Customer.io has no order at
  all: lost data, ``attribute_stale``, not ``window_edge``.

Both run after :func:`.drift.inject`, on a generator of their own, so the people of every other
kind stay who they were; :func:`record` adds what they did to the :class:`.drift.DemoRecord`.
"""

from __future__ import annotations

import random
from typing import Any

from ..config import SegmentConfig
from .drift import DemoRecord, Plan, scaled, truth_members
from .shop import DAY, Shop

GRACE_PLACEMENT_SECONDS = (5 * 60, 40 * 60)   # how far inside the window a lost order is placed
PURCHASE_SEGMENT = "purchased_30d_email_consent"


def shift_id_formats(shop: Shop, rng: random.Random, segments: list[SegmentConfig], customers: int,
                     plan: Plan) -> None:
    """Customer.io holds these customers' ids as ``"<id>.0"``: people some truth segment holds
    (where the shift shows) and no other drift touched."""
    members = set().union(*(truth_members(shop, segment, shop.customers) for segment in segments))
    pool = [c for c in shop.customers if c.id not in plan.kinds and str(c.id) in members]
    for c in rng.sample(pool, min(len(pool), scaled("id_format_shift", customers))):
        plan.kinds[c.id] = "id_format_shift"
        plan.shifted_ids[c.id] = f"{c.id}.0"


def lose_orders_in_grace(shop: Shop, rng: random.Random, segments: list[SegmentConfig], customers: int,
                         plan: Plan) -> None:
    """An order just inside the purchase window that Customer.io never received.

    Like the window-edge people, they are consenting customers who never ordered and have no
    recent cart, so this order is the only thing that puts them in a segment, and Customer.io
    has no ``last_order_at`` for them at all."""
    window_days = next(s for s in segments if s.name == PURCHASE_SEGMENT).window_days
    low, high = GRACE_PLACEMENT_SECONDS
    quiet = [c for c in shop.customers if c.id not in plan.kinds and c.email_consent and not c.orders
             and all(ca.updated_at < shop.now - 3 * DAY for ca in c.carts)
             and c.created_at < shop.now - window_days * DAY - DAY]
    for customer in rng.sample(quiet, scaled("lost_order_in_grace", customers)):
        at = shop.now - round(window_days * DAY) + rng.randint(low, high)
        plan.unsent_orders.add(shop.add_order(rng, customer, at, exact=True))
        plan.kinds[customer.id] = "lost_order_in_grace"


def record(demo_record: DemoRecord, shop: Shop, plan: Plan, segments: list[SegmentConfig]) -> None:
    """The record's ``shifted_ids`` (the id Customer.io holds, by customer id) and
    ``lost_orders_in_grace`` (each lost order, and how far inside the window it is)."""
    demo_record.shifted_ids = {str(cid): shifted for cid, shifted in sorted(plan.shifted_ids.items())}
    window_start = shop.now - round(next(s for s in segments if s.name == PURCHASE_SEGMENT).window_days * DAY)
    by_id = {c.id: c for c in shop.customers}
    lost: dict[str, dict[str, Any]] = {}
    for cid in plan.people("lost_order_in_grace"):
        order, = (o for o in by_id[cid].orders if o in plan.unsent_orders)
        lost[str(cid)] = {"order_id": order.order_id, "completed_at": order.completed_at,
                          "inside_window_seconds": order.completed_at - window_start}
    demo_record.lost_orders_in_grace = lost


__all__ = ["shift_id_formats", "lose_orders_in_grace", "record", "GRACE_PLACEMENT_SECONDS"]
