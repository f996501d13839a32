"""The demo shop's event outbox carries the field's problems on purpose; the shipped suites, run
through the demo's own [checks] section, report each one with the exact count and the exact
events that the generator recorded (``demo.record.event_problems``), on SQLite and PostgreSQL."""

from __future__ import annotations

from datetime import datetime, timezone
from importlib import resources
from pathlib import Path

import pytest

from reconcile.checks import SHIPPED_SUITES, run_checks, suites_for
from reconcile.results import Status
from reconcile.config import DatabaseConfig, parse_config
from reconcile.demo import build_demo
from reconcile.shop import open_engine

AS_OF = datetime(2026, 11, 28, 9, 0, tzinfo=timezone.utc)


def demo_checks():
    text = resources.files("reconcile.demo").joinpath("config.toml").read_text(encoding="utf-8")
    config = parse_config(text, Path("config.toml"))
    assert config.checks is not None, "the demo's config.toml has a [checks] section"
    return config.checks


@pytest.fixture(scope="module", params=["sqlite", "postgresql"])
def demo_run(request, tmp_path_factory):
    """(record of injected problems, check results) for the demo shop in each database."""
    if request.param == "sqlite":
        url = f"sqlite:///{tmp_path_factory.mktemp('demo') / 'shop.db'}"
        return _run(url)
    from conftest import PG_ADMIN_URL, _scratch_database

    scratch = _scratch_database(PG_ADMIN_URL, '"')
    url = next(scratch)
    try:
        return _run(url)
    finally:
        scratch.close()


def _run(url):
    demo = build_demo(url, as_of=AS_OF)
    checks = demo_checks()
    suites = suites_for(checks)
    assert {s.name for s in suites} >= {"product_viewed", "added_to_cart", "checkout_started", "order_completed",
                                        "people"}
    engine = open_engine(DatabaseConfig(url=url))
    try:
        results = run_checks(checks, suites, engine=engine, as_of=AS_OF)
    finally:
        engine.dispose()
    return demo.record.event_problems, results, demo.record.purchases


def found(results, expectation, suites=None):
    return [r for r in results if r.expectation == expectation and (suites is None or r.suite in suites)]


def counted(results, expectation, suites=None):
    """(total unexpected, the offending event ids) over the suites that ran ``expectation``."""
    chosen = found(results, expectation, suites)
    assert chosen
    return sum(r.unexpected_count or 0 for r in chosen), {i for r in chosen for i in r.event_ids}


def expected(record, kind):
    return record[kind]["count"], set(record[kind]["event_ids"])


def test_duplicate_orders_and_revenue_counted_twice(demo_run):
    record, results, purchases = demo_run
    copies = purchases["duplicate_copies"]          # the purchases' planted duplicate (reconcile/demo/purchases.py)
    count, ids = expected(record, "duplicate_order_completed")
    assert counted(results, "expect_orders_to_be_counted_once") == (count + len(copies), ids | set(copies))
    (check,) = found(results, "expect_orders_to_be_counted_once")
    assert check.details["revenue_double_counted"] == pytest.approx(record["duplicate_order_completed"]
                                                                     ["revenue_double_counted"] + sum(copies.values()))
    assert check.details["orders_affected"] == len(set(record["duplicate_order_completed"]["order_ids"])) + len(copies)
    unique = found(results, "expect_column_values_to_be_unique", {"order_completed"})[0]
    assert unique.unexpected_count == 2 * (count + len(copies))  # GX counts both copies


def test_product_id_renamed(demo_run):
    record, results, _ = demo_run
    assert counted(results, "expect_property_names_to_be_consistent") == expected(record, "product_id_renamed")
    not_null = [r for r in found(results, "expect_column_values_to_not_be_null", {"product_viewed"})
                if r.column == "product_id"][0]
    assert (not_null.unexpected_count, set(not_null.event_ids)) == expected(record, "product_id_renamed")


def test_items_as_string(demo_run):
    record, results, _ = demo_run
    assert counted(results, "expect_items_to_be_arrays") == expected(record, "items_as_string")


def test_timestamps_in_milliseconds(demo_run):
    record, results, _ = demo_run
    assert counted(results, "expect_timestamps_to_be_in_unit") == expected(record, "timestamp_in_milliseconds")


def test_checkout_without_add_to_cart(demo_run):
    record, results, _ = demo_run
    assert counted(results, "expect_events_to_follow", {"checkout_started"}) == \
        expected(record, "checkout_without_add_to_cart")
    (journey,) = found(results, "expect_events_to_follow", {"checkout_started"})
    assert set(journey.sample_values) <= set(record["checkout_without_add_to_cart"]["cart_ids"])


def test_nothing_else_fails(demo_run):
    """Every failed expectation is one of the injected problems; people and the rest pass."""
    record, results, _ = demo_run
    caused_by_injection = {"expect_orders_to_be_counted_once", "expect_column_values_to_be_unique",
                           "expect_property_names_to_be_consistent", "expect_items_to_be_arrays",
                           "expect_timestamps_to_be_in_unit", "expect_events_to_follow"}
    failed = {(r.suite, r.expectation, r.column) for r in results if r.status == Status.FAIL}
    assert {e for _, e, _ in failed} - caused_by_injection == {"expect_column_values_to_not_be_null",
                                                              "expect_column_values_to_be_between"}
    assert ("product_viewed", "expect_column_values_to_not_be_null", "product_id") in failed
    assert ("order_completed", "expect_column_values_to_be_between", "timestamp") in failed
    assert {r.status for r in results if r.suite == "people"} == {Status.PASS}
    assert sum(1 for _ in record) == 5


def test_the_demo_reads_the_shipped_suites():
    assert SHIPPED_SUITES.is_dir() and (SHIPPED_SUITES / "order_completed.toml").is_file()
