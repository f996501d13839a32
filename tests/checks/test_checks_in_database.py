"""GX's expectations run in the shop database (``checks.engine = "database"``) give the same
results as on the flattened pandas frame (``engine = "pandas"``), on SQLite, PostgreSQL and
MariaDB, for values that are awkward on purpose: JSON null and missing keys, 5 next to "5",
true, lowercase against a case-sensitive regex, arrays and objects where numbers belong, and
properties that are not a JSON object.
"""

from __future__ import annotations

import json
from datetime import datetime, timezone
from pathlib import Path

import pytest
from sqlalchemy import create_engine, text

from reconcile.checks import run_checks, suites_for
from reconcile.checks.sql import plan
from reconcile.config import ChecksConfig, DatabaseConfig
from reconcile.shop import open_engine

from known_events import load_events
from conftest import role_without_temporary

AS_OF = datetime(2026, 1, 1, tzinfo=timezone.utc)
EVENTS_SQL = "SELECT event_id, name, customer_id, anonymous_id, timestamp, properties FROM events ORDER BY id"
MISSING = object()

# (code, amount, order_id, kind, price): MISSING leaves the key out, None sends JSON null.
SALES = [
    ("AB", 10, "o1", "a", 1),
    ("ab", 20.5, "o1", "b", 2.5),          # lowercase code; order o1 twice
    ("X-1", None, 1, "c", "3"),            # amount null; order 1 (a number) ...
    (5, MISSING, "1", 3, True),            # ... and "1" (text) are different orders; kind 3 is not "a"
    ("5", -1, MISSING, MISSING, [1]),      # code "5" next to the number 5; amount below 0
    (True, 0, "o2", "a", {"a": 1}),
    (None, 99, "o3", None, 4),
    (MISSING, 100, "o3", "b", MISSING),    # amount above 99; order o3 twice
    ("AB", 7, "o4", "a", 7),
]
SUITE = """
[[expectations]]
type = "expect_column_values_to_not_be_null"
column = "code"
[[expectations]]
type = "expect_column_values_to_match_regex"
column = "code"
regex = '^[A-Z0-9-]+$'
[[expectations]]
type = "expect_column_values_to_not_match_regex"
column = "code"
regex = '^X'
[[expectations]]
type = "expect_column_values_to_be_in_set"
column = "code"
value_set = ["AB", "5", "X-1"]
[[expectations]]
type = "expect_column_values_to_be_between"
column = "amount"
min_value = 0
max_value = 99
[[expectations]]
type = "expect_column_values_to_be_between"
column = "amount"
min_value = 0
strict_min = true
mostly = 0.5
[[expectations]]
type = "expect_column_values_to_be_unique"
column = "order_id"
[[expectations]]
type = "expect_column_values_to_be_in_set"
column = "kind"
value_set = ["a", "b"]
[[expectations]]
type = "expect_column_values_to_not_be_in_set"
column = "kind"
value_set = ["c"]
[[expectations]]
type = "expect_column_values_to_be_in_type_list"
column = "price"
type_list = ["int", "float", "int64", "float64"]
[[expectations]]
type = "expect_column_values_to_be_of_type"
column = "code"
type_ = "str"
[[expectations]]
type = "expect_column_values_to_be_between"
column = "code"
min_value = 0
[[expectations]]
type = "expect_column_to_exist"
column = "kind"
[[expectations]]
type = "expect_column_to_exist"
column = "nope"
[[expectations]]
type = "expect_column_values_to_not_be_null"
column = "nope"
[[expectations]]
type = "expect_column_values_to_not_be_null"
column = "customer_id"
[[expectations]]
type = "expect_column_values_to_be_between"
column = "timestamp"
min_value = 1767139200
max_value = 1767139207
[[expectations]]
type = "expect_timestamps_to_be_in_unit"
"""


def sale_rows() -> list[tuple]:
    rows = []
    for i, values in enumerate(SALES):
        properties = {k: v for k, v in zip(("code", "amount", "order_id", "kind", "price"), values) if v is not MISSING}
        rows.append((f"s{i}", "sale", f"c{i}" if i % 3 else None, f"a{i}", int(AS_OF.timestamp()) - 86400 + i, json.dumps(properties)))
    rows.append(("s-array", "sale", "c9", None, int(AS_OF.timestamp()) - 86400 + 9, "[1, 2]"))     # not an object: checked as empty
    rows.append(("v0", "view", "c1", None, int(AS_OF.timestamp()) - 86400, json.dumps({"code": "zz"})))  # another event name
    return rows


@pytest.fixture
def suites(tmp_path):
    folder = tmp_path / "checks"
    folder.mkdir()
    (folder / "sale.toml").write_text(SUITE)
    return suites_for(ChecksConfig(suites=folder, events_sql=EVENTS_SQL))


def run(url, suites, engine_kind):
    engine = open_engine(DatabaseConfig(url=url))
    try:
        checks = ChecksConfig(suites=Path("checks"), events_sql=EVENTS_SQL, engine=engine_kind)
        return {(r.expectation, r.column, r.kwargs.get("min_value"), r.kwargs.get("strict_min")): r
                for r in run_checks(checks, suites, engine=engine, as_of=AS_OF)}
    finally:
        engine.dispose()


def assert_same(database, pandas):
    assert database.keys() == pandas.keys()
    for key in pandas:
        a, b = database[key], pandas[key]
        assert (a.success, a.unexpected_count, a.element_count, sorted(a.event_ids)) == \
               (b.success, b.unexpected_count, b.element_count, sorted(b.event_ids)), key
        assert a.message.startswith("could not be evaluated") == b.message.startswith("could not be evaluated"), key


def test_the_gx_expectations_are_planned_into_the_database(suites):
    planned = [e.type for e in suites[0].expectations if plan(e) is not None]
    in_memory = [e.type for e in suites[0].expectations if plan(e) is None]
    assert in_memory == ["expect_timestamps_to_be_in_unit"]          # reconcile's rule
    assert len(planned) == len(suites[0].expectations) - 1


def test_database_and_pandas_agree_exactly(any_db_url, suites, caplog):
    load_events(any_db_url, sale_rows())
    database = run(any_db_url, suites, "database")
    assert "no temporary table" not in caplog.text      # GX validated the extracted rows, not the live query
    pandas = run(any_db_url, suites, "pandas")
    assert_same(database, pandas)

    def counted(expectation, column, min_value=None, strict=None):
        found = database[(expectation, column, min_value, strict)]
        return found.unexpected_count, sorted(found.event_ids)

    # Ground truth from SALES (10 sale events: 9 above and the array one, which counts as empty).
    assert counted("expect_column_values_to_not_be_null", "code") == (3, ["s-array", "s6", "s7"])
    assert counted("expect_column_values_to_match_regex", "code") == (2, ["s1", "s5"])     # "ab", True
    assert counted("expect_column_values_to_not_match_regex", "code") == (1, ["s2"])
    assert counted("expect_column_values_to_be_in_set", "code") == (3, ["s1", "s3", "s5"])  # "ab", 5, True
    assert counted("expect_column_values_to_be_between", "amount", 0) == (2, ["s4", "s7"])
    assert counted("expect_column_values_to_be_between", "amount", 0, True) == (2, ["s4", "s5"])
    assert database[("expect_column_values_to_be_between", "amount", 0, True)].success is True   # mostly 0.5
    assert counted("expect_column_values_to_be_unique", "order_id") == (4, ["s0", "s1", "s6", "s7"])
    assert counted("expect_column_values_to_be_in_set", "kind") == (2, ["s2", "s3"])
    assert counted("expect_column_values_to_not_be_in_set", "kind") == (1, ["s2"])
    # GX's isinstance: "3", [1] and {"a": 1} are not int or float; true is an int in Python.
    assert counted("expect_column_values_to_be_in_type_list", "price") == (3, ["s2", "s4", "s5"])
    assert counted("expect_column_values_to_be_of_type", "code") == (2, ["s3", "s5"])
    assert database[("expect_column_values_to_be_between", "code", 0, None)].message.startswith(
        "could not be evaluated")                          # text and numbers in one column, as in pandas
    assert database[("expect_column_to_exist", "kind", None, None)].success is True
    assert database[("expect_column_to_exist", "nope", None, None)].success is False
    assert counted("expect_column_values_to_not_be_null", "nope")[0] == 10
    assert counted("expect_column_values_to_not_be_null", "customer_id") == (3, ["s0", "s3", "s6"])
    assert counted("expect_column_values_to_be_between", "timestamp", 1767139200) == (2, ["s-array", "s8"])
    not_json = database[("properties_are_json_objects", None, None, None)]
    assert (not_json.unexpected_count, not_json.element_count) == (1, 10)


def test_gx_cannot_write_to_the_shop_through_its_own_engine(pg_url, suites):
    """GX makes its own engine from the URL; it gets reconcile's read-only guard."""
    from reconcile.checks.gx import GXValidator
    from reconcile.checks.model import Expectation

    admin = create_engine(pg_url)
    with admin.begin() as conn:
        conn.execute(text("CREATE SEQUENCE bump"))
    engine = open_engine(DatabaseConfig(url=pg_url))
    validator = GXValidator()
    expectation = Expectation(suite="s", index=0, type="expect_column_values_to_not_be_null", kwargs={"column": "v"})
    try:
        result, = validator.validate_query(engine, "SELECT setval('bump', 42) AS v", [expectation], [expectation])
    finally:
        validator.close()
        engine.dispose()
    assert result.success is False
    assert "read-only transaction" in result.message
    with admin.connect() as conn:
        assert conn.execute(text("SELECT last_value, is_called FROM bump")).one() == (1, False)
    admin.dispose()


def test_an_events_query_that_writes_is_an_error(pg_url, suites):
    load_events(pg_url, sale_rows())
    admin = create_engine(pg_url)
    with admin.begin() as conn:
        conn.execute(text("CREATE SEQUENCE bump"))
    writing = EVENTS_SQL.replace("FROM events", ", setval('bump', 42) AS bumped FROM events")
    engine = open_engine(DatabaseConfig(url=pg_url))
    try:
        results = run_checks(ChecksConfig(suites=Path("checks"), events_sql=writing), suites, engine=engine, as_of=AS_OF)
    finally:
        engine.dispose()
    assert {r.status for r in results} == {"error"}
    assert "read-only transaction" in results[0].message
    with admin.connect() as conn:
        assert conn.execute(text("SELECT last_value, is_called FROM bump")).one() == (1, False)
    admin.dispose()


def test_without_temporary_tables_gx_reads_the_events_query_and_agrees(pg_url, suites, caplog):
    """A role with no TEMPORARY privilege: GX validates the live query instead (slower, same results)."""
    load_events(pg_url, sale_rows())
    with role_without_temporary(pg_url, "events") as restricted:
        database = run(restricted, suites, "database")
    assert "no temporary table for the sale events" in caplog.text
    assert_same(database, run(pg_url, suites, "pandas"))


def test_the_window_parameters_and_percent_signs_reach_the_database(any_db_url, suites, caplog):
    """events_sql binds :window_start_epoch and :as_of_epoch and uses LIKE '%...%': GX runs it as
    a query string, so reconcile renders the window as literals; the results equal pandas'."""
    load_events(any_db_url, sale_rows())
    sql = ("SELECT event_id, name, customer_id, anonymous_id, timestamp, properties FROM events "
           "WHERE timestamp >= :window_start_epoch + 0 * :as_of_epoch AND event_id LIKE '%s%' ORDER BY id")
    start = int(AS_OF.timestamp()) - 30 * 86400
    with create_engine(any_db_url).begin() as conn:     # two events fall before the 30-day window
        conn.execute(text("UPDATE events SET timestamp = :t WHERE event_id IN ('s0', 's1')"), {"t": start - 1})
    engine = open_engine(DatabaseConfig(url=any_db_url))
    try:
        found = {kind: {(r.expectation, r.column, r.kwargs.get("min_value"), r.kwargs.get("strict_min")): r
                        for r in run_checks(ChecksConfig(suites=Path("checks"), events_sql=sql, engine=kind), suites,
                                            engine=engine, as_of=AS_OF)}
                 for kind in ("database", "pandas")}
    finally:
        engine.dispose()
    assert "no temporary table" not in caplog.text
    assert_same(found["database"], found["pandas"])
    assert found["database"][("expect_column_values_to_not_be_null", "customer_id", None, None)].element_count == 8
