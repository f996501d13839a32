"""Generated event streams with problems injected in exact, stated numbers.

``make_events(carts=..., problems=Problems(...))`` returns canonical event tuples
``(event_id, name, customer_id, anonymous_id, timestamp, properties_json)`` and the counts each
check must report. The tests build small streams; ``benchmarks/bench_checks.py`` builds a
million events with the same function.

Per cart the journey is: 2 product_viewed, added_to_cart (1-3 items), checkout_started, and for
every other cart order_completed; one person per cart (a customer, or an anonymous visitor for
every tenth cart). Problems, each on its own events so that counts never overlap:

* ``duplicate_orders``: that many order_completed events are sent a second time (new event id,
  same order_id and revenue, 30 s later): ``expect_column_values_to_be_unique`` counts both
  copies, ``expect_orders_to_be_counted_once`` the second ones.
* ``product_id_drift``: that many product_viewed events say ``productId``.
* ``items_as_string``: that many order_completed events carry ``items`` as a JSON string.
* ``milliseconds``: that many order_completed events have a timestamp in milliseconds.
* ``checkout_without_cart``: that many carts have no added_to_cart event.
"""

from __future__ import annotations

import json
import random
from dataclasses import dataclass, field

BASE_TS = 1_760_000_000            # 2025-10-09, unix seconds
CATEGORIES = ("shoes", "shirts", "bags", "socks", "hats")
EVENTS_PER_CART = 4.5              # 2 views + cart + checkout + half an order


@dataclass(frozen=True)
class Problems:
    duplicate_orders: int = 0
    product_id_drift: int = 0
    items_as_string: int = 0
    milliseconds: int = 0
    checkout_without_cart: int = 0


@dataclass
class Stream:
    rows: list[tuple]
    problems: Problems
    counts: dict[str, int] = field(default_factory=dict)      # events per name
    revenue_double_counted: float = 0.0
    event_ids: dict[str, list[str]] = field(default_factory=dict)   # offending events per problem


def make_events(carts: int, problems: Problems = Problems(), seed: int = 7) -> Stream:
    rng = random.Random(seed)
    rows: list[tuple] = []
    stream = Stream(rows=rows, problems=problems, event_ids={k: [] for k in Problems.__dataclass_fields__})
    orders = [c for c in range(carts) if c % 2 == 0]
    if (problems.duplicate_orders + problems.items_as_string + problems.milliseconds > len(orders)
            or problems.product_id_drift > carts or problems.checkout_without_cart > carts // 2):
        raise ValueError("more problems than events to put them on")
    # order carts carry the order problems, carts without orders the cart problem: never on one event twice
    duplicated = set(orders[:problems.duplicate_orders])
    stringified = set(orders[problems.duplicate_orders:problems.duplicate_orders + problems.items_as_string])
    first_ms = problems.duplicate_orders + problems.items_as_string
    in_ms = set(orders[first_ms:first_ms + problems.milliseconds])
    no_cart = set([c for c in range(carts) if c % 2 == 1][:problems.checkout_without_cart])
    drifted = set(range(problems.product_id_drift))
    sequence = 0

    def emit(name: str, cart: int, ts: int, props: dict, problem: str | None = None) -> str:
        nonlocal sequence
        sequence += 1
        event_id = f"ev-{sequence:08d}"
        customer, anonymous = (None, f"anon-{cart}") if cart % 10 == 9 else (str(1000 + cart % 5000), None)
        rows.append((event_id, name, customer, anonymous, ts, json.dumps(props)))
        stream.counts[name] = stream.counts.get(name, 0) + 1
        if problem:
            stream.event_ids[problem].append(event_id)
        return event_id

    for cart in range(carts):
        ts = BASE_TS + cart * 60
        cart_id = f"cart-{cart:07d}"
        items = [{"product_id": f"P{rng.randrange(10_000):05d}", "name": "Item", "category": rng.choice(CATEGORIES),
                  "qty": rng.randrange(1, 4), "price": round(rng.uniform(5, 120), 2)}
                 for _ in range(1 + cart % 3)]
        value = round(sum(i["qty"] * i["price"] for i in items), 2)
        for view, item in enumerate(items[:1] * 2):
            key = "productId" if cart in drifted and view == 0 else "product_id"
            emit("product_viewed", cart, ts + view,
                 {key: item["product_id"], "name": item["name"], "category": item["category"], "price": item["price"]},
                 "product_id_drift" if key == "productId" else None)
        if cart not in no_cart:
            emit("added_to_cart", cart, ts + 5, {"cart_id": cart_id, "items": items, "value": value})
        emit("checkout_started", cart, ts + 10, {"cart_id": cart_id, "value": value},
             "checkout_without_cart" if cart in no_cart else None)
        if cart % 2 == 0:
            order = {"order_id": f"ORD-{cart:07d}", "cart_id": cart_id,
                     "items": json.dumps(items) if cart in stringified else items,
                     "revenue": value, "discount_code": "WELCOME10" if cart % 4 == 0 else None}
            stamp = (ts + 20) * 1000 if cart in in_ms else ts + 20
            emit("order_completed", cart, stamp, order,
                 "items_as_string" if cart in stringified else "milliseconds" if cart in in_ms else None)
            if cart in duplicated:
                emit("order_completed", cart, ts + 50, order, "duplicate_orders")
                stream.revenue_double_counted += value
    stream.revenue_double_counted = round(stream.revenue_double_counted, 2)
    return stream


def write_jsonl(stream: Stream, path) -> None:
    """The stream as a JSON Lines export (properties as objects, as a pipeline writes them)."""
    with open(path, "w", encoding="utf-8") as handle:
        for event_id, name, customer, anonymous, ts, props in stream.rows:
            handle.write(json.dumps({"event_id": event_id, "name": name, "customer_id": customer,
                                     "anonymous_id": anonymous, "timestamp": ts,
                                     "properties": json.loads(props)}) + "\n")


def load_events(url: str, rows: list[tuple], chunk: int = 20_000, *, timestamp_type=None,
                properties_type=None) -> None:
    """Canonical event tuples (:class:`Stream`'s ``rows``) into a new ``events`` table of ``url``'s
    database, ``id`` keeping their order. The timestamp column is BIGINT and the properties TEXT
    unless given (LONGTEXT on MariaDB, whose TEXT holds 64 KiB)."""
    from sqlalchemy import BigInteger, Column, Integer, MetaData, String, Table, Text, create_engine
    from sqlalchemy.dialects.mysql import LONGTEXT

    properties_type = properties_type or Text().with_variant(LONGTEXT(), "mysql", "mariadb")
    events = Table("events", MetaData(), Column("id", Integer, primary_key=True, autoincrement=False),
                   Column("event_id", String(40), nullable=False, unique=True),
                   Column("name", String(40), nullable=False), Column("customer_id", String(40)),
                   Column("anonymous_id", String(40)), Column("timestamp", timestamp_type or BigInteger, nullable=False),
                   Column("properties", properties_type, nullable=False))
    engine = create_engine(url)
    try:
        events.metadata.create_all(engine)
        with engine.begin() as conn:
            for start in range(0, len(rows), chunk):
                conn.execute(events.insert(), [
                    {"id": n, "event_id": e, "name": name, "customer_id": c, "anonymous_id": a, "timestamp": ts,
                     "properties": p}
                    for n, (e, name, c, a, ts, p) in enumerate(rows[start:start + chunk], start=start + 1)])
    finally:
        engine.dispose()


STORED_EVENTS_SQL = "SELECT event_id, name, customer_id, anonymous_id, timestamp, properties FROM events ORDER BY id"


def check_stored_events(url: str, suites, engine_kind: str, as_of) -> list:
    """Every suite's results over the table :func:`load_events` wrote, on ``engine_kind``."""
    from reconcile.checks import run_checks
    from reconcile.config import ChecksConfig, DatabaseConfig
    from reconcile.shop import open_engine

    engine = open_engine(DatabaseConfig(url=url))
    try:
        return run_checks(ChecksConfig(suites=suites[0].path.parent, events_sql=STORED_EVENTS_SQL,
                                       engine=engine_kind), suites, engine=engine, as_of=as_of)
    finally:
        engine.dispose()
