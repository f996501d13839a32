"""reconcile's own rules (what GX has no expectation for) and the flattening they rely on,
on small hand-built streams whose expected counts are stated next to them."""

from __future__ import annotations

import json
from datetime import datetime, timezone

import pytest
from sqlalchemy import create_engine, text

from reconcile.checks.flatten import Flattener
from reconcile.checks.model import CRITICAL, PEOPLE, WARNING, Expectation, Suite
from reconcile.results import CheckResult, Status
from reconcile.cli.screens import check_lines
from reconcile.checks.rules import RuleContext
from reconcile.checks.rules.pandas import run_rule, timestamp_units
from reconcile.checks.runner import run_checks
from reconcile.config import ChecksConfig, DatabaseConfig
from reconcile.results import RunResult, SegmentResult
from reconcile.shop import open_engine

T = 1_760_000_000


def event(event_id, name, ts, props, customer="1", anonymous=None):
    return (event_id, name, customer, anonymous, ts, json.dumps(props) if isinstance(props, dict) else props)


def tables(*rows):
    flattener = Flattener()
    flattener.add(list(rows))
    return flattener.tables()


def rule(kind, event_name, rows, on="events", **kwargs):
    expectation = Expectation(suite=event_name, index=0, type=kind, kwargs=kwargs, on=on, rule=True)
    return run_rule(expectation, RuleContext(tables(*rows)), event_name)


def test_flattening_spreads_properties_and_explodes_items():
    found = tables(
        event("e1", "order_completed", T, {"order_id": "A", "items": [{"product_id": 1, "qty": 2}, {"product_id": 2}]}),
        event("e2", "order_completed", T, {"order_id": "B", "items": json.dumps([{"product_id": 3}])}),
        event("e3", "order_completed", T, {"order_id": "C", "items": "not json", "event_id": "clash"}),
        event("e4", "order_completed", T, "{broken"),
        event(5, "order_completed", T, {"order_id": "D"}, customer=417),
    )["order_completed"]
    assert found.events["items_type"].fillna("-").tolist() == ["array", "string", "other", "-", "-"]
    assert found.events["properties.event_id"].tolist()[2] == "clash"
    assert found.events["event_id"].tolist() == ["e1", "e2", "e3", "e4", "5"]
    assert found.events["customer_id"].tolist()[-1] == "417"
    assert found.items[["event_id", "item_index", "product_id"]].values.tolist() == [
        ["e1", 0, 1], ["e1", 1, 2], ["e2", 0, 3]]
    assert found.properties_not_json == 1


def test_property_name_drift_prefers_the_expected_spelling():
    rows = [event(f"v{i}", "product_viewed", T, {"productId": "P1"}) for i in range(3)]
    rows += [event("w1", "product_viewed", T, {"product_id": "P1"}), event("w2", "product_viewed", T, {"ProductID": "P"})]
    most_used = rule("expect_property_names_to_be_consistent", "product_viewed", rows)
    assert (most_used.unexpected_count, most_used.event_ids) == (2, ["w1", "w2"])
    expected = rule("expect_property_names_to_be_consistent", "product_viewed", rows, expected=["product_id"])
    assert (expected.unexpected_count, sorted(expected.event_ids)) == (4, ["v0", "v1", "v2", "w2"])
    assert expected.details == {"variants": {"product_id": {"productId": 3, "ProductID": 1}}}
    assert expected.status == Status.FAIL and expected.element_count == 5


def test_drift_in_line_item_keys():
    rows = [event("a", "added_to_cart", T, {"items": [{"product_id": 1}, {"product-id": 2}]})]
    found = rule("expect_property_names_to_be_consistent", "added_to_cart", rows, on="items")
    assert (found.element_count, found.unexpected_count, found.event_ids) == (2, 1, ["a"])


def test_timestamp_units_both_ways():
    rows = [event("s", "x", T, {}), event("ms", "x", T * 1000, {}), event("us", "x", T * 1_000_000, {}),
            event("txt", "x", "yesterday", {})]
    seconds = rule("expect_timestamps_to_be_in_unit", "x", rows)
    assert (seconds.unexpected_count, seconds.event_ids) == (3, ["ms", "us", "txt"])
    assert seconds.details == {"s": 1, "ms": 1, "us": 1, "nan": 1}
    millis = rule("expect_timestamps_to_be_in_unit", "x", rows, unit="ms")
    assert (millis.unexpected_count, millis.event_ids) == (3, ["s", "us", "txt"])
    assert timestamp_units(__import__("pandas").Series([1, 10**12, None])).tolist() == ["s", "ms", None]


def test_journey_order_per_cart_and_person():
    rows = [
        event("add1", "added_to_cart", T, {"cart_id": "c1"}),
        event("chk1", "checkout_started", T + 5, {"cart_id": "c1"}),                 # fine
        event("add2", "added_to_cart", (T + 100) * 1000, {"cart_id": "c2"}),          # ms, still before
        event("chk2", "checkout_started", T + 200, {"cart_id": "c2"}),               # fine
        event("chk3", "checkout_started", T, {"cart_id": "c3"}),                     # no added_to_cart
        event("add4", "added_to_cart", T, {"cart_id": "c4"}, customer=None, anonymous="anon-9"),
        event("chk4", "checkout_started", T + 5, {"cart_id": "c4"}, customer="2"),   # another person
        event("add5", "added_to_cart", T + 50, {"cart_id": "c5"}),
        event("chk5", "checkout_started", T + 10, {"cart_id": "c5"}),                # before its cart add
        event("chk6", "checkout_started", T + 10, {"value": 3}),                     # no cart_id: skipped
    ]
    found = rule("expect_events_to_follow", "checkout_started", rows, after="added_to_cart")
    assert (found.element_count, found.unexpected_count) == (5, 3)
    assert found.event_ids == ["chk3", "chk4", "chk5"]
    assert found.details == {"no added_to_cart": 1, "added_to_cart by another person": 1,
                             "added_to_cart came later": 1}
    anyone = rule("expect_events_to_follow", "checkout_started", rows, after="added_to_cart", same_person=False)
    assert anyone.event_ids == ["chk3", "chk5"]


def test_duplicate_orders_count_copies_and_revenue():
    rows = [event("o1", "order_completed", T, {"order_id": "A", "revenue": 10.5}),
            event("o1-again", "order_completed", T + 30, {"order_id": "A", "revenue": 10.5}),
            event("o1-third", "order_completed", (T + 60) * 1000, {"order_id": "A", "revenue": 10.5}),
            event("o2", "order_completed", T, {"order_id": "B", "revenue": 4}),
            event("o3", "order_completed", T, {"revenue": 1})]
    found = rule("expect_orders_to_be_counted_once", "order_completed", rows)
    assert (found.element_count, found.unexpected_count) == (4, 2)
    assert found.event_ids == ["o1-again", "o1-third"]
    assert found.details == {"orders_affected": 1, "revenue_double_counted": 21.0}
    assert found.status == Status.FAIL and found.unexpected_percent == 50.0
    lenient = rule("expect_orders_to_be_counted_once", "order_completed", rows, mostly=0.5)
    assert lenient.status == Status.PASS


def test_a_rule_on_a_missing_property_fails_and_on_no_events_passes():
    missing = rule("expect_orders_to_be_counted_once", "order_completed", [event("o", "order_completed", T, {})])
    assert missing.status == Status.FAIL and missing.message.startswith("could not be evaluated")
    empty = rule("expect_orders_to_be_counted_once", "order_completed", [event("v", "product_viewed", T, {})])
    assert (empty.status, empty.element_count) == (Status.PASS, 0)


PEOPLE_ROWS = [(1, "a@example.com", 1, 0), (2, "not-an-email", 0, 1), (3, None, 1, 1), (4, "d@example.com", 2, 0)]


@pytest.fixture(params=["sqlite", "postgresql"])
def people_url(request):
    url = request.getfixturevalue("sqlite_url" if request.param == "sqlite" else "pg_url")
    engine = create_engine(url)
    with engine.begin() as conn:
        conn.execute(text("CREATE TABLE customers (id INTEGER PRIMARY KEY, email VARCHAR(80), "
                          "email_consent INTEGER, sms_consent INTEGER)"))
        conn.execute(text("INSERT INTO customers VALUES (:id, :email, :e, :s)"),
                     [dict(zip(("id", "email", "e", "s"), row)) for row in PEOPLE_ROWS])
    engine.dispose()
    return url


def test_people_suite_runs_on_people_sql(people_url):
    suite = Suite(name="people", path=None, event=None, expectations=(
        Expectation("people", 0, "expect_column_values_to_match_regex",
                    {"column": "email", "regex": r"^[^@\s]+@[^@\s]+\.[a-z]+$"}, on=PEOPLE),
        Expectation("people", 1, "expect_column_values_to_be_in_set",
                    {"column": "email_consent", "value_set": [0, 1]}, severity=WARNING, on=PEOPLE),
        Expectation("people", 2, "expect_column_values_to_not_be_null", {"column": "email"}, on=PEOPLE),
    ))
    engine = open_engine(DatabaseConfig(url=people_url))
    try:
        found = run_checks(ChecksConfig(suites=None, people_sql="SELECT * FROM customers ORDER BY id"), [suite],
                           engine=engine, as_of=datetime.now(timezone.utc))
    finally:
        engine.dispose()
    assert [(r.expectation, r.unexpected_count, r.event_ids, r.severity) for r in found] == [
        ("expect_column_values_to_match_regex", 1, ["2"], CRITICAL),
        ("expect_column_values_to_be_in_set", 1, ["4"], WARNING),
        ("expect_column_values_to_not_be_null", 1, ["3"], CRITICAL),
    ]
    assert found[0].sample_values == ["not-an-email"]


def test_a_failed_critical_check_fails_the_run_and_an_unreadable_source_errors_it():
    now = datetime.now(timezone.utc)
    run = RunResult(as_of=now, config_path="c", segments=[], started_at=now)
    run.segments.append(SegmentResult(name="s", customerio_segment_id=1, status=Status.PASS))
    assert run.status == Status.PASS
    run.checks = [CheckResult(suite="s", expectation="e", severity=WARNING, success=False, message="m")]
    assert run.status == Status.PASS
    run.checks.append(CheckResult(suite="s", expectation="e", severity=CRITICAL, success=False, message="m"))
    assert run.status == Status.FAIL
    assert run.to_dict()["checks"][1]["status"] == Status.FAIL
    run.checks.append(CheckResult(suite="s", expectation="e", error="unreadable", message="unreadable"))
    assert run.status == "error"
    lines = check_lines(run.checks)
    assert lines[0] == ("data quality: 1 critical data-quality check failed, 1 could not be run (source unreadable), "
                        "1 warning (3 expectations)")
    assert lines[1].startswith("  ERROR s: e: unreadable")
