"""Event timestamps of any type (issue 14, point 4): unix seconds, milliseconds, ISO 8601 text and
native columns (PostgreSQL ``timestamptz``, MariaDB ``DATETIME``, SQLite's ``DateTime``) give the
same results in every shipped suite that reads the timestamp, on both engines and all three
databases. The stream is generated with its problems counted (``known_events``): a checkout
whose cart was never added, orders sent twice; whatever the timestamp's type, exactly those are
found, and no event is "not in seconds" unless it was sent as a number in milliseconds.
"""

from __future__ import annotations

import shutil
from datetime import datetime, timezone

import pytest
from sqlalchemy import BigInteger, DateTime, Text, create_engine

from reconcile.checks import SHIPPED_SUITES, suites_for
from reconcile.config import ChecksConfig

from known_events import STORED_EVENTS_SQL, Problems, check_stored_events, load_events, make_events

AS_OF = datetime(2026, 1, 1, tzinfo=timezone.utc)
STREAM = make_events(40, Problems(duplicate_orders=2, checkout_without_cart=3, milliseconds=2))
SUITES = ("checkout_started", "order_completed")      # the shipped suites that read the timestamp


def as_stored(url: str, form: str, ts: int):
    """A timestamp of unix seconds (or milliseconds, as the stream sent it) in the column's form."""
    seconds, millis = (ts // 1000, ts % 1000) if ts > 10**11 else (ts, 0)
    moment = datetime.fromtimestamp(seconds + millis / 1000, timezone.utc)
    if form == "number":
        return ts
    if form == "iso":
        return moment.isoformat(timespec="milliseconds").replace("+00:00", "Z") if millis else moment.isoformat()
    return moment if url.startswith("postgresql") else moment.replace(tzinfo=None)


def load(url: str, form: str) -> None:
    kind = {"number": BigInteger, "iso": Text, "native": DateTime(timezone=True)}[form]
    load_events(url, [(e, name, c, a, as_stored(url, form, ts), p) for e, name, c, a, ts, p in STREAM.rows],
                 timestamp_type=kind, properties_type=Text)


@pytest.fixture(scope="module")
def suites(tmp_path_factory):
    folder = tmp_path_factory.mktemp("suites")
    for name in SUITES:
        shutil.copy(SHIPPED_SUITES / f"{name}.toml", folder / f"{name}.toml")
    return suites_for(ChecksConfig(suites=folder, events_sql=STORED_EVENTS_SQL))


def results(url: str, suites, engine_kind: str) -> dict:
    found = check_stored_events(url, suites, engine_kind, AS_OF)
    return {(r.suite, r.expectation, r.column): (r.status, r.unexpected_count, r.element_count, sorted(r.event_ids))
            for r in found}


@pytest.mark.parametrize("form", ["number", "iso", "native"])
def test_every_rule_and_suite_reads_any_timestamp(any_db_url, suites, form):
    load(any_db_url, form)
    database, pandas = results(any_db_url, suites, "database"), results(any_db_url, suites, "pandas")
    # the engines agree (pandas reports a column of numbers' type list without counts: see README)
    assert {k: (v[0], v[3]) for k, v in database.items()} == {k: (v[0], v[3]) for k, v in pandas.items()}
    assert {k: v for k, v in database.items() if "type_list" not in k[1]} == \
        {k: v for k, v in pandas.items() if "type_list" not in k[1]}
    ids = STREAM.event_ids
    assert database[("checkout_started", "expect_events_to_follow", "cart_id")] == (
        "fail", 3, 40, sorted(ids["checkout_without_cart"]))
    assert database[("order_completed", "expect_orders_to_be_counted_once", "order_id")] == (
        "fail", 2, 22, sorted(ids["duplicate_orders"]))
    # a number in milliseconds is the one unit problem; an instant is read as seconds
    in_ms = ("fail", 2, 22, sorted(ids["milliseconds"])) if form == "number" else ("pass", 0, 22, [])
    assert database[("order_completed", "expect_timestamps_to_be_in_unit", "timestamp")] == in_ms
    assert database[("order_completed", "expect_column_values_to_be_between", "timestamp")] == in_ms
    assert database[("checkout_started", "expect_timestamps_to_be_in_unit", "timestamp")] == ("pass", 0, 40, [])
    failed = {key for key, value in database.items() if value[0] != "pass"}
    assert failed <= {("checkout_started", "expect_events_to_follow", "cart_id"),
                      ("order_completed", "expect_orders_to_be_counted_once", "order_id"),
                      ("order_completed", "expect_column_values_to_be_unique", "order_id"),
                      ("order_completed", "expect_timestamps_to_be_in_unit", "timestamp"),
                      ("order_completed", "expect_column_values_to_be_between", "timestamp")}


@pytest.mark.parametrize("engine_kind", ["database", "pandas"])
def test_a_timestamp_that_is_no_instant_is_caught(sqlite_url, suites, engine_kind):
    load(sqlite_url, "iso")
    engine = create_engine(sqlite_url)
    with engine.begin() as conn:
        conn.exec_driver_sql("UPDATE events SET timestamp = 'soon' WHERE event_id = ?", (STREAM.rows[5][0],))
    engine.dispose()
    assert STREAM.rows[5][1] == "order_completed"
    found = results(sqlite_url, suites, engine_kind)
    assert found[("order_completed", "expect_column_values_to_not_be_null", "timestamp")] == (
        "fail", 1, 22, [STREAM.rows[5][0]])


def test_what_counts_as_an_instant():
    import pandas as pd

    from reconcile.checks.values import event_timestamps, instant_seconds
    assert instant_seconds("2026-01-01") == 1767225600
    assert instant_seconds("2026-01-01T00:00:00.2505Z") == 1767225600.251         # to the millisecond
    assert instant_seconds("2026-01-01 02:00+02:00") == instant_seconds("2026-01-01T00:00") == 1767225600
    for text in ("2026-02-30", "0000-01-01", "2026-01-01T24:00", "2026-01-01Z", "yesterday", "1767225600",
                 "2026-01-01T00:00+15:00", "2026-1-01", "2026-01-01t00:00"):
        assert instant_seconds(text) is None, text
    read = event_timestamps(pd.Series([1767225600, "1767225600000", "2026-01-01T00:00:01Z", True, "soon", None],
                                      dtype=object))
    assert read.tolist()[:3] == [1767225600, 1767225600000, 1767225601] and read[3:].isna().all()
