"""reconcile's rules run as SQL in the shop database (``checks.engine = "database"``), and line
items exploded there, give the results the pandas rules and GX give on the flattened frames, on
SQLite, PostgreSQL and MariaDB: counts, offending events, details and messages. The events are awkward on purpose: property spellings
with JSON null, line items as arrays, JSON strings, broken strings and numbers, timestamps in
seconds, milliseconds, text and true, carts added later or by someone else, repeated orders
whose first copy depends on unit conversion and on a tie between two events.
"""

from __future__ import annotations

import json
from datetime import datetime, timezone
from pathlib import Path

import pytest

from reconcile.checks import run_checks, suites_for
from reconcile.checks.rules.sql import runs_in_database
from reconcile.config import ChecksConfig, DatabaseConfig
from reconcile.shop import open_engine

from known_events import load_events

AS_OF = datetime(2026, 1, 1, tzinfo=timezone.utc)
T = int(AS_OF.timestamp()) - 86400
EVENTS_SQL = "SELECT event_id, name, customer_id, anonymous_id, timestamp, properties FROM events ORDER BY id"

CHECKOUT = """
event = "checkout_started"
[[expectations]]
type = "expect_property_names_to_be_consistent"
[[expectations]]
type = "expect_items_to_be_arrays"
[[expectations]]
type = "expect_timestamps_to_be_in_unit"
[[expectations]]
type = "expect_timestamps_to_be_in_unit"
column = "sent_at"
[[expectations]]
type = "expect_events_to_follow"
after = "added_to_cart"
[[expectations]]
type = "expect_events_to_follow"
after = "added_to_cart"
same_person = false
mostly = 0.5
"""

ORDERS = """
event = "order_completed"
[[expectations]]
type = "expect_orders_to_be_counted_once"
[[expectations]]
type = "expect_orders_to_be_counted_once"
column = "customer_id"
value_column = "total"
[[expectations]]
type = "expect_property_names_to_be_consistent"
expected = ["order_id"]
"""


def rows() -> list[tuple]:
    def event(event_id, name, customer, ts, properties, anonymous=None):
        return (event_id, name, customer, anonymous, ts,
                properties if isinstance(properties, str) else json.dumps(properties))
    return [
        event("k0", "checkout_started", "c1", T + 100,
              {"cart_id": "A", "productId": 1, "sent_at": T, "items": [{"sku": 1}]}),
        event("k1", "checkout_started", "c2", (T + 200) * 1000,
              {"cart_id": "B", "product_id": 2, "sent_at": T * 1000, "items": json.dumps([{"sku": 2}])}),
        event("k2", "checkout_started", None, T + 300,
              {"cart_id": 5, "ProductID": None, "sent_at": str(T), "items": "not json"}, anonymous="a3"),
        event("k3", "checkout_started", "c4", T + 400, {"cart_id": "D", "product_id": 3, "sent_at": "abc", "items": 7}),
        event("k4", "checkout_started", "c5", T + 500, {"cart_id": None, "product id": 4, "sent_at": None, "items": None}),
        event("k5", "checkout_started", "c6", T + 600, {"cart_id": "F", "sent_at": T * 1000.0, "items": "[oops"}),
        event("k6", "checkout_started", "c7", T + 700, "[1, 2]"),
        event("k7", "checkout_started", "c8", T + 800, {"product_id": 9, "sent_at": True}),
        event("k8", "checkout_started", "c1", T + 50, {"cart_id": "A", "product_id": 5, "items": []}),
        event("a0", "added_to_cart", "c1", T + 60, {"cart_id": "A"}),
        event("a1", "added_to_cart", "c9", T + 100, {"cart_id": "B"}),
        event("a2", "added_to_cart", None, (T + 250) * 1000, {"cart_id": "5"}, anonymous="a3"),
        event("a3", "added_to_cart", "c4", T + 900, {"cart_id": "D"}),
        # o1 is read before o0 at the same second: the first copy is o0, by event_id
        event("o1", "order_completed", "c1", T + 10, {"order_id": "X", "revenue": 20.5, "total": 4}),
        event("o0", "order_completed", "c1", T + 10, {"order_id": "X", "revenue": 10, "total": 1}),
        # o2 is in milliseconds and earlier than o3 once converted: o3 is the copy
        event("o2", "order_completed", "c2", (T + 2) * 1000, {"order_id": "Y", "revenue": "7"}),
        event("o3", "order_completed", "c2", T + 3, {"order_id": "Y", "revenue": 3, "total": 2}),
        event("o4", "order_completed", "c3", T + 20, {"order_id": 1, "revenue": 4}),
        event("o5", "order_completed", "c3", T + 21, {"order_id": "1", "revenue": True}),
        event("o6", "order_completed", "c4", T + 22, {"order_id": None, "revenue": 9}),
        event("o7", "order_completed", "c5", T + 23, {"OrderID": "Z", "revenue": 9}),
        event("o8", "order_completed", "c6", T + 30, {"order_id": "W", "revenue": 1, "total": 5}),
    ]


@pytest.fixture
def suites(tmp_path):
    folder = tmp_path / "checks"
    folder.mkdir()
    (folder / "checkout.toml").write_text(CHECKOUT)
    (folder / "orders.toml").write_text(ORDERS)
    return suites_for(ChecksConfig(suites=folder, events_sql=EVENTS_SQL))


def run(url, suites, engine_kind):
    engine = open_engine(DatabaseConfig(url=url))
    try:
        checks = ChecksConfig(suites=Path("checks"), events_sql=EVENTS_SQL, engine=engine_kind)
        results = run_checks(checks, suites, engine=engine, as_of=AS_OF)
    finally:
        engine.dispose()
    return {(r.suite, r.expectation, r.column, r.kwargs.get("same_person"), r.kwargs.get("value_column")): r
            for r in results}


def test_every_rule_on_events_is_planned_into_the_database(suites):
    assert all(runs_in_database(e) for suite in suites for e in suite.expectations)


def test_rules_in_the_database_agree_with_pandas_exactly(any_db_url, suites):
    load_events(any_db_url, rows())
    database, pandas = run(any_db_url, suites, "database"), run(any_db_url, suites, "pandas")
    assert database.keys() == pandas.keys()
    for key in pandas:
        a, b = database[key], pandas[key]
        assert (a.success, a.unexpected_count, a.element_count, sorted(a.event_ids), a.details, a.message) == \
               (b.success, b.unexpected_count, b.element_count, sorted(b.event_ids), b.details, b.message), key

    def found(suite, rule, column=None, same_person=None, value_column=None):
        r = database[(suite, rule, column, same_person, value_column)]
        return r.unexpected_count, r.element_count, sorted(r.event_ids), r.details

    names = "expect_property_names_to_be_consistent"
    assert found("checkout", names) == (2, 9, ["k0", "k4"], {
        "variants": {"product_id": {"productId": 1, "ProductID": 0, "product id": 1}}})
    assert found("checkout", "expect_items_to_be_arrays") == (
        4, 6, ["k1", "k2", "k3", "k5"], {"array": 2, "string": 1, "other": 3})
    assert database[("checkout", "expect_items_to_be_arrays", None, None, None)].message.endswith("(1 as a JSON string)")
    assert found("checkout", "expect_timestamps_to_be_in_unit", "timestamp") == (1, 9, ["k1"], {"s": 8, "ms": 1})
    assert found("checkout", "expect_timestamps_to_be_in_unit", "sent_at") == (   # "abc" and true: not judged
        2, 4, ["k1", "k5"], {"s": 2, "ms": 2, "not a number": 2})
    assert found("checkout", "expect_events_to_follow", "cart_id") == (4, 6, ["k1", "k3", "k5", "k8"], {
        "added_to_cart came later": 2, "added_to_cart by another person": 1, "no added_to_cart": 1})
    anyone = database[("checkout", "expect_events_to_follow", "cart_id", False, None)]
    assert (anyone.unexpected_count, anyone.success) == (3, True)          # mostly 0.5 of 6
    assert found("orders", "expect_orders_to_be_counted_once", "order_id", None, None) == (
        3, 7, ["o1", "o3", "o5"], {"orders_affected": 3, "revenue_double_counted": 23.5})
    assert found("orders", "expect_orders_to_be_counted_once", "customer_id", None, "total") == (
        3, 9, ["o1", "o3", "o5"], {"orders_affected": 3, "total_double_counted": 6.0})
    assert found("orders", names) == (1, 9, ["o7"], {"variants": {"order_id": {"OrderID": 1}}})


PLACED = """
event = "order_placed"
[[expectations]]
type = "expect_column_values_to_not_be_null"
column = "product_id"
on = "items"
[[expectations]]
type = "expect_column_values_to_be_between"
column = "qty"
on = "items"
min_value = 1
max_value = 1000
[[expectations]]
type = "expect_column_values_to_be_in_type_list"
column = "price"
on = "items"
type_list = ["int", "float", "int64", "float64"]
[[expectations]]
type = "expect_column_to_exist"
column = "qty"
on = "items"
[[expectations]]
type = "expect_column_to_exist"
column = "nope"
on = "items"
[[expectations]]
type = "expect_property_names_to_be_consistent"
on = "items"
[[expectations]]
type = "expect_timestamps_to_be_in_unit"
column = "added_at"
unit = "ms"
on = "items"
[[expectations]]
type = "expect_items_to_be_arrays"
"""


def placed_rows() -> list[tuple]:
    def placed(event_id, properties):
        return (event_id, "order_placed", "c1", None, T, properties if isinstance(properties, str) else json.dumps(properties))
    return [
        placed("p0", {"items": [{"product_id": "A", "qty": 1, "price": 9.5, "ProductId": None},
                                {"product_id": None, "qty": 0, "price": "3"}]}),
        placed("p1", {"items": json.dumps([{"product_id": "B", "qty": 2000, "price": 1, "added_at": T * 1000}])}),
        placed("p2", {"items": "[oops"}),
        placed("p3", {"items": '[{"product_id": "C", "qty": NaN}]'}),      # not JSON: NaN
        placed("p4", {"items": [5, "x", {"productId": "D", "qty": 3, "price": True, "added_at": str(T)}]}),
        placed("p5", '"not an object"'),
        placed("p6", {"items": {"product_id": "E"}}),
        placed("p7", {"total": 1}),
    ]


def test_line_items_are_exploded_and_checked_in_the_database_as_in_pandas(any_db_url, tmp_path):
    rows_ = placed_rows()
    if not any_db_url.startswith("postgresql"):   # text that is not JSON (PostgreSQL stops with an error, see README)
        rows_.append(("p8", "order_placed", "c1", None, T, "{not json"))
    load_events(any_db_url, rows_)
    folder = tmp_path / "placed"
    folder.mkdir()
    (folder / "placed.toml").write_text(PLACED)
    suites = suites_for(ChecksConfig(suites=folder, events_sql=EVENTS_SQL))
    from reconcile.checks.sql import plan
    assert all(plan(e) is not None or runs_in_database(e) for e in suites[0].expectations)
    database, pandas = run(any_db_url, suites, "database"), run(any_db_url, suites, "pandas")
    assert database.keys() == pandas.keys()
    for key in pandas:
        a, b = database[key], pandas[key]
        assert (a.success, a.unexpected_count, a.element_count, sorted(a.event_ids), a.details) == \
               (b.success, b.unexpected_count, b.element_count, sorted(b.event_ids), b.details), key

    def found(rule, column=None):
        r = database[("placed", rule, column, None, None)]
        return r.unexpected_count, r.element_count, sorted(set(r.event_ids)), r.details

    # six line items: two in p0, one in p1's JSON string, three in p4 (two of them not objects)
    assert found("expect_column_values_to_not_be_null", "product_id")[:3] == (4, 6, ["p0", "p4"])
    assert found("expect_column_values_to_be_between", "qty")[:3] == (2, 6, ["p0", "p1"])
    assert found("expect_column_values_to_be_in_type_list", "price")[:3] == (1, 6, ["p0"])   # "3"; true is an int
    assert database[("placed", "expect_column_to_exist", "qty", None, None)].success is True
    assert database[("placed", "expect_column_to_exist", "nope", None, None)].success is False
    assert found("expect_property_names_to_be_consistent") == (
        1, 6, ["p4"], {"variants": {"product_id": {"ProductId": 0, "productId": 1}}})
    assert found("expect_timestamps_to_be_in_unit", "added_at") == (1, 2, ["p4"], {"ms": 1, "s": 1})
    assert found("expect_items_to_be_arrays") == (4, 6, ["p1", "p2", "p3", "p6"], {"array": 2, "string": 1, "other": 3})
    not_json = database[("placed", "properties_are_json_objects", None, None, None)]
    assert (not_json.unexpected_count, not_json.element_count) == (len(rows_) - 7, len(rows_))   # p5 (and p8)
