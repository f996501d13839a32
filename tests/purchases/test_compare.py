"""The order–event comparison, in memory and as SQL, on SQLite, PostgreSQL and MariaDB: both equal
the truth ``known_purchases`` states, whichever kind of time column the queries select and
whichever identity key the workspace uses."""

from __future__ import annotations

import json

import pytest
from pandas.testing import assert_frame_equal
from sqlalchemy import create_engine, text

from reconcile.config import parse_config
from reconcile.purchases import compare_purchases
from reconcile.results import PURCHASE_COLUMNS, Status
from reconcile.shop import open_engine

from known_purchases import (AS_OF, COUNTS, EXPECTED, ORDERS_IN_WINDOW, ORPHANS, REVENUE_COUNTED_TWICE,
                             REVENUE_WITHOUT_EVENT, build, config_text)

#: (the orders' time column, the events' time column): native / epoch / ISO text against number / text
VARIANTS = [("completed_at", "ts"), ("completed_epoch", "ts_text"), ("completed_text", "ts"),
            ("completed_at", "ts_text")]


def both(url: str, tmp_path, **options):
    config = parse_config(config_text(url, **options), tmp_path / "config.toml")
    engine = open_engine(config.database)
    try:
        return (compare_purchases(config, engine, None, AS_OF, database=False),
                compare_purchases(config, engine, None, AS_OF, database=True))
    finally:
        engine.dispose()


def test_the_sql_comparison_equals_the_in_memory_one_and_the_truth(any_db_url, tmp_path):
    build(any_db_url)
    for order_time, event_time in VARIANTS:
        for key in ("id", "email"):
            memory, database = both(any_db_url, tmp_path, order_time=order_time, event_time=event_time, key=key)
            where = (order_time, event_time, key)
            assert (memory.error, database.error) == (None, None), where
            assert (memory.engine, database.engine) == ("memory", "database")
            assert_frame_equal(memory.discrepancies, database.discrepancies)
            frame = database.discrepancies
            assert list(frame.columns) == PURCHASE_COLUMNS
            orders = frame[frame["problem"] != "orphan_event"]
            assert dict(zip(orders["order_id"], orders["problem"])) == EXPECTED, where
            assert set(frame[frame["problem"] == "orphan_event"]["order_id"]) == ORPHANS, where
            for result in (memory, database):
                assert result.problems == COUNTS, where
                assert (result.orders, result.with_event) == (ORDERS_IN_WINDOW, ORDERS_IN_WINDOW - 1)
                assert (result.revenue_without_event, result.revenue_counted_twice) == \
                    (REVENUE_WITHOUT_EVENT, REVENUE_COUNTED_TWICE)
                assert result.problem_rate == pytest.approx(10 / 19)
                assert result.status == Status.FAIL
                assert result.warnings == ["1 rows of purchases.orders_sql have no order_id: they were not compared"]


def test_the_evidence_says_what_was_compared(sqlite_url, tmp_path):
    build(sqlite_url)
    _, result = both(sqlite_url, tmp_path)
    evidence = dict(zip(result.discrepancies["order_id"], result.discrepancies["evidence"]))
    assert evidence["O-GHOST"] == "the event is under id 999, the order's customer is id 3"
    assert evidence["O-ANON"] == "the event is under anonymous_id anon-4, the order's customer is id 4"
    assert evidence["O-DUP"] == "2 events with this order_id: the revenue (40.00) counts 2 times"
    assert evidence["O-REV"] == "the event says revenue 2,430.00, the shop 24.30"
    assert evidence["O-REVNONE"] == "the event says revenue none, the shop 12.00"
    assert evidence["O-LATE"].startswith("the event came 301 s after the order (max_latency_seconds 300)")
    assert evidence["O-MISS"] == "no order_completed event with this order_id; the order completed 2026-11-28 00:40:00 UTC"
    assert evidence["X-1"] == ("event ev-23 at 2026-11-28 08:00:00 UTC has order_id X-1, which is not an order "
                               "of the window")
    assert result.severities["missing_event"] == "high" and result.severities["late_event"] == "medium"


def test_a_wider_tolerance_passes_and_the_settings_are_read(sqlite_url, tmp_path):
    build(sqlite_url)
    extra = "tolerance = 0.6\nmax_latency_seconds = 301\nrevenue_tolerance = 0.02"
    memory, database = both(sqlite_url, tmp_path, extra=extra)
    for result in (memory, database):
        assert result.status == Status.PASS
        assert result.problems == {**COUNTS, "late_event": 0, "revenue_mismatch": 2}   # 1.5 % is within 2 %


def test_events_from_json_lines_are_compared_in_memory(sqlite_url, tmp_path):
    build(sqlite_url)
    engine = create_engine(sqlite_url)
    with engine.connect() as conn:
        rows = conn.execute(text("SELECT event_id, name, customer_id, anonymous_id, ts, properties FROM events"))
        lines = [json.dumps({"event_id": e, "name": n, "customer_id": c, "anonymous_id": a, "timestamp": t,
                             "properties": json.loads(p)}) for e, n, c, a, t, p in rows]
    engine.dispose()
    (tmp_path / "events.jsonl").write_text("\n".join(lines) + "\n")
    text_ = config_text(sqlite_url).replace('events_sql = "SELECT event_id, name, customer_id, anonymous_id, ts AS '
                                            'timestamp, properties FROM events"', 'events_jsonl = "events.jsonl"')
    config = parse_config(text_, tmp_path / "config.toml")
    engine = open_engine(config.database)
    result = compare_purchases(config, engine, None, AS_OF)
    engine.dispose()
    assert result.engine == "memory" and result.problems == COUNTS


@pytest.mark.parametrize("orders_sql, message", [
    ("SELECT order_id, customer_id AS id, total AS revenue FROM orders",
     'purchases.orders_sql returns no column named "completed_at"; it returns order_id, id, revenue; '
     "select it AS completed_at"),
    ("SELECT order_id, customer_id AS id, completed_epoch AS completed_at FROM orders WHERE order_id = 'O-OK' "
     "UNION ALL SELECT order_id, customer_id, completed_epoch FROM orders WHERE order_id = 'O-OK'",
     "purchases.orders_sql returns order O-OK on more than one row; return one row per order (aggregate the rest)"),
    ("SELECT order_id, customer_id AS id, completed_at FROM orders WHERE completed_at > :since",
     "purchases.orders_sql: uses unknown parameter :since; available: :as_of, :window_start, :as_of_epoch, "
     ":window_start_epoch"),
])
def test_a_bad_orders_query_is_an_error_that_says_what_to_do(any_db_url, tmp_path, orders_sql, message):
    build(any_db_url)
    text_ = config_text(any_db_url)
    text_ = text_[:text_.index("orders_sql")] + f'orders_sql = "{orders_sql}"\nactivity_sample = 0\n'
    config = parse_config(text_, tmp_path / "config.toml")
    engine = open_engine(config.database)
    try:
        for database in (False, True):
            result = compare_purchases(config, engine, None, AS_OF, database=database)
            assert (result.status, result.error) == (Status.ERROR, message), database
    finally:
        engine.dispose()


def test_a_failing_events_query_is_an_error_never_a_pass(sqlite_url, tmp_path):
    build(sqlite_url)
    text_ = config_text(sqlite_url).replace("FROM events\"", "FROM no_such_table\"")
    config = parse_config(text_, tmp_path / "config.toml")
    engine = open_engine(config.database)
    try:
        for database in (False, True):
            result = compare_purchases(config, engine, None, AS_OF, database=database)
            assert result.status == Status.ERROR and "no_such_table" in result.error and "\n" not in result.error
    finally:
        engine.dispose()
