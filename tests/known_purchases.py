"""A small shop whose orders and purchase events hold every problem once, stated here.

``build(url)`` writes ``orders`` and ``events`` into an empty database and ``config(url)`` the
config that compares them. ``AS_OF`` is 2026-11-28 09:00 UTC, the window the 7 days before.
Each order's time is in three columns of three kinds (``completed_at`` a native timestamp,
``completed_epoch`` unix seconds, ``completed_text`` ISO text with an offset), and each event's
in two (``ts`` a number, in milliseconds for one event; ``ts_text`` text: ISO with ``Z``, or a
number as text), so the same ground truth holds whichever the queries select.

The orders (customer, revenue, minutes before AS_OF) and their events, and what each must be:

    O-OK       1  50.00  600  one event, 60 s later, same person           no problem
    O-MISS     2  30.00  500  none                                          missing_event
    O-GHOST    3  20.00  480  one, under customer 999                        wrong_person
    O-ANON     4  25.00  470  one, anonymous (anon-4)                        wrong_person
    O-DUP      5  40.00  460  two, same person                               duplicate_event
    O-DUPGHOST 6  15.00  450  two, both under 998                           wrong_person (worst first)
    O-DUPMINE  7  10.00  440  two: one under 997, one the customer's        duplicate_event
    O-REV      8  24.30  430  revenue 2430 (cents)                           revenue_mismatch
    O-REVTXT   9  24.30  420  revenue "24.30" (text holding a number)        no problem
    O-REVNONE 10  12.00  410  no revenue property                            revenue_mismatch
    O-REVTOL  11 100.00  400  revenue 100.5 (0.5 %, within 1 %)              no problem
    O-REVOFF  12 100.00  390  revenue 101.5 (1.5 %)                          revenue_mismatch
    O-LATE    13  60.00  380  301 s after the order                          late_event
    O-EDGE    14  60.00  370  300 s after (not above max_latency_seconds)    no problem
    O-MS      15  70.00  360  10 s after, timestamp in milliseconds          no problem
    O-EARLY   16  70.00  350  20 s before the order                          no problem
    1001      17  80.00  340  order_id sent as the number 1001               no problem
    O-NOBODY  --  90.00  330  order without a customer; event under 996      no problem (nobody to compare)
    O-NOREV   18   NULL  320  revenue 5 (the shop has none)                  no problem
    O-OLD     19  10.00  8 days  outside the window (its event too)          not compared
    (no id)   20  10.00  310  an order row without an order_id               not compared (a warning)

Orphan events, in the window: X-1 (an order the shop does not have) and one without an
order_id; X-2 is an orphan before the window and not counted. A product_viewed event names O-MISS
and changes nothing. So: 19 orders, 1 without an order_id, missing_event 1, wrong_person 3,
duplicate_event 2, revenue_mismatch 3, late_event 1, orphan_event 2; revenue without an event
30.00, counted twice 40 + 15 + 10 = 65.00.
"""

from __future__ import annotations

import json
from datetime import datetime, timedelta, timezone

from sqlalchemy import create_engine, text

AS_OF = datetime(2026, 11, 28, 9, 0, tzinfo=timezone.utc)
T = int(AS_OF.timestamp())

# order_id, customer, revenue, minutes before AS_OF
ORDERS = [("O-OK", 1, "50.00", 600), ("O-MISS", 2, "30.00", 500), ("O-GHOST", 3, "20.00", 480),
          ("O-ANON", 4, "25.00", 470), ("O-DUP", 5, "40.00", 460), ("O-DUPGHOST", 6, "15.00", 450),
          ("O-DUPMINE", 7, "10.00", 440), ("O-REV", 8, "24.30", 430), ("O-REVTXT", 9, "24.30", 420),
          ("O-REVNONE", 10, "12.00", 410), ("O-REVTOL", 11, "100.00", 400), ("O-REVOFF", 12, "100.00", 390),
          ("O-LATE", 13, "60.00", 380), ("O-EDGE", 14, "60.00", 370), ("O-MS", 15, "70.00", 360),
          ("O-EARLY", 16, "70.00", 350), ("1001", 17, "80.00", 340), ("O-NOBODY", None, "90.00", 330),
          ("O-NOREV", 18, None, 320), ("O-OLD", 19, "10.00", 8 * 24 * 60), (None, 20, "10.00", 310)]

EXPECTED = {"O-MISS": "missing_event", "O-GHOST": "wrong_person", "O-ANON": "wrong_person",
            "O-DUPGHOST": "wrong_person", "O-DUP": "duplicate_event", "O-DUPMINE": "duplicate_event",
            "O-REV": "revenue_mismatch", "O-REVNONE": "revenue_mismatch", "O-REVOFF": "revenue_mismatch",
            "O-LATE": "late_event"}
ORPHANS = {"X-1", None}
COUNTS = {"missing_event": 1, "wrong_person": 3, "duplicate_event": 2, "revenue_mismatch": 3, "late_event": 1,
          "orphan_event": 2}
ORDERS_IN_WINDOW, WITHOUT_ORDER_ID = 19, 1
REVENUE_WITHOUT_EVENT, REVENUE_COUNTED_TWICE = 30.0, 65.0


def _at(minutes: int) -> int:
    return T - minutes * 60


NO_ORDER_ID = object()       # an event whose properties have no order_id


def _events() -> list[tuple]:
    """(event_id, name, customer_id, anonymous_id, unix seconds, in ms?, properties) of every event.

    Each event's properties carry its person's email too, so the same truth holds with
    ``identity.key = "email"``."""
    at = {order_id: _at(minutes) for order_id, _, _, minutes in ORDERS if order_id}
    rows = []

    def add(order_id, customer, delay=60, anonymous=None, ms=False, name="order_completed", of=None, **props):
        properties = {} if order_id is NO_ORDER_ID else {"order_id": order_id}
        properties.update(props)
        if customer is not None:
            properties["email"] = f"C{customer}@Shop.example "       # another case and a blank: one person
        when = at.get(of or order_id, T - 3600) + delay
        rows.append((f"ev-{len(rows) + 1:02d}", name, customer, anonymous, when, ms, properties))

    add("O-OK", 1, revenue=50.0)
    add("O-GHOST", 999, revenue=20.0)
    add("O-ANON", None, anonymous="anon-4", revenue=25.0)
    add("O-DUP", 5, revenue=40.0)
    add("O-DUP", 5, delay=75, revenue=40.0)
    add("O-DUPGHOST", 998, revenue=15.0)
    add("O-DUPGHOST", 998, delay=70, revenue=15.0)
    add("O-DUPMINE", 997, revenue=10.0)
    add("O-DUPMINE", 7, delay=70, revenue=10.0)
    add("O-REV", 8, revenue=2430.0)
    add("O-REVTXT", 9, revenue="24.30")
    add("O-REVNONE", 10)
    add("O-REVTOL", 11, revenue=100.5)
    add("O-REVOFF", 12, revenue=101.5)
    add("O-LATE", 13, delay=301, revenue=60.0)
    add("O-EDGE", 14, delay=300, revenue=60.0)
    add("O-MS", 15, delay=10, ms=True, revenue=70.0)
    add("O-EARLY", 16, delay=-20, revenue=70.0)
    add(1001, 17, of="1001", revenue=80.0)
    add("O-NOBODY", 996, revenue=90.0)
    add("O-NOREV", 18, revenue=5)
    add("O-OLD", 19, revenue=10.0)
    add("X-1", 21, delay=0, revenue=9.0)
    add(NO_ORDER_ID, 22, delay=0, revenue=8.0)
    add("X-2", 23, delay=-9 * 24 * 3600, revenue=7.0)
    add("O-MISS", 2, name="product_viewed", price=30.0)
    return rows


def build(url: str) -> None:
    """Write ``orders`` and ``events`` (the tables must not exist yet)."""
    engine = create_engine(url)
    dialect = engine.dialect.name
    native = "TIMESTAMP WITH TIME ZONE" if dialect == "postgresql" else "DATETIME" if dialect != "sqlite" else "TEXT"
    with engine.begin() as conn:
        conn.execute(text(f"CREATE TABLE orders (id INTEGER PRIMARY KEY, order_id VARCHAR(20), customer_id INTEGER, "
                          f"email VARCHAR(100), completed_at {native}, completed_epoch BIGINT, "
                          "completed_text VARCHAR(40), total NUMERIC(10, 2))"))
        conn.execute(text("CREATE TABLE events (id INTEGER PRIMARY KEY, event_id VARCHAR(20), name VARCHAR(40), "
                          "customer_id INTEGER, anonymous_id VARCHAR(40), ts BIGINT, ts_text VARCHAR(40), "
                          "properties TEXT)"))
        for n, (order_id, customer, revenue, minutes) in enumerate(ORDERS, start=1):
            when = datetime.fromtimestamp(_at(minutes), timezone.utc)
            stored = when if dialect == "postgresql" else when.replace(tzinfo=None)
            if dialect == "sqlite":
                stored = when.strftime("%Y-%m-%d %H:%M:%S.000000")
            conn.execute(text("INSERT INTO orders VALUES (:n, :o, :c, :e, :at, :epoch, :iso, :total)"), {
                "n": n, "o": order_id, "c": customer, "e": f"c{customer}@shop.example" if customer else None,
                "at": stored, "epoch": _at(minutes),
                "iso": (when + timedelta(hours=2)).strftime("%Y-%m-%dT%H:%M:%S+02:00"), "total": revenue})
        for n, (event_id, name, customer, anonymous, when, ms, properties) in enumerate(_events(), start=1):
            iso = datetime.fromtimestamp(when, timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ")
            conn.execute(text("INSERT INTO events VALUES (:n, :id, :name, :c, :a, :ts, :tt, :p)"), {
                "n": n, "id": event_id, "name": name, "c": customer, "a": anonymous,
                "ts": when * 1000 if ms else when, "tt": str(when * 1000) if ms else iso,
                "p": json.dumps(properties)})
    engine.dispose()


def config_text(url: str, *, order_time: str = "completed_at", event_time: str = "ts", key: str = "id",
                extra: str = "", activity_sample: int = 0) -> str:
    return f"""
[database]
url = "{url}"
[customerio]
app_api_key = "purchases-test-key"
base_url = "http://127.0.0.1:9"
[identity]
key = "{key}"
[[segments]]
name = "anyone"
customerio_segment_id = 1
sql = "SELECT 1 AS id"
[checks]
events_sql = "SELECT event_id, name, customer_id, anonymous_id, {event_time} AS timestamp, properties FROM events"
[purchases]
orders_sql = \"\"\"SELECT order_id, customer_id AS id, email, {order_time} AS completed_at, total AS revenue
FROM orders WHERE completed_epoch >= :window_start_epoch AND completed_epoch < :as_of_epoch\"\"\"
activity_sample = {activity_sample}
{extra}
"""
