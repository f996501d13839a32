"""The demo shop: a DTC skincare shop with one year of history, as Python objects and as tables.

Why it looks like this:

* **Objects first, tables last.** The history (customers, their orders and carts, anonymous
  sessions) is generated as plain objects, so :mod:`.drift` can inject drift into it and compute
  every segment's truth in Python from the same objects that are then written. The record of
  what each segment must show therefore never depends on running the SQL it is meant to check.
* **Whole unix seconds inside.** Every instant is an ``int`` of unix seconds until it is written,
  when :func:`db_instant` turns it into the datetime the dialect wants (timezone-aware UTC for
  PostgreSQL, naive UTC for SQLite and MySQL/MariaDB, whose ``DATETIME`` has no zone).
* **Clear of the window edges.** Naturally generated order and cart times keep
  :data:`EDGE_MARGIN` away from ``as_of``'s time of day, so no natural instant sits near any
  whole-day window edge (``as_of - N days``) nor within the last minutes before ``as_of``. The
  only people near an edge are those :mod:`.drift` puts there on purpose (``window_edge``), and
  no comparison in any dialect hinges on sub-second precision.
* **The outbox has the field's problems, counted.** :meth:`Shop.freeze` writes the ``events``
  table with duplicated ``order_completed`` events, ``productId`` for ``product_id``, ``items``
  sent as a JSON string, millisecond timestamps and checkouts whose ``added_to_cart`` was lost;
  each problem touches its own events, and :attr:`Shop.event_problems` names them all.
* **Deterministic.** Everything random comes from the one ``random.Random`` passed in, consumed
  in a fixed order; nothing reads the clock.
"""

from __future__ import annotations

import json
import random
import uuid
from dataclasses import dataclass, field
from datetime import datetime, timezone
from decimal import ROUND_HALF_UP, Decimal
from typing import Any

from sqlalchemy import (BigInteger, Boolean, Column, DateTime, ForeignKey, Integer, MetaData, Numeric, String,
                        Table, Text, inspect)
from sqlalchemy.engine import Engine

DAY = 86_400
HISTORY_DAYS = 364            # inside any 365-day window, so "bought in the last year" means "ever bought"
EDGE_MARGIN = 20 * 60         # natural times keep this far from as_of's time of day (see the module docstring)
BATCH_ROWS = 2_000
CENT = Decimal("0.01")

metadata = MetaData()

customers_table = Table(
    "customers", metadata,
    Column("id", Integer, primary_key=True, autoincrement=False),
    Column("email", String(255), nullable=False, unique=True),
    Column("phone", String(32)),
    Column("first_name", String(100), nullable=False),
    Column("created_at", DateTime(timezone=True), nullable=False),
    Column("email_consent", Boolean, nullable=False),
    Column("sms_consent", Boolean, nullable=False),
)
products_table = Table(
    "products", metadata,
    Column("id", Integer, primary_key=True, autoincrement=False),
    Column("sku", String(20), nullable=False, unique=True),
    Column("name", String(100), nullable=False),
    Column("category", String(40), nullable=False),
    Column("price", Numeric(10, 2), nullable=False),
)
orders_table = Table(
    "orders", metadata,
    Column("id", Integer, primary_key=True, autoincrement=False),
    Column("order_id", String(20), nullable=False, unique=True),
    Column("customer_id", Integer, ForeignKey("customers.id"), nullable=False, index=True),
    Column("completed_at", DateTime(timezone=True), nullable=False),
    Column("revenue", Numeric(10, 2), nullable=False),
    Column("discount_code", String(20)),
)
order_items_table = Table(
    "order_items", metadata,
    Column("id", Integer, primary_key=True, autoincrement=False),
    Column("order_id", Integer, ForeignKey("orders.id"), nullable=False, index=True),
    Column("product_id", Integer, ForeignKey("products.id"), nullable=False),
    Column("qty", Integer, nullable=False),
    Column("price", Numeric(10, 2), nullable=False),
)
anonymous_sessions_table = Table(
    "anonymous_sessions", metadata,
    Column("anonymous_id", String(40), primary_key=True),
    Column("customer_id", Integer, ForeignKey("customers.id"), index=True),
    Column("first_seen_at", DateTime(timezone=True), nullable=False),
    Column("identified_at", DateTime(timezone=True)),
)
carts_table = Table(
    "carts", metadata,
    Column("id", Integer, primary_key=True, autoincrement=False),
    Column("cart_id", String(40), nullable=False, unique=True),
    Column("customer_id", Integer, ForeignKey("customers.id"), index=True),
    Column("anonymous_id", String(40)),
    Column("created_at", DateTime(timezone=True), nullable=False),
    Column("updated_at", DateTime(timezone=True), nullable=False),
    Column("value", Numeric(10, 2), nullable=False),
)
events_table = Table(
    "events", metadata,
    Column("id", Integer, primary_key=True, autoincrement=False),
    Column("event_id", String(36), nullable=False, unique=True),
    Column("name", String(40), nullable=False, index=True),
    Column("customer_id", Integer),          # no foreign key: an outbox keeps what it sent
    Column("anonymous_id", String(40)),
    Column("timestamp", BigInteger, nullable=False),
    Column("properties", Text, nullable=False),
)

CATALOG = (  # sku prefix, category, (name, price) ...
    ("CLN", "cleanser", [("Gentle Foam Cleanser", "18.00"), ("Oil Cleansing Balm", "24.00"),
                         ("Gel Cleanser", "16.00")]),
    ("MST", "moisturizer", [("Daily Moisturizer", "28.00"), ("Rich Night Cream", "36.00"),
                            ("Oil-Free Gel Cream", "30.00")]),
    ("SRM", "serum", [("Vitamin C Serum", "42.00"), ("Niacinamide 10% Serum", "22.00"),
                      ("Hyaluronic Acid Serum", "26.00"), ("Retinol 0.3% Serum", "38.00")]),
    ("SPF", "sunscreen", [("Mineral Sunscreen SPF 30", "25.00"), ("Invisible Sunscreen SPF 50", "29.00")]),
    ("TNR", "toner", [("Exfoliating AHA/BHA Toner", "21.00"), ("Hydrating Toner", "19.00")]),
    ("MSK", "mask", [("Clay Mask", "24.00"), ("Overnight Sleeping Mask", "32.00")]),
    ("EYE", "eye_care", [("Caffeine Eye Cream", "27.00")]),
)
CATEGORY_WEIGHTS = {"cleanser": 28, "moisturizer": 18, "serum": 22, "sunscreen": 12, "toner": 10,
                    "mask": 6, "eye_care": 4}
DISCOUNTS = {"WELCOME10": Decimal("0.10"), "SPRING15": Decimal("0.15"), "VIP20": Decimal("0.20"),
             "FRIENDS10": Decimal("0.10")}
FIRST_NAMES = ("Ava", "Mia", "Noah", "Liam", "Emma", "Olivia", "Sofia", "Lucas", "Chloe", "Zoe", "Maya", "Leah",
               "Ethan", "Aria", "Nora", "Ella", "Grace", "Hana", "Priya", "Aisha", "Fatima", "Mateo", "Diego",
               "Camila", "Valentina", "Yuki", "Mei", "Jin", "Amara", "Zara", "Ines", "Clara", "Julia", "Elena",
               "Sara", "Lena", "Ivy", "Ruby", "Isla", "Freya", "Omar", "Kai", "Leo", "Theo", "Sam", "Alex",
               "Jordan", "Taylor", "Riley", "Morgan")
LAST_NAMES = ("smith", "garcia", "nguyen", "patel", "kim", "johnson", "brown", "martin", "lopez", "wilson",
              "chen", "singh", "muller", "rossi", "silva", "cohen", "haddad", "okafor", "tanaka", "ivanova",
              "novak", "dubois", "larsen", "jensen", "walker", "young", "hall", "allen", "wright", "scott",
              "green", "baker", "adams", "nelson", "carter", "mitchell", "perez", "roberts", "turner", "phillips")
DOMAINS = ("gmail.com", "gmail.com", "gmail.com", "yahoo.com", "outlook.com", "icloud.com", "hotmail.com",
           "proton.me", "fastmail.com")


@dataclass(frozen=True)
class Product:
    id: int
    sku: str
    name: str
    category: str
    price: Decimal


@dataclass(frozen=True)
class Item:
    product: Product
    qty: int

    @property
    def amount(self) -> Decimal:
        return self.product.price * self.qty


@dataclass(eq=False)
class Cart:
    cart_id: str
    customer: "Customer | None"
    anonymous_id: str | None
    created_at: int
    updated_at: int
    items: list[Item]
    checkout_started: bool = False
    order: "Order | None" = None
    id: int = 0

    @property
    def value(self) -> Decimal:
        return sum((item.amount for item in self.items), Decimal("0.00"))


@dataclass(eq=False)
class Order:
    customer: "Customer"
    cart: Cart
    completed_at: int
    items: list[Item]
    discount_code: str | None
    revenue: Decimal
    id: int = 0

    @property
    def order_id(self) -> str:
        return f"ORD-{self.id:06d}"

    @property
    def categories(self) -> set[str]:
        return {item.product.category for item in self.items}


@dataclass(eq=False)
class Customer:
    id: int
    email: str
    phone: str | None
    first_name: str
    created_at: int
    email_consent: bool
    sms_consent: bool
    orders: list[Order] = field(default_factory=list)
    carts: list[Cart] = field(default_factory=list)

    @property
    def last_order_at(self) -> int | None:
        return max((o.completed_at for o in self.orders), default=None)


@dataclass(eq=False)
class Session:
    anonymous_id: str
    customer: Customer | None
    first_seen_at: int
    identified_at: int | None


@dataclass
class Event:
    name: str
    at: int                          # true unix seconds; ``in_ms`` only changes how it is written
    properties: dict[str, Any] | None
    customer_id: int | None
    anonymous_id: str | None
    event_id: str = ""
    in_ms: bool = False
    items_as_string: bool = False
    id: int = 0

    @property
    def timestamp(self) -> int:
        return self.at * 1000 if self.in_ms else self.at

    def properties_json(self) -> str:
        props = dict(self.properties or {})
        if self.items_as_string:
            props["items"] = json.dumps(props["items"])
        return json.dumps(props, sort_keys=True)


def _catalog() -> list[Product]:
    products, next_id = [], 1
    for prefix, category, entries in CATALOG:
        for n, (name, price) in enumerate(entries, start=1):
            products.append(Product(next_id, f"{prefix}-{n:03d}", name, category, Decimal(price)))
            next_id += 1
    return products


def _token(rng: random.Random, prefix: str, bits: int = 48) -> str:
    return f"{prefix}_{rng.getrandbits(bits):0{bits // 4}x}"


class Shop:
    """The shop's whole history; ``as_of`` is the instant the audit runs at (the history's end)."""

    def __init__(self, as_of: datetime):
        if as_of.tzinfo is None:
            raise ValueError("as_of must be timezone-aware (UTC); got a naive datetime")
        self.as_of = as_of.astimezone(timezone.utc)
        self.now = int(self.as_of.timestamp() // 1)          # whole seconds at or before as_of
        self.start = self.now - HISTORY_DAYS * DAY
        self.products = _catalog()
        self._by_category: dict[str, list[Product]] = {}
        for product in self.products:
            self._by_category.setdefault(product.category, []).append(product)
        self.customers: list[Customer] = []
        self.deleted: set[int] = set()                        # customer ids whose rows are not written
        self.anonymous_carts: list[Cart] = []
        self.sessions: list[Session] = []
        self.events: list[Event] = []
        self.event_problems: dict[str, dict[str, Any]] = {}
        self._cart_ids: set[str] = set()

    # ------------------------------------------------------------------ views

    @property
    def active_customers(self) -> list[Customer]:
        return [c for c in self.customers if c.id not in self.deleted]

    def orders(self) -> list[Order]:
        return [o for c in self.active_customers for o in c.orders]

    def carts(self) -> list[Cart]:
        return [ca for c in self.active_customers for ca in c.carts] + self.anonymous_carts

    def clear(self, at: int) -> int:
        """``at`` moved earlier, if needed, to stay EDGE_MARGIN away from as_of's time of day."""
        r = (self.now - at) % DAY
        if r < EDGE_MARGIN:
            return at - (EDGE_MARGIN - r)
        if r > DAY - EDGE_MARGIN:
            return at - (DAY - r) - EDGE_MARGIN
        return at

    # ------------------------------------------------------------------ building blocks

    def basket(self, rng: random.Random, size: int | None = None) -> list[Item]:
        size = size or rng.choices((1, 2, 3, 4), weights=(45, 33, 15, 7))[0]
        chosen: list[Product] = []
        while len(chosen) < size:
            category = rng.choices(list(CATEGORY_WEIGHTS), weights=list(CATEGORY_WEIGHTS.values()))[0]
            product = rng.choice(self._by_category[category])
            if product not in chosen:
                chosen.append(product)
        return [Item(p, rng.choices((1, 2, 3), weights=(85, 12, 3))[0]) for p in chosen]

    def new_cart(self, rng: random.Random, customer: Customer | None, updated_at: int, *,
                 items: list[Item] | None = None, anonymous_id: str | None = None) -> Cart:
        """A cart last changed at ``updated_at`` (taken as given: callers clear it if they want)."""
        cart_id = _token(rng, "cart")
        while cart_id in self._cart_ids:
            cart_id = _token(rng, "cart")
        self._cart_ids.add(cart_id)
        created_at = updated_at - rng.choice((0, 0, rng.randint(60, 3600), rng.randint(3600, 2 * DAY)))
        cart = Cart(cart_id, customer, anonymous_id, created_at, updated_at, items or self.basket(rng, rng.choice((1, 1, 2))),
                    checkout_started=rng.random() < 0.3)
        if customer is None:
            self.anonymous_carts.append(cart)
        else:
            customer.carts.append(cart)
        return cart

    def add_abandoned_cart(self, rng: random.Random, customer: Customer, updated_at: int, *,
                           exact: bool = False) -> Cart:
        return self.new_cart(rng, customer, updated_at if exact else self.clear(updated_at))

    def add_order(self, rng: random.Random, customer: Customer, completed_at: int, *, exact: bool = False) -> Order:
        """An order completed at ``completed_at`` (cleared unless ``exact``), with the cart it came from."""
        if not exact:
            completed_at = self.clear(completed_at)
        items = self.basket(rng)
        cart = self.new_cart(rng, customer, self.clear(completed_at - rng.randint(120, 3600)), items=items)
        cart.checkout_started = True
        if not customer.orders and rng.random() < 0.3:
            code: str | None = "WELCOME10"
        elif customer.orders and rng.random() < 0.12:
            code = rng.choice(("SPRING15", "VIP20", "FRIENDS10"))
        else:
            code = None
        subtotal = cart.value
        revenue = (subtotal * (1 - DISCOUNTS[code]) if code else subtotal).quantize(CENT, ROUND_HALF_UP)
        order = Order(customer, cart, completed_at, items, code, revenue)
        cart.order = order
        customer.orders.append(order)
        return order

    # ------------------------------------------------------------------ finishing

    def freeze(self, rng: random.Random, scale: float = 1.0) -> None:
        """Number the rows and write the event outbox, its problems included; call once, last."""
        for n, order in enumerate(sorted(self.orders(), key=lambda o: (o.completed_at, o.customer.id)), start=1):
            order.id = n
        for n, cart in enumerate(sorted(self.carts(), key=lambda ca: (ca.created_at, ca.cart_id)), start=1):
            cart.id = n
        events = _events(self, rng)
        self.event_problems = _inject_event_problems(events, rng, scale, self.now)
        events.sort(key=lambda e: (e.at, e.name, e.event_id))
        for n, event in enumerate(events, start=1):
            event.id = n
        self.events = events


# ---------------------------------------------------------------------- generation


def _unique_email(rng: random.Random, first: str, last: str, taken: set[str]) -> str:
    while True:
        style = rng.randrange(3)
        local = (f"{first.lower()}.{last}" if style == 0 else f"{first.lower()}{last[:1]}" if style == 1
                 else f"{first[:1].lower()}{last}")
        email = f"{local}{rng.randint(1, 999)}@{rng.choice(DOMAINS)}"
        if email not in taken:
            taken.add(email)
            return email


def generate(rng: random.Random, as_of: datetime, customers: int) -> Shop:
    """A year of history for ``customers`` people (ids 1..customers), ending at ``as_of``.

    Roughly: a third of the customers predate the year; about 60% buy, half of them more than
    once; most people also leave carts behind; some browse anonymously before they sign up, and
    many anonymous visitors never do. A short sale in the last day gives the 24-hour cart
    segment enough people to be worth reconciling.
    """
    shop = Shop(as_of)
    taken: set[str] = set()
    for cid in range(1, customers + 1):
        first, last = rng.choice(FIRST_NAMES), rng.choice(LAST_NAMES)
        email = _unique_email(rng, first, last, taken)
        phone = f"+1{rng.randint(201, 989)}{rng.randint(2_000_000, 9_999_999)}" if rng.random() < 0.6 else None
        old = rng.random() < 0.35
        created = (shop.start - rng.randint(DAY, 730 * DAY) if old
                   else shop.now - rng.randint(3600, HISTORY_DAYS * DAY))
        customer = Customer(cid, email, phone, first, created, email_consent=rng.random() < 0.72,
                            sms_consent=rng.random() < (0.45 if phone else 0.03))
        shop.customers.append(customer)
        if not old and rng.random() < 0.4:
            _anonymous_start(shop, rng, customer)
        if rng.random() < 0.62:
            _orders(shop, rng, customer, old)
        for _ in range(rng.choices((0, 1, 2, 3), weights=(45, 30, 15, 10))[0]):
            earliest = max(customer.created_at, shop.start)
            if earliest < shop.now - EDGE_MARGIN:
                shop.add_abandoned_cart(rng, customer, rng.randint(earliest, shop.now - EDGE_MARGIN))
    _last_day_sale(shop, rng)
    _anonymous_visitors(shop, rng, customers)
    return shop


def _anonymous_start(shop: Shop, rng: random.Random, customer: Customer) -> None:
    """Browsed anonymously before signing up; half of them had a cart, linked on sign-up."""
    first_seen = customer.created_at - rng.randint(600, 7 * DAY)
    anonymous_id = _token(rng, "anon", 64)
    if rng.random() < 0.5:
        updated = shop.clear(rng.randint(first_seen + 60, customer.created_at - 60))
        cart = shop.new_cart(rng, customer, updated, anonymous_id=anonymous_id)
        first_seen = min(first_seen, cart.created_at - 60)
    shop.sessions.append(Session(anonymous_id, customer, first_seen, customer.created_at))


def _orders(shop: Shop, rng: random.Random, customer: Customer, old: bool) -> None:
    count = rng.choices(range(1, 11), weights=(45, 22, 13, 8, 5, 3, 2, 1, 0.6, 0.4))[0]
    at = (shop.start + rng.randint(0, 120 * DAY) if old
          else customer.created_at + 600 + int(rng.expovariate(1 / (6 * DAY))))
    for _ in range(count):
        if at > shop.now - EDGE_MARGIN:
            break
        order = shop.add_order(rng, customer, at)
        at = order.completed_at + 3 * DAY + int(rng.expovariate(1 / (40 * DAY)))


def _last_day_sale(shop: Shop, rng: random.Random) -> None:
    """3% of the customers came back in the last day: 40% bought, the rest left a cart."""
    eligible = [c for c in shop.customers if c.created_at < shop.now - DAY]
    for customer in rng.sample(eligible, round(0.03 * len(shop.customers))):
        if rng.random() < 0.4:
            shop.add_order(rng, customer, shop.now - rng.randint(EDGE_MARGIN + 600, 22 * 3600))
        else:
            shop.add_abandoned_cart(rng, customer, shop.now - rng.randint(EDGE_MARGIN, DAY - EDGE_MARGIN))


def _anonymous_visitors(shop: Shop, rng: random.Random, customers: int) -> None:
    """Visitors never identified: sessions, and sometimes a cart nobody can be emailed about."""
    for _ in range(round(0.2 * customers)):
        first_seen = rng.randint(shop.start, shop.now - EDGE_MARGIN - 3600)
        anonymous_id = _token(rng, "anon", 64)
        shop.sessions.append(Session(anonymous_id, None, first_seen, None))
        if rng.random() < 0.35:
            shop.new_cart(rng, None, shop.clear(first_seen + rng.randint(60, 3600)), anonymous_id=anonymous_id)


# ---------------------------------------------------------------------- the outbox


def _item_json(item: Item) -> dict[str, Any]:
    p = item.product
    return {"product_id": p.id, "name": p.name, "category": p.category, "qty": item.qty, "price": float(p.price)}


def _viewed(product: Product, at: int, who: tuple[int | None, str | None]) -> Event:
    props = {"product_id": product.id, "name": product.name, "category": product.category,
             "price": float(product.price)}
    return Event("product_viewed", at, props, *who)


def _events(shop: Shop, rng: random.Random) -> list[Event]:
    """What the shop sent to Customer.io: views, cart adds, checkouts, orders; who sent it as it was then."""
    events: list[Event] = []
    identified_at = {s.anonymous_id: s.identified_at for s in shop.sessions}
    for cart in sorted(shop.carts(), key=lambda ca: ca.id):
        anonymous = cart.anonymous_id is not None and (identified_at.get(cart.anonymous_id) is None
                                                       or cart.updated_at < identified_at[cart.anonymous_id])
        who = (None, cart.anonymous_id) if anonymous else (cart.customer.id if cart.customer else None, None)
        for item in cart.items:
            events.append(_viewed(item.product, cart.created_at - rng.randint(30, 1800), who))
        items = [_item_json(item) for item in cart.items]
        value = float(cart.value)
        events.append(Event("added_to_cart", cart.updated_at, {"cart_id": cart.cart_id, "items": items,
                                                               "value": value}, *who))
        order = cart.order
        if cart.checkout_started:
            until = order.completed_at if order else min(cart.updated_at + 1800, shop.now)
            at = rng.randint(cart.updated_at, max(cart.updated_at, until - 1))
            events.append(Event("checkout_started", at, {"cart_id": cart.cart_id, "value": value}, *who))
        if order:
            events.append(Event("order_completed", order.completed_at, {
                "order_id": order.order_id, "cart_id": cart.cart_id, "items": items,
                "revenue": float(order.revenue), "discount_code": order.discount_code}, order.customer.id, None))
    for customer in shop.active_customers:  # browsing that led nowhere
        earliest = max(customer.created_at, shop.start)
        if earliest < shop.now - 3600:
            events.append(_viewed(rng.choice(shop.products), rng.randint(earliest, shop.now - 3600), (customer.id, None)))
    for session in shop.sessions:
        if session.customer is None:
            for _ in range(rng.randint(1, 4)):
                events.append(_viewed(rng.choice(shop.products), session.first_seen_at + rng.randint(0, 1800),
                                      (None, session.anonymous_id)))
    for event in events:
        event.event_id = str(uuid.UUID(int=rng.getrandbits(128), version=4))
    return events


EVENT_PROBLEM_COUNTS = {  # at 3,000 customers; scaled with the shop, never below 2
    "duplicate_order_completed": 8,
    "product_id_renamed": 25,
    "items_as_string": 15,
    "timestamp_in_milliseconds": 20,
    "checkout_without_add_to_cart": 6,
}


def _inject_event_problems(events: list[Event], rng: random.Random, scale: float, now: int,
                           ) -> dict[str, dict[str, Any]]:
    """Give disjoint sets of events each of the field's problems; return what was done, by kind."""
    def count(kind: str) -> int:
        return max(2, round(EVENT_PROBLEM_COUNTS[kind] * scale))

    touched: set[int] = set()

    def pick(candidates: list[Event], k: int) -> list[Event]:
        chosen = rng.sample([e for e in candidates if id(e) not in touched], k)
        touched.update(id(e) for e in chosen)
        return chosen

    by_name: dict[str, list[Event]] = {}
    for event in events:
        by_name.setdefault(event.name, []).append(event)
    problems: dict[str, dict[str, Any]] = {}

    # A lost added_to_cart: the checkout_started that follows names a cart the stream never saw.
    adds = {e.properties["cart_id"]: e for e in by_name["added_to_cart"]}
    checkouts = pick([e for e in by_name["checkout_started"] if e.properties["cart_id"] in adds],
                     count("checkout_without_add_to_cart"))
    lost = {id(adds[e.properties["cart_id"]]) for e in checkouts}
    touched.update(lost)
    events[:] = [e for e in events if id(e) not in lost]
    problems["checkout_without_add_to_cart"] = {
        "count": len(checkouts), "event_ids": sorted(e.event_id for e in checkouts),
        "cart_ids": sorted(e.properties["cart_id"] for e in checkouts)}

    # A retried delivery: the same order sent twice under a new event_id, seconds later.
    originals = pick(by_name["order_completed"], count("duplicate_order_completed"))
    copies = []
    for original in originals:
        copy = Event(original.name, min(original.at + rng.randint(1, 90), now), dict(original.properties),
                     original.customer_id, original.anonymous_id,
                     event_id=str(uuid.UUID(int=rng.getrandbits(128), version=4)))
        copies.append(copy)
        touched.add(id(copy))
    events.extend(copies)
    problems["duplicate_order_completed"] = {
        "count": len(copies), "event_ids": sorted(e.event_id for e in copies),
        "order_ids": sorted(e.properties["order_id"] for e in copies),
        "revenue_double_counted": float(sum(Decimal(str(e.properties["revenue"])) for e in copies))}

    renamed = pick(by_name["product_viewed"], count("product_id_renamed"))
    for event in renamed:
        event.properties = {("productId" if k == "product_id" else k): v for k, v in event.properties.items()}
    problems["product_id_renamed"] = {"count": len(renamed), "event_ids": sorted(e.event_id for e in renamed)}

    stringly = pick(by_name["added_to_cart"] + by_name["order_completed"], count("items_as_string"))
    for event in stringly:
        event.items_as_string = True
    problems["items_as_string"] = {"count": len(stringly), "event_ids": sorted(e.event_id for e in stringly)}

    in_ms = pick([e for e in events if id(e) not in lost], count("timestamp_in_milliseconds"))
    for event in in_ms:
        event.in_ms = True
    problems["timestamp_in_milliseconds"] = {"count": len(in_ms), "event_ids": sorted(e.event_id for e in in_ms)}
    return problems


# ---------------------------------------------------------------------- writing


def db_instant(dialect: str, unix_seconds: int) -> datetime:
    """UTC as the dialect stores it: aware for PostgreSQL's timestamptz, naive UTC elsewhere."""
    aware = datetime.fromtimestamp(unix_seconds, timezone.utc)
    return aware if dialect == "postgresql" else aware.replace(tzinfo=None)


def _rows(shop: Shop, dialect: str) -> list[tuple[Table, list[dict[str, Any]]]]:
    def at(value: int | None) -> datetime | None:
        return None if value is None else db_instant(dialect, value)

    people = shop.active_customers
    orders = sorted(shop.orders(), key=lambda o: o.id)
    active = {c.id for c in people}
    item_rows, next_item = [], 1
    for order in orders:
        for item in order.items:
            item_rows.append({"id": next_item, "order_id": order.id, "product_id": item.product.id,
                              "qty": item.qty, "price": item.product.price})
            next_item += 1
    return [
        (customers_table, [{"id": c.id, "email": c.email, "phone": c.phone, "first_name": c.first_name,
                            "created_at": at(c.created_at), "email_consent": c.email_consent,
                            "sms_consent": c.sms_consent} for c in people]),
        (products_table, [{"id": p.id, "sku": p.sku, "name": p.name, "category": p.category, "price": p.price}
                          for p in shop.products]),
        (orders_table, [{"id": o.id, "order_id": o.order_id, "customer_id": o.customer.id,
                         "completed_at": at(o.completed_at), "revenue": o.revenue,
                         "discount_code": o.discount_code} for o in orders]),
        (order_items_table, item_rows),
        (anonymous_sessions_table, [
            {"anonymous_id": s.anonymous_id, "customer_id": s.customer.id if s.customer else None,
             "first_seen_at": at(s.first_seen_at), "identified_at": at(s.identified_at)}
            for s in shop.sessions if s.customer is None or s.customer.id in active]),
        (carts_table, [{"id": ca.id, "cart_id": ca.cart_id, "customer_id": ca.customer.id if ca.customer else None,
                        "anonymous_id": ca.anonymous_id, "created_at": at(ca.created_at),
                        "updated_at": at(ca.updated_at), "value": ca.value}
                       for ca in sorted(shop.carts(), key=lambda ca: ca.id)]),
        (events_table, [{"id": e.id, "event_id": e.event_id, "name": e.name, "customer_id": e.customer_id,
                         "anonymous_id": e.anonymous_id, "timestamp": e.timestamp,
                         "properties": e.properties_json()} for e in shop.events]),
    ]


def write_shop(engine: Engine, shop: Shop) -> dict[str, int]:
    """Create the tables (they must not exist yet) and insert the shop; return rows per table."""
    existing = sorted(set(inspect(engine).get_table_names()) & set(metadata.tables))
    if existing:
        raise ValueError(f"the database already has the table(s) {', '.join(existing)}; "
                         "build the demo shop into an empty database or schema")
    metadata.create_all(engine, checkfirst=False)
    counts = {}
    with engine.begin() as conn:
        for table, rows in _rows(shop, engine.dialect.name):
            for start in range(0, len(rows), BATCH_ROWS):
                conn.execute(table.insert(), rows[start:start + BATCH_ROWS])
            counts[table.name] = len(rows)
    return counts
