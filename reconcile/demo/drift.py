"""The demo's Customer.io side: a faithful copy of the shop, drifted on purpose, and the record of it.

How the workspace is made, and why:

1. **Rules.** Each demo segment (named in ``config.toml``) has two predicates here: ``truth``,
   the same question the segment's SQL asks, answered from the shop's Python objects; and
   ``customerio``, the segment's conditions as Customer.io evaluates them on *its* profile
   attributes (all strings; timestamps in unix seconds; rolling windows), written in the
   sandbox's condition format (:mod:`reconcile.sandbox.conditions`) and evaluated by it. The
   workspace carries the conditions, so the sandbox moves people between segments when a repair
   writes to them. The tests run the SQL on SQLite, PostgreSQL and MariaDB and require it to
   return exactly ``truth``.
2. **Drift.** :func:`inject` picks a disjoint set of people for each kind of drift in
   :data:`KINDS` (a person has at most one kind, so every discrepancy has exactly one cause) and
   changes the shop or what Customer.io will hold. People are picked only where the drift shows:
   for example ``never_identified`` only among people some truth segment holds.
3. **Evaluation time.** Customer.io's segments were last recomputed at ``as_of - 15 minutes``
   (:data:`EVALUATION_LAG`). The shop keeps natural order and cart times well away from every
   window edge (see :mod:`.shop`), and ``window_edge`` people are placed 1 to 14 minutes past an
   edge on purpose, so exactly they differ because of the lag.
4. **Record.** Truth, membership, the diff and one cause per differing person, keyed as the
   design's counting rules key them: the id string, or ``"cio:<cio_id>"`` for a member without id.
   :func:`customerio_side` checks its own reasoning before it returns: on the faithful copy the
   Customer.io predicates at ``as_of`` reproduce the truth, and at the evaluation time they differ
   only for the ``window_edge`` people.
"""

from __future__ import annotations

import random
from dataclasses import asdict, dataclass, field
from datetime import datetime, timedelta
from decimal import Decimal
from importlib import resources
from pathlib import Path
from typing import Any, Callable

from ..config import SegmentConfig, parse_config
from ..sandbox.conditions import matches
from .shop import DAY, Cart, Customer, Order, Shop

EVALUATION_LAG = timedelta(minutes=15)
EDGE_PLACEMENT_SECONDS = (60, 14 * 60)       # how far past an edge a window_edge person is placed
SEGMENT_AGE_DAYS = 200                        # the segments were created this long before as_of

# kind of drift -> the cause every discrepancy it produces is diagnosed as
KINDS = {
    "window_edge": "window_edge",
    "idless_profile": "idless_profile",
    "purchase_not_received": "attribute_stale",
    "timestamp_unit": "timestamp_unit",
    "consent_not_synced": "consent_mismatch",
    "duplicate_profile": "duplicate_profile",
    "deleted_in_shop": "not_in_shop",
    "never_identified": "profile_missing",
    "attribute_stale": "attribute_stale",
    # .format_and_grace
    "id_format_shift": "id_format",
    "lost_order_in_grace": "attribute_stale",
}
CAUSES = ("timestamp_unit", "consent_mismatch", "attribute_stale", "duplicate_profile", "idless_profile",
          "profile_missing", "not_in_shop", "window_edge", "id_format")
COUNTS = {  # people per kind at 3,000 customers (window_edge: per edge); scaled, never below 1
    "window_edge": 2, "idless_profile": 4, "purchase_not_received": 8, "timestamp_unit": 12,
    "consent_not_synced": 10, "duplicate_profile": 6, "deleted_in_shop": 6, "never_identified": 6,
    "attribute_stale": 8, "id_format_shift": 4, "lost_order_in_grace": 3,
}
CONSENT_SEGMENTS = ("purchased_30d_email_consent", "cart_abandoners_24h", "lapsed_90d_winback",
                    "cross_sell_cleanser_no_moisturizer")
CATEGORY_TIMES = ("cleanser", "moisturizer")   # each gets a "<category>_bought_at" attribute
ENVIRONMENT_ID = "demo-workspace"              # what the sandbox's Track API says it writes to


def scaled(kind: str, customers: int) -> int:
    return max(1, round(COUNTS[kind] * customers / 3000))


# ---------------------------------------------------------------------- the rules

Attributes = dict[str, str]
Condition = dict[str, Any]
CONSENTED: Condition = {"attribute": "email_consent", "equals": "true"}


def _bought(c: Customer, category: str, since: float = float("-inf")) -> bool:
    return any(o.completed_at >= since and category in o.categories for o in c.orders)


def _abandoned(c: Customer, since: float) -> bool:
    return any(ca.updated_at >= since and not any(o.completed_at >= ca.updated_at for o in c.orders)
               for ca in c.carts)


@dataclass(frozen=True)
class Rule:
    """One segment: its SQL's question in Python, and Customer.io's conditions on attributes."""

    truth: Callable[[Customer, float], bool]                 # (customer, window_start epoch)
    customerio: Callable[[float], Condition]                  # the condition, given the window in days
    conditions: str                                           # the segment's description in Customer.io
    edges: tuple[tuple[str, int], ...] = ()                   # window_edge placements: (order|cart, windows back)

    def holds(self, attributes: Attributes, at: float, window_days: float) -> bool:
        """Whether Customer.io, evaluating at ``at``, puts a profile with these attributes in the segment."""
        return matches(self.customerio(window_days), attributes, at)


RULES: dict[str, Rule] = {
    "purchased_30d_email_consent": Rule(
        truth=lambda c, start: c.email_consent and any(o.completed_at >= start for o in c.orders),
        customerio=lambda days: {"and": [{"attribute": "last_order_at", "within_days": days}, CONSENTED]},
        conditions="last_order_at is within the past 30 days AND email_consent is true",
        edges=(("order", 1), ("order", 0))),
    "cart_abandoners_24h": Rule(
        truth=lambda c, start: c.email_consent and _abandoned(c, start),
        customerio=lambda days: {"and": [
            {"attribute": "cart_updated_at", "within_days": days},
            {"or": [{"attribute": "last_order_at", "exists": False},
                    {"attribute": "last_order_at", "before_attribute": "cart_updated_at"}]},
            CONSENTED]},
        conditions="cart_updated_at is within the past 1 day AND (last_order_at does not exist OR "
                   "last_order_at is before cart_updated_at) AND email_consent is true",
        edges=(("cart", 1), ("cart", 0))),
    "lapsed_90d_winback": Rule(
        truth=lambda c, start: c.email_consent and bool(c.orders) and c.last_order_at < start,
        customerio=lambda days: {"and": [{"attribute": "last_order_at", "before_days": days}, CONSENTED]},
        conditions="last_order_at is more than 90 days ago AND email_consent is true",
        edges=(("order", 1),)),
    # every order is within the year (shop.HISTORY_DAYS), so "exists" asks what the SQL's window does
    "cross_sell_cleanser_no_moisturizer": Rule(
        truth=lambda c, start: c.email_consent and _bought(c, "cleanser", start) and not _bought(c, "moisturizer"),
        customerio=lambda days: {"and": [{"attribute": "cleanser_bought_at", "exists": True},
                                          {"attribute": "moisturizer_bought_at", "exists": False}, CONSENTED]},
        conditions="cleanser_bought_at exists AND moisturizer_bought_at does not exist AND email_consent is true"),
    "sms_consent": Rule(
        truth=lambda c, start: c.sms_consent and c.phone is not None,
        customerio=lambda days: {"and": [{"attribute": "sms_consent", "equals": "true"},
                                         {"attribute": "phone", "exists": True}]},
        conditions="sms_consent is true AND phone exists"),
}


def demo_segments() -> list[SegmentConfig]:
    """The segments of the shipped ``config.toml``, which must be exactly the ones :data:`RULES` knows."""
    text = resources.files(__package__).joinpath("config.toml").read_text(encoding="utf-8")
    segments = list(parse_config(text, Path(__file__).with_name("config.toml")).segments)
    names = [s.name for s in segments]
    if sorted(names) != sorted(RULES):
        raise RuntimeError(f"demo config.toml segments {names} do not match the demo's rules {sorted(RULES)}")
    return segments


def truth_members(shop: Shop, segment: SegmentConfig, people: list[Customer] | None = None) -> set[str]:
    start = (shop.as_of - timedelta(days=segment.window_days)).timestamp()
    rule = RULES[segment.name]
    return {str(c.id) for c in (shop.active_customers if people is None else people) if rule.truth(c, start)}


# ---------------------------------------------------------------------- injecting the drift


@dataclass
class Plan:
    """Who got which drift, and what Customer.io therefore never heard about."""

    kinds: dict[int, str] = field(default_factory=dict)      # customer id -> kind
    unsent_orders: set[Order] = field(default_factory=set)   # purchase_not_received, lost_order_in_grace
    idless_carts: set[Cart] = field(default_factory=set)     # held by an email-only profile
    shifted_ids: dict[int, str] = field(default_factory=dict)  # id_format_shift: the id Customer.io holds

    def people(self, kind: str) -> list[int]:
        return sorted(cid for cid, k in self.kinds.items() if k == kind)


def inject(shop: Shop, rng: random.Random, segments: list[SegmentConfig], customers: int, deleted: int) -> Plan:
    """Place the window_edge people, then pick and drift disjoint people for every other kind."""
    plan = Plan()
    _place_window_edges(shop, rng, segments, plan, scaled("window_edge", customers))
    by_name = {s.name: s for s in segments}
    members = {name: truth_members(shop, segment, shop.customers) for name, segment in by_name.items()}
    in_any = set().union(*members.values())
    in_consent = set().union(*(members[name] for name in CONSENT_SEGMENTS))
    now, day = shop.now, DAY

    def pick(kind: str, candidates, k: int | None = None) -> list[Customer]:
        pool = [c for c in shop.customers if c.id not in plan.kinds and candidates(c)]
        chosen = rng.sample(pool, min(len(pool), scaled(kind, customers) if k is None else k))
        for c in chosen:
            plan.kinds[c.id] = kind
        return chosen

    # Scarce pools first. An abandoner whose only recent cart went to an email-only profile.
    cart_start = now - by_name["cart_abandoners_24h"].window_days * day
    for c in pick("idless_profile", lambda c: str(c.id) in members["cart_abandoners_24h"]
                  and sum(ca.updated_at >= cart_start - 3600 for ca in c.carts) == 1):
        plan.idless_carts.add(max(c.carts, key=lambda ca: ca.updated_at))

    # An order Customer.io never received: half converted a cart in the last day (so Customer.io
    # still sees the cart abandoned), half bought earlier in the month after a long pause.
    def converted_today(c: Customer) -> bool:
        last = max(c.orders, key=lambda o: o.completed_at, default=None)
        return (c.email_consent and last is not None and last.cart.updated_at >= cart_start
                and max(ca.updated_at for ca in c.carts) == last.cart.updated_at)

    def bought_after_pause(c: Customer) -> bool:
        times = sorted(o.completed_at for o in c.orders)
        return (c.email_consent and bool(times) and now - 30 * day < times[-1] < cart_start - day
                and (len(times) == 1 or times[-2] < now - 40 * day))

    half = scaled("purchase_not_received", customers) // 2
    for c in (pick("purchase_not_received", converted_today, max(1, half))
              + pick("purchase_not_received", bought_after_pause, scaled("purchase_not_received", customers) - half)):
        plan.unsent_orders.add(max(c.orders, key=lambda o: o.completed_at))

    quarter = max(1, scaled("timestamp_unit", customers) // 4)
    pick("timestamp_unit", lambda c: str(c.id) in members["purchased_30d_email_consent"],
         scaled("timestamp_unit", customers) - quarter)
    pick("timestamp_unit", lambda c: str(c.id) in members["lapsed_90d_winback"], quarter)
    for c in pick("consent_not_synced", lambda c: str(c.id) in in_consent):
        c.email_consent = False                      # withdrawn in the shop; Customer.io still says "true"
    pick("duplicate_profile", lambda c: str(c.id) in in_any)
    for c in pick("deleted_in_shop", lambda c: str(c.id) in in_any, deleted):
        shop.deleted.add(c.id)
    pick("never_identified", lambda c: str(c.id) in in_any)
    for c in pick("attribute_stale", lambda c: c.phone is not None and not c.sms_consent):
        c.sms_consent = True                         # granted in the shop; Customer.io still says "false"
    return plan


def _place_window_edges(shop: Shop, rng: random.Random, segments: list[SegmentConfig], plan: Plan,
                        per_edge: int) -> None:
    """Put people 1-14 minutes past each window's edge, so the evaluation lag shows on them.

    They are consenting customers who never ordered and have no cart in the last three days, so
    the placed order or cart is the only thing that decides their membership.
    """
    low, high = EDGE_PLACEMENT_SECONDS
    for segment in segments:
        for kind, windows_back in RULES[segment.name].edges:
            quiet = [c for c in shop.customers if c.id not in plan.kinds and c.email_consent and not c.orders
                     and all(ca.updated_at < shop.now - 3 * DAY for ca in c.carts)
                     and c.created_at < shop.now - segment.window_days * DAY - DAY]
            for customer in rng.sample(quiet, per_edge):
                at = shop.now - round(windows_back * segment.window_days * DAY) - rng.randint(low, high)
                if kind == "order":
                    shop.add_order(rng, customer, at, exact=True)
                else:
                    shop.add_abandoned_cart(rng, customer, at, exact=True)
                plan.kinds[customer.id] = "window_edge"


# ---------------------------------------------------------------------- the workspace


def attributes(c: Customer, orders: list[Order], carts: list[Cart], email_consent: bool | None = None,
               ) -> Attributes:
    """A profile's attributes as the shop's integration sends them: strings, unix seconds."""
    consent = c.email_consent if email_consent is None else email_consent
    attrs = {"email": c.email, "first_name": c.first_name, "created_at": str(c.created_at),
             "email_consent": _flag(consent), "sms_consent": _flag(c.sms_consent)}
    if c.phone:
        attrs["phone"] = c.phone
    if orders:
        attrs["last_order_at"] = str(max(o.completed_at for o in orders))
        attrs["orders_count"] = str(len(orders))
        attrs["lifetime_value"] = str(sum((o.revenue for o in orders), Decimal("0.00")))
        attrs["bought_categories"] = ",".join(sorted(set().union(*(o.categories for o in orders))))
        for category in CATEGORY_TIMES:
            times = [o.completed_at for o in orders if category in o.categories]
            if times:
                attrs[f"{category}_bought_at"] = str(max(times))
    if carts:
        attrs.update(_cart_attributes(carts))
    return attrs


def _cart_attributes(carts: list[Cart]) -> Attributes:
    latest = max(carts, key=lambda ca: ca.updated_at)
    return {"cart_updated_at": str(latest.updated_at), "cart_value": str(latest.value)}


def _flag(value: bool) -> str:
    return "true" if value else "false"


def _faithful(c: Customer) -> Attributes:
    return attributes(c, c.orders, c.carts)


def _drifted(c: Customer, plan: Plan) -> Attributes:
    """What Customer.io holds for a shop customer given the plan (deleted ones: as they last were)."""
    kind = plan.kinds.get(c.id)
    orders = [o for o in c.orders if o not in plan.unsent_orders]
    carts = [ca for ca in c.carts if ca not in plan.idless_carts]
    attrs = attributes(c, orders, carts, email_consent=True if kind == "consent_not_synced" else None)
    if kind == "timestamp_unit":
        attrs["last_order_at"] = str(int(attrs["last_order_at"]) * 1000)
    elif kind == "attribute_stale":
        attrs["sms_consent"] = "false"
    return attrs


def _email_variant(rng: random.Random, email: str) -> str:
    """The same address as another integration typed it: other case, stray spaces."""
    local, domain = email.split("@")
    variant = f"{local[:1].upper()}{local[1:]}@{domain.upper() if rng.random() < 0.5 else domain}"
    return f" {variant} " if rng.random() < 0.5 else variant


@dataclass
class _Profile:
    cio_id: str
    id: str | None
    email: str | None
    attributes: Attributes
    kind: str | None = None                 # for profiles that exist only because of drift
    customer_id: int | None = None

    @property
    def key(self) -> str:
        return self.id if self.id is not None else f"cio:{self.cio_id}"

    def to_dict(self) -> dict[str, Any]:
        return {"cio_id": self.cio_id, "id": self.id, "email": self.email, "attributes": dict(self.attributes),
                "unsubscribed": False}


def _profiles(shop: Shop, plan: Plan, rng: random.Random) -> list[_Profile]:
    profiles: list[_Profile] = []

    def cio_id() -> str:
        return f"{0xA3000000 + len(profiles) + 1:08x}"

    for c in shop.customers:                      # deleted ones too: Customer.io never heard
        if plan.kinds.get(c.id) != "never_identified":
            profiles.append(_Profile(cio_id(), plan.shifted_ids.get(c.id, str(c.id)), c.email, _drifted(c, plan),
                                     customer_id=c.id))
    guests: set[str] = set()
    for c in (c for c in shop.customers if plan.kinds.get(c.id) == "duplicate_profile"):
        guest = f"guest-{rng.randint(1000, 99999)}"
        while guest in guests:
            guest = f"guest-{rng.randint(1000, 99999)}"
        guests.add(guest)
        email = _email_variant(rng, c.email)
        profiles.append(_Profile(cio_id(), guest, email, {**_drifted(c, plan), "email": email},
                                 kind="duplicate_profile", customer_id=c.id))
    for cart in sorted(plan.idless_carts, key=lambda ca: ca.customer.id):
        c = cart.customer
        attrs = {"email": c.email, "created_at": str(cart.created_at), "email_consent": "true",
                 **_cart_attributes([cart])}
        profiles.append(_Profile(cio_id(), None, c.email, attrs, kind="idless_profile", customer_id=c.id))
    return profiles


# ---------------------------------------------------------------------- the record


@dataclass
class SegmentRecord:
    """What one segment's reconciliation must show, person by person."""

    name: str
    customerio_segment_id: int
    truth: list[str]
    customerio: list[str]
    missing_in_customerio: list[str]
    extra_in_customerio: list[str]
    matched: int
    causes: dict[str, str]


@dataclass
class DemoRecord:
    """What was injected and what every segment's reconciliation must therefore show.

    ``injected`` names customer ids (as strings) by kind of drift; ``extra_profiles`` the
    profiles that exist only because of drift (``duplicate_profile``, ``idless_profile``), by
    cio_id; ``event_problems`` the outbox's problems, each with its count and event ids;
    ``purchases`` what the purchases' comparison and activity sample must show
    (:func:`reconcile.demo.purchases.purchase_side`). ``shifted_ids`` and
    ``lost_orders_in_grace``: see :mod:`.format_and_grace`, which fills them.
    """

    as_of: datetime
    cio_evaluated_at: datetime
    seed: int
    customers: int
    injected: dict[str, list[str]]
    extra_profiles: dict[str, dict[str, Any]]
    event_problems: dict[str, dict[str, Any]]
    segments: dict[str, SegmentRecord]
    purchases: dict[str, Any] = field(default_factory=dict)
    shifted_ids: dict[str, str] = field(default_factory=dict)
    lost_orders_in_grace: dict[str, dict[str, Any]] = field(default_factory=dict)

    def to_dict(self) -> dict[str, Any]:
        data = asdict(self)
        data["as_of"], data["cio_evaluated_at"] = self.as_of.isoformat(), self.cio_evaluated_at.isoformat()
        return data


def customerio_side(shop: Shop, plan: Plan, segments: list[SegmentConfig], rng: random.Random, seed: int,
                    ) -> tuple[dict[str, Any], DemoRecord]:
    """The drifted workspace in the sandbox's format, and the record of what it must show."""
    evaluated_at = shop.as_of - EVALUATION_LAG
    profiles = _profiles(shop, plan, rng)
    kind_of = {str(cid): kind for cid, kind in plan.kinds.items()}
    kind_of.update({p.key: p.kind for p in profiles if p.kind})
    kind_of.update({shifted: "id_format_shift" for shifted in plan.shifted_ids.values()})
    faithful = {str(c.id): _faithful(c) for c in shop.active_customers}
    workspace_segments, records = [], {}
    for segment in segments:
        rule = RULES[segment.name]
        members = [p for p in profiles if rule.holds(p.attributes, evaluated_at.timestamp(), segment.window_days)]
        truth = truth_members(shop, segment)
        _check_reasoning(shop, plan, segment, truth, faithful)
        in_customerio = {p.key for p in members}
        missing, extra = sorted(truth - in_customerio), sorted(in_customerio - truth)
        causes = {}
        for key in missing + extra:
            if key not in kind_of:
                raise RuntimeError(f"demo generator bug: {segment.name}: {key} differs with no drift injected")
            causes[key] = KINDS[kind_of[key]]
        records[segment.name] = SegmentRecord(
            name=segment.name, customerio_segment_id=segment.customerio_segment_id, truth=sorted(truth),
            customerio=sorted(in_customerio), missing_in_customerio=missing, extra_in_customerio=extra,
            matched=len(truth & in_customerio), causes=dict(sorted(causes.items())))
        created = shop.now - (SEGMENT_AGE_DAYS - len(workspace_segments)) * DAY
        workspace_segments.append({
            "id": segment.customerio_segment_id, "name": segment.label, "description": rule.conditions,
            "state": "finished", "progress": None, "type": "dynamic", "tags": ["lifecycle"],
            "created_at": created, "updated_at": int(evaluated_at.timestamp()),
            "members": [p.cio_id for p in members], "condition": rule.customerio(segment.window_days)})
    # the clock keeps the sandbox evaluating segments when Customer.io last did, so a repair moves
    # exactly the people it writes to, and the window_edge people stay where the lag put them
    workspace = {"identifiers": "email_or_id", "environment_id": ENVIRONMENT_ID,
                 "clock": int(evaluated_at.timestamp()), "people": [p.to_dict() for p in profiles],
                 "segments": workspace_segments}
    record = DemoRecord(
        as_of=shop.as_of, cio_evaluated_at=evaluated_at, seed=seed, customers=len(shop.active_customers),
        injected={kind: [str(cid) for cid in plan.people(kind)] for kind in KINDS},
        extra_profiles={p.cio_id: {"kind": p.kind, "id": p.id, "email": p.email, "customer_id": str(p.customer_id)}
                        for p in profiles if p.kind},
        event_problems=shop.event_problems, segments=records)
    return workspace, record


def _check_reasoning(shop: Shop, plan: Plan, segment: SegmentConfig, truth: set[str],
                     faithful: dict[str, Attributes]) -> None:
    """Fail loudly unless the causes can be trusted.

    On the faithful copy (no drift), the Customer.io conditions evaluated at ``as_of`` must give
    the truth exactly (the two predicates agree), and evaluated at the evaluation time they may
    differ only for the window_edge people (the lag touches nobody else).
    """
    rule, days = RULES[segment.name], segment.window_days
    at_as_of = {key for key, a in faithful.items() if rule.holds(a, shop.as_of.timestamp(), days)}
    if at_as_of != truth:
        raise RuntimeError(f"demo generator bug: {segment.name}: Customer.io's conditions and the truth disagree "
                           f"on a faithful copy for {sorted(at_as_of ^ truth)[:5]}")
    lagged = (shop.as_of - EVALUATION_LAG).timestamp()
    at_lag = {key for key, a in faithful.items() if rule.holds(a, lagged, days)}
    stray = {key for key in at_lag ^ truth if plan.kinds.get(int(key)) != "window_edge"}
    if stray:
        raise RuntimeError(f"demo generator bug: {segment.name}: the evaluation lag moves {sorted(stray)[:5]}, "
                           "who are not window_edge people")


__all__ = ["DemoRecord", "SegmentRecord", "RULES", "KINDS", "CAUSES", "demo_segments", "inject", "customerio_side",
           "truth_members"]
