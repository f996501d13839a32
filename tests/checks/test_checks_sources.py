"""The shipped suites on the same generated events in SQLite, PostgreSQL, MariaDB and a JSON Lines
file: every injected problem is reported with the exact count and the exact events.

The stream (tests/checks_fixtures.py) has 300 carts and these problems, each on its own events:
3 duplicated order_completed, 4 product_viewed with productId, 5 order_completed with items as
a JSON string, 6 order_completed in milliseconds, 7 checkouts without an added_to_cart.
"""

from __future__ import annotations

from datetime import datetime, timezone
from pathlib import Path

import pytest

from reconcile.checks import run_checks, suites_for
from reconcile.results import Status
from reconcile.config import ChecksConfig, DatabaseConfig
from reconcile.shop import open_engine

from known_events import Problems, load_events, make_events, write_jsonl

SUITES = Path(__file__).resolve().parents[2] / "checks"
PROBLEMS = Problems(duplicate_orders=3, product_id_drift=4, items_as_string=5, milliseconds=6, checkout_without_cart=7)
STREAM = make_events(300, PROBLEMS)
AS_OF = datetime(2026, 1, 1, tzinfo=timezone.utc)
EVENTS_SQL = "SELECT event_id, name, customer_id, anonymous_id, timestamp, properties FROM events ORDER BY id"


@pytest.fixture(scope="module")
def event_suites():
    checks = ChecksConfig(suites=SUITES, events_jsonl=Path("unused.jsonl"), people_sql="SELECT 1")
    return [s for s in suites_for(checks) if s.event is not None]


@pytest.fixture(params=["sqlite", "postgresql", "mariadb", "jsonl"])
def results(request, event_suites, tmp_path):
    """The event suites' results on the stream, read from each kind of source."""
    if request.param == "jsonl":
        path = tmp_path / "events.jsonl"
        write_jsonl(STREAM, path)
        return run_checks(ChecksConfig(suites=SUITES, events_jsonl=path), event_suites, engine=None, as_of=AS_OF)
    url = request.getfixturevalue({"sqlite": "sqlite_url", "postgresql": "pg_url", "mariadb": "mysql_url"}[request.param])
    load_events(url, STREAM.rows)
    engine = open_engine(DatabaseConfig(url=url))
    try:
        return run_checks(ChecksConfig(suites=SUITES, events_sql=EVENTS_SQL), event_suites, engine=engine, as_of=AS_OF)
    finally:
        engine.dispose()


def pick(results, suite, expectation, column=None, on="events"):
    found = [r for r in results if r.suite == suite and r.expectation == expectation and r.on == on
             and (column is None or r.column == column)]
    assert len(found) == 1, (suite, expectation, column, found)
    return found[0]


def test_every_injected_problem_is_counted_exactly(results):
    ids = STREAM.event_ids
    duplicates = pick(results, "order_completed", "expect_orders_to_be_counted_once")
    assert (duplicates.unexpected_count, set(duplicates.event_ids)) == (3, set(ids["duplicate_orders"]))
    assert duplicates.details == {"orders_affected": 3, "revenue_double_counted": STREAM.revenue_double_counted}
    assert pick(results, "order_completed", "expect_column_values_to_be_unique", "order_id").unexpected_count == 6
    drift = pick(results, "product_viewed", "expect_property_names_to_be_consistent")
    assert (drift.unexpected_count, set(drift.event_ids)) == (4, set(ids["product_id_drift"]))
    assert drift.details == {"variants": {"product_id": {"productId": 4}}}
    missing = pick(results, "product_viewed", "expect_column_values_to_not_be_null", "product_id")
    assert (missing.unexpected_count, set(missing.event_ids)) == (4, set(ids["product_id_drift"]))
    strings = pick(results, "order_completed", "expect_items_to_be_arrays")
    assert (strings.unexpected_count, set(strings.event_ids)) == (5, set(ids["items_as_string"]))
    assert strings.details["string"] == 5
    units = pick(results, "order_completed", "expect_timestamps_to_be_in_unit")
    assert (units.unexpected_count, set(units.event_ids)) == (6, set(ids["milliseconds"]))
    assert pick(results, "order_completed", "expect_column_values_to_be_between", "timestamp").unexpected_count == 6
    journey = pick(results, "checkout_started", "expect_events_to_follow")
    assert (journey.unexpected_count, set(journey.event_ids)) == (7, set(ids["checkout_without_cart"]))
    assert journey.details == {"no added_to_cart": 7}


def test_line_items_are_exploded_and_stringified_ones_still_checked(results):
    items = pick(results, "order_completed", "expect_column_values_to_not_be_null", "product_id", on="items")
    carts_with_orders = range(0, 300, 2)
    expected_items = sum(1 + cart % 3 for cart in carts_with_orders) + sum(1 + c % 3 for c in range(0, 6, 2))
    assert (items.element_count, items.unexpected_count, items.status) == (expected_items, 0, Status.PASS)


def test_clean_expectations_pass_and_counts_cover_every_event(results):
    assert {r.status for r in results} <= {Status.PASS, Status.FAIL}
    failed = {(r.suite, r.expectation, r.column) for r in results if r.status == Status.FAIL}
    assert failed == {
        ("order_completed", "expect_orders_to_be_counted_once", "order_id"),
        ("order_completed", "expect_column_values_to_be_unique", "order_id"),
        ("order_completed", "expect_items_to_be_arrays", None),
        ("order_completed", "expect_timestamps_to_be_in_unit", "timestamp"),
        ("order_completed", "expect_column_values_to_be_between", "timestamp"),
        ("product_viewed", "expect_property_names_to_be_consistent", None),
        ("product_viewed", "expect_column_values_to_not_be_null", "product_id"),
        ("checkout_started", "expect_events_to_follow", "cart_id"),
    }
    views = pick(results, "product_viewed", "expect_column_values_to_not_be_null", "category")
    assert views.element_count == STREAM.counts["product_viewed"]
    orders = pick(results, "order_completed", "expect_column_values_to_not_be_null", "order_id")
    assert orders.element_count == STREAM.counts["order_completed"]


def test_an_unreadable_source_makes_every_check_an_error(event_suites, sqlite_url, tmp_path):
    engine = open_engine(DatabaseConfig(url=sqlite_url))
    try:
        found = run_checks(ChecksConfig(suites=SUITES, events_sql="SELECT * FROM no_such_table"), event_suites,
                           engine=engine, as_of=AS_OF)
    finally:
        engine.dispose()
    assert found and {r.status for r in found} == {Status.ERROR}
    assert "checks.events_sql" in found[0].error and "no_such_table" in found[0].error
    missing = run_checks(ChecksConfig(suites=SUITES, events_jsonl=tmp_path / "nope.jsonl"), event_suites,
                         engine=None, as_of=AS_OF)
    assert {r.status for r in missing} == {Status.ERROR} and "no such file" in missing[0].error
