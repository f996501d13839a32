"""Hostile events are findings, not crashes: properties nested 5,000 levels deep, nested one level
past the limit, no JSON at all, or not an object are malformed on both engines and all three
databases alike (a failing ``properties_are_json_objects`` row, and the checks that needed their
properties fail on them), the other events are checked as before, and a 1 MB value is cut to a
few hundred characters wherever it is shown."""

from __future__ import annotations

import json
import shutil
from datetime import datetime, timezone

import pytest

from reconcile.checks import SHIPPED_SUITES, suites_for
from reconcile.checks.flatten import MAX_DEPTH
from reconcile.config import ChecksConfig
from reconcile.results import SHOWN_CHARACTERS

from known_events import BASE_TS, STORED_EVENTS_SQL, Problems, check_stored_events, load_events, make_events

AS_OF = datetime(2026, 1, 1, tzinfo=timezone.utc)
STREAM = make_events(20, Problems(duplicate_orders=1))
ORDERS = STREAM.counts["order_completed"]


def nested(depth: int) -> str:
    """Objects nested ``depth`` levels deep, as text (Python's json would recurse building it)."""
    return '{"a": ' * (depth - 1) + "{}" + "}" * (depth - 1)


def order(event_id: str, seconds: int, properties: str) -> tuple:
    return (event_id, "order_completed", "c-" + event_id, None, BASE_TS + seconds, properties)


def props(**extra) -> str:
    return json.dumps({"order_id": "o-" + str(len(extra)), "revenue": 10.0, "items": [], **extra})[:-1]


HUGE = "!" * 1_000_000              # fails discount_code's pattern: it is a sample value
MALFORMED = {
    "h-5000-deep": order("h-5000-deep", 10, props() + ', "nested": ' + nested(5000) + "}"),
    "h-too-deep": order("h-too-deep", 11, props() + ', "nested": ' + nested(MAX_DEPTH) + "}"),   # 32 levels
    "h-no-json": order("h-no-json", 12, '{"order_id": "o-cut", "revenue": '),
    "h-array": order("h-array", 13, "[1, 2, 3]"),
}
FINE = {
    "h-deep-enough": order("h-deep-enough", 14, json.dumps({"order_id": "o-31", "revenue": 1.0, "items": []})[:-1]
                           + ', "nested": ' + nested(MAX_DEPTH - 1) + "}"),                    # 31 levels
    "h-huge": order("h-huge", 15, json.dumps({"order_id": "o-huge", "revenue": 1.0, "items": [],
                                              "discount_code": HUGE})),
}
ROWS = STREAM.rows + list(MALFORMED.values()) + list(FINE.values())


@pytest.fixture(scope="module")
def suites(tmp_path_factory):
    folder = tmp_path_factory.mktemp("suites")
    shutil.copy(SHIPPED_SUITES / "order_completed.toml", folder / "order_completed.toml")
    return suites_for(ChecksConfig(suites=folder, events_sql=STORED_EVENTS_SQL))


@pytest.mark.parametrize("engine_kind", ["pandas", "database"])
def test_hostile_events_are_the_same_findings_everywhere(any_db_url, suites, engine_kind):
    load_events(any_db_url, ROWS)
    found = check_stored_events(any_db_url, suites, engine_kind, AS_OF)
    by = {(r.expectation, r.column): r for r in found}
    assert not [r for r in found if r.status == "error"]                   # findings, never errors
    total = ORDERS + len(MALFORMED) + len(FINE)
    malformed = by[("properties_are_json_objects", None)]
    assert (malformed.status, malformed.unexpected_count, malformed.element_count) == ("fail", len(MALFORMED), total)
    missing_order_id = by[("expect_column_values_to_not_be_null", "order_id")]
    assert (missing_order_id.unexpected_count, sorted(missing_order_id.event_ids)) == (len(MALFORMED), sorted(MALFORMED))
    twice = by[("expect_orders_to_be_counted_once", "order_id")]           # the stream's own problem, still found
    assert (twice.unexpected_count, twice.event_ids) == (1, STREAM.event_ids["duplicate_orders"])
    pattern = by[("expect_column_values_to_match_regex", "discount_code")]
    assert pattern.unexpected_count == 1
    assert pattern.sample_values == [f"{'!' * SHOWN_CHARACTERS}… (cut: 1,000,000 characters)"]
    assert len(json.dumps([r.to_dict() for r in found])) < 50_000          # results.json: no 1 MB value in it
