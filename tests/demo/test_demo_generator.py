"""The demo generator: its truth SQL agrees with its record on all three databases, and its drift is exact.

The record is computed in Python from the generator's own objects, never by running the SQL, so
``test_truth_sql_matches_record`` proves that the shipped ``config.toml`` queries and the Python
predicates ask the same question on SQLite, PostgreSQL and MariaDB. The other tests hold the
record to its promises: deterministic, every kind of drift present and disjoint, one cause per
differing person, counts that add up the way ``reconcile.compare.diff`` counts, and an outbox whose
problems are exactly the ones recorded.
"""

from __future__ import annotations

import json
import tomllib
from collections import Counter
from dataclasses import dataclass
from datetime import datetime, timedelta, timezone
from pathlib import Path

import pytest
from sqlalchemy import DateTime, Integer, bindparam, create_engine, text

from reconcile.config import DatabaseConfig, load_config
from reconcile.demo import build_demo
from reconcile.demo.drift import CAUSES, KINDS, demo_segments
from oracle import ListMembership
from reconcile.compare.diff import diff_segment
from reconcile.identity import normalize_email
from reconcile.shop import open_engine, run_truth

ROOT = Path(__file__).resolve().parents[2]
AS_OF = datetime(2026, 11, 28, 12, 0, 0, 123456, tzinfo=timezone.utc)   # sub-second on purpose
SEGMENTS = demo_segments()


@dataclass
class Built:
    url: str
    demo: object


@pytest.fixture(scope="module")
def built(tmp_path_factory) -> Built:
    """The default demo (seed 7, 3,000 customers) on SQLite, shared by the read-only tests."""
    url = f"sqlite:///{tmp_path_factory.mktemp('demo') / 'shop.db'}"
    return Built(url, build_demo(url, as_of=AS_OF))


def segment_ids(url: str, sql: str, window_days: float) -> set[str]:
    """A segment's distinct ids through plain SQLAlchemy, bound as the design defines."""
    engine = create_engine(url)
    aware = engine.dialect.name == "postgresql"
    window_start = AS_OF - timedelta(days=window_days)
    values = {"as_of": AS_OF, "window_start": window_start,
              "as_of_epoch": int(AS_OF.timestamp()), "window_start_epoch": int(window_start.timestamp())}
    statement = text(sql)
    used = sorted(statement._bindparams)
    statement = statement.bindparams(*(
        bindparam(name, type_=Integer() if name.endswith("_epoch") else DateTime(timezone=aware)) for name in used))
    params = {name: values[name] if name.endswith("_epoch") or aware else values[name].replace(tzinfo=None)
              for name in used}
    try:
        with engine.connect() as conn:
            return {str(row.id) for row in conn.execute(statement, params)}
    finally:
        engine.dispose()


def assert_sql_matches_record(url: str, demo) -> None:
    for segment in SEGMENTS:
        expected = demo.record.segments[segment.name].truth
        assert expected, segment.name
        assert sorted(segment_ids(url, segment.sql, segment.window_days)) == expected, segment.name


def test_truth_sql_matches_record_sqlite(built):
    assert_sql_matches_record(built.url, built.demo)


@pytest.mark.parametrize("database", ["pg_url", "mysql_url"])
def test_truth_sql_matches_record_server(database, request):
    """The same generator fills PostgreSQL (timestamptz, aware UTC) and MariaDB (DATETIME, naive UTC)."""
    url = request.getfixturevalue(database)
    assert_sql_matches_record(url, build_demo(url, as_of=AS_OF))


def test_deterministic(built, tmp_path):
    url = f"sqlite:///{tmp_path / 'again.db'}"
    again = build_demo(url, as_of=AS_OF)
    assert again.workspace == built.demo.workspace
    assert again.record.to_dict() == built.demo.record.to_dict()
    for table in ("customers", "orders", "order_items", "carts", "anonymous_sessions", "events"):
        assert _dump(url, table) == _dump(built.url, table), table
    seven, eight = (build_demo("sqlite://", as_of=AS_OF, seed=seed, customers=300) for seed in (7, 8))
    assert seven.record.segments["lapsed_90d_winback"].truth != eight.record.segments["lapsed_90d_winback"].truth


def _dump(url: str, table: str) -> list[tuple]:
    return _query(url, f"SELECT * FROM {table} ORDER BY 1")


def test_every_kind_injected_disjoint_and_seen(built):
    record = built.demo.record
    assert set(record.injected) == set(KINDS)
    assert all(record.injected[kind] for kind in KINDS), record.injected
    everyone = [person for people in record.injected.values() for person in people]
    assert len(everyone) == len(set(everyone)), "a person got two kinds of drift"
    differing = {key for segment in record.segments.values() for key in segment.causes}
    shadowed = {p["customer_id"] for p in record.extra_profiles.values() if p["kind"] == "duplicate_profile"}
    for kind, people in record.injected.items():   # every drifted person shows in some segment
        for person in people:
            assert person in differing or person in shadowed, (kind, person)
    for cio_id, profile in record.extra_profiles.items():
        assert (profile["id"] or f"cio:{cio_id}") in differing, cio_id


def test_every_cause_once_and_counts_add_up(built):
    record = built.demo.record
    seen = Counter()
    for name, segment in record.segments.items():
        truth, customerio = set(segment.truth), set(segment.customerio)
        missing, extra = segment.missing_in_customerio, segment.extra_in_customerio
        assert missing == sorted(truth - customerio) and extra == sorted(customerio - truth), name
        assert segment.matched == len(truth & customerio)
        assert segment.matched + len(missing) == len(truth)
        assert segment.matched + len(extra) == len(customerio)
        assert set(segment.causes) == set(missing) | set(extra), "every differing person has exactly one cause"
        assert set(segment.causes.values()) <= set(CAUSES)
        seen.update(segment.causes.values())
        assert len(missing) + len(extra) > 0, f"{name} did not drift"
    assert set(seen) == set(CAUSES), seen
    json.dumps(record.to_dict())                                  # the runner writes it as JSON


def test_reconcile_counts_the_record(built):
    """The tool's own truth runner and diff, fed the workspace's membership, reach the record's numbers."""
    people = {p["cio_id"]: p for p in built.demo.workspace["people"]}
    engine = open_engine(DatabaseConfig(url=built.url))
    try:
        for segment, cio in zip(SEGMENTS, built.demo.workspace["segments"]):
            members = [people[cio_id] for cio_id in cio["members"]]
            membership = ListMembership(cio["id"], [m["id"] for m in members], [m["email"] for m in members],
                                        [m["cio_id"] for m in members])
            diff = diff_segment(run_truth(engine, segment, "id", AS_OF).people, membership, "id")
            expected = built.demo.record.segments[segment.name]
            assert (diff.truth_count, diff.customerio_count, diff.matched, len(diff.missing), len(diff.extra)) == (
                len(expected.truth), len(expected.customerio), expected.matched,
                len(expected.missing_in_customerio), len(expected.extra_in_customerio)), segment.name
    finally:
        engine.dispose()


def test_workspace_is_what_customerio_would_hold(built):
    workspace, record = built.demo.workspace, built.demo.record
    assert workspace["identifiers"] == "email_or_id"
    people = workspace["people"]
    by_cio = {p["cio_id"]: p for p in people}
    assert len(by_cio) == len(people)
    for person in people:
        assert set(person) == {"cio_id", "id", "email", "attributes", "unsubscribed"}
        assert all(isinstance(v, str) for v in person["attributes"].values()), person
    ms = set(record.injected["timestamp_unit"])
    for person in people:
        last = person["attributes"].get("last_order_at")
        if last is not None:
            assert len(last) == (13 if person["id"] in ms else 10), person
    shop_ids = {row[0] for row in _dump(built.url, "customers")}
    by_id = {p["id"]: p for p in people if p["id"] is not None}
    for cid in record.injected["deleted_in_shop"]:
        assert int(cid) not in shop_ids and cid in by_id
    for cid in record.injected["never_identified"]:
        assert int(cid) in shop_ids and cid not in by_id
    for cio_id, extra in record.extra_profiles.items():
        original = by_id[extra["customer_id"]]
        assert normalize_email(by_cio[cio_id]["email"]) == normalize_email(original["email"])
        if extra["kind"] == "duplicate_profile":
            assert extra["id"].startswith("guest-") and by_cio[cio_id]["email"] != original["email"]
        else:
            assert extra["kind"] == "idless_profile" and by_cio[cio_id]["id"] is None
    for cio, (name, segment) in zip(workspace["segments"], record.segments.items()):
        assert cio["id"] == segment.customerio_segment_id and cio["state"] == "finished"
        assert cio["type"] == "dynamic" and cio["progress"] is None
        assert isinstance(cio["created_at"], int) and cio["updated_at"] == int(record.cio_evaluated_at.timestamp())
        keys = {by_cio[c]["id"] or f"cio:{c}" for c in cio["members"]}
        assert sorted(keys) == segment.customerio, name
    assert [s["id"] for s in workspace["segments"]] == [11, 12, 13, 14, 15]


def test_id_format_shift_and_lost_orders_in_grace_are_recorded_exactly(built):
    """Customer.io holds each id-shifted customer as "<id>.0" only; each lost order is in the shop,
    5 to 40 minutes inside the 30-day window, and Customer.io has no order for that customer."""
    workspace, record = built.demo.workspace, built.demo.record
    by_id = {p["id"]: p for p in workspace["people"] if p["id"] is not None}
    assert set(record.shifted_ids) == set(record.injected["id_format_shift"]) and len(record.shifted_ids) == 4
    for cid, spelled in record.shifted_ids.items():
        assert spelled == f"{cid}.0" and spelled in by_id and cid not in by_id
        for name, segment in record.segments.items():
            expected = {cid: "id_format", spelled: "id_format"} if cid in segment.truth else {}
            assert {k: v for k, v in segment.causes.items() if k in (cid, spelled)} == expected, name
    assert set(record.lost_orders_in_grace) == set(record.injected["lost_order_in_grace"])
    window_start = int((AS_OF - timedelta(days=30)).timestamp())
    orders = dict(_query(built.url, "SELECT order_id, customer_id FROM orders"))
    for cid, lost in record.lost_orders_in_grace.items():
        assert orders[lost["order_id"]] == int(cid)
        assert 5 * 60 <= lost["inside_window_seconds"] == lost["completed_at"] - window_start <= 40 * 60
        assert "last_order_at" not in by_id[cid]["attributes"]
        assert record.segments["purchased_30d_email_consent"].causes[cid] == "attribute_stale"


def test_outbox_problems_are_exactly_the_recorded_ones(built):
    problems = built.demo.record.event_problems
    events = [dict(zip(("event_id", "name", "timestamp", "properties"), row)) for row in _query(
        built.url, "SELECT event_id, name, timestamp, properties FROM events ORDER BY id")]
    for event in events:
        event["properties"] = json.loads(event["properties"])
    orders = [e for e in events if e["name"] == "order_completed"]
    by_order = Counter(e["properties"]["order_id"] for e in orders)
    repeated = sorted(o for o, n in by_order.items() if n > 1)
    planted = built.demo.record.purchases      # the purchases' planted duplicate (reconcile/demo/purchases.py)
    assert repeated == sorted(problems["duplicate_order_completed"]["order_ids"] + planted["planted"]["duplicate_event"])
    assert problems["duplicate_order_completed"]["count"] + len(planted["duplicate_copies"]) == len(repeated)
    first = {}
    for e in orders:
        first.setdefault(e["properties"]["order_id"], e)
    later = sorted(e["event_id"] for e in orders if first[e["properties"]["order_id"]] is not e)
    assert later == sorted(problems["duplicate_order_completed"]["event_ids"] + list(planted["duplicate_copies"]))
    revenue = sum(first[o]["properties"]["revenue"] for o in repeated)
    assert problems["duplicate_order_completed"]["revenue_double_counted"] + sum(
        planted["duplicate_copies"].values()) == pytest.approx(revenue)

    def ids(predicate) -> list[str]:
        return sorted(e["event_id"] for e in events if predicate(e))

    assert ids(lambda e: "productId" in e["properties"]) == problems["product_id_renamed"]["event_ids"]
    assert ids(lambda e: isinstance(e["properties"].get("items"), str)) == problems["items_as_string"]["event_ids"]
    assert ids(lambda e: e["timestamp"] > 10**11) == problems["timestamp_in_milliseconds"]["event_ids"]
    added = {e["properties"]["cart_id"] for e in events if e["name"] == "added_to_cart"}
    assert ids(lambda e: e["name"] == "checkout_started" and e["properties"]["cart_id"] not in added) == \
        problems["checkout_without_add_to_cart"]["event_ids"]
    for kind, problem in problems.items():
        assert problem["count"] == len(problem["event_ids"]) > 0, kind
    in_seconds = [e["timestamp"] // (1000 if e["timestamp"] > 10**11 else 1) for e in events]
    assert max(in_seconds) <= AS_OF.timestamp() and min(in_seconds) > (AS_OF - timedelta(days=400)).timestamp()


def _query(url: str, sql: str) -> list[tuple]:
    engine = create_engine(url)
    with engine.connect() as conn:
        rows = [tuple(row) for row in conn.execute(text(sql))]
    engine.dispose()
    return rows


def test_the_shop_looks_like_a_shop(built):
    (never, once, repeat), = _query(built.url, """
        SELECT SUM(CASE WHEN n = 0 THEN 1 ELSE 0 END), SUM(CASE WHEN n = 1 THEN 1 ELSE 0 END),
               SUM(CASE WHEN n > 1 THEN 1 ELSE 0 END)
        FROM (SELECT c.id, COUNT(o.id) AS n FROM customers c LEFT JOIN orders o ON o.customer_id = c.id
              GROUP BY c.id) per_customer""")
    assert never > 600 and once > 500 and repeat > 500
    (abandoned,), = _query(built.url, "SELECT COUNT(*) FROM carts ca WHERE NOT EXISTS "
                                      "(SELECT 1 FROM orders o WHERE o.customer_id = ca.customer_id "
                                      "AND o.completed_at >= ca.updated_at)")
    (identified, anonymous), = _query(built.url, "SELECT COUNT(identified_at), COUNT(*) - COUNT(customer_id) "
                                                 "FROM anonymous_sessions")
    assert abandoned > 1000 and identified > 300 and anonymous > 300
    categories = {row[0] for row in _query(built.url, "SELECT DISTINCT category FROM products")}
    assert {"cleanser", "moisturizer", "serum", "sunscreen", "toner"} <= categories
    (first, last), = _query(built.url, "SELECT MIN(completed_at), MAX(completed_at) FROM orders")
    assert str(AS_OF - timedelta(days=365))[:19] < str(first) and str(last) < str(AS_OF.replace(tzinfo=None))


def test_refuses_a_database_that_has_the_tables(built):
    with pytest.raises(ValueError, match="already has the table"):
        build_demo(built.url, as_of=AS_OF)
    with pytest.raises(ValueError, match="timezone-aware"):
        build_demo("sqlite://", as_of=AS_OF.replace(tzinfo=None))


def test_shipped_config_is_the_design_format():
    top = ROOT / "config.toml"
    assert top.is_symlink() and top.resolve() == ROOT / "reconcile" / "demo" / "config.toml"
    raw = tomllib.loads(top.read_text())   # other issues add their own sections (e.g. [checks])
    assert {"database", "customerio", "identity", "segments"} <= set(raw)
    assert set(raw["database"]) == {"url"} and set(raw["identity"]) == {"key"}
    design = {"region", "base_url", "app_api_key"}
    assert design <= set(raw["customerio"]) <= design | {"site_id", "track_api_key"}   # + the repair's Track API
    for segment in raw["segments"]:
        design = {"name", "title", "customerio_segment_id", "window_days", "tolerance", "sql"}
        assert design <= set(segment) <= design | {"compare", "window_column", "lookup_sql"}   # + the diagnosis
    config = load_config(top)
    assert [s.customerio_segment_id for s in config.segments] == [11, 12, 13, 14, 15]
    assert config.database.url == f"sqlite:///{ROOT / '.reconcile-demo' / 'shop.db'}"
