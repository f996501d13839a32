"""The demo's planted purchase problems, each found exactly: in the warehouse comparison (in memory
and as SQL, on SQLite, PostgreSQL and MariaDB) and in the sampled activity log read from the
sandbox over HTTP. The generator's record says, from its own objects, what each must show
(``reconcile/demo/purchases.py``); nothing here runs the SQL it checks to learn the answer."""

from __future__ import annotations

from datetime import datetime, timezone

import pytest
from pandas.testing import assert_frame_equal

from reconcile.customerio import client_from_settings
from reconcile.demo import build_demo
from reconcile.demo.runner import demo_config
from reconcile.purchases import compare_purchases
from reconcile.results import Status
from reconcile.sandbox import Sandbox, Workspace
from reconcile.shop import open_engine

AS_OF = datetime(2026, 11, 28, 9, 30, tzinfo=timezone.utc)


def found_by_problem(result) -> dict[str, list[str]]:
    frame = result.discrepancies
    return {problem: sorted(frame[frame["problem"] == problem]["order_id"])
            for problem in ("missing_event", "wrong_person", "duplicate_event", "revenue_mismatch", "late_event")}


def test_the_warehouse_comparison_finds_each_planted_problem(any_db_url):
    demo = build_demo(any_db_url, as_of=AS_OF)
    record = demo.record.purchases
    config = demo_config(any_db_url, "http://127.0.0.1:9")
    engine = open_engine(config.database)
    try:
        memory, database = (compare_purchases(config, engine, None, AS_OF, database=flag) for flag in (False, True))
    finally:
        engine.dispose()
    assert_frame_equal(memory.discrepancies, database.discrepancies)
    for result in (memory, database):
        assert result.error is None and result.status == Status.FAIL
        assert found_by_problem(result) == record["expected"]
        assert result.orders == record["orders"] == 95
        assert (result.revenue_without_event, result.revenue_counted_twice) == pytest.approx(
            (record["revenue_without_event"], record["revenue_counted_twice"]))
        assert sorted(result.discrepancies[result.discrepancies["problem"] == "orphan_event"]["order_id"]) == \
            record["orphan_events"] == []
    # every planted problem is among them, under its own name
    for problem, orders in record["planted"].items():
        assert orders and set(orders) <= set(record["expected"][problem]), problem
    assert len(record["planted"]["missing_event"]) == 7             # the orders Customer.io never received
    ghost = database.discrepancies.set_index("order_id").loc[record["planted"]["wrong_person"][0]]
    assert ghost["evidence"].startswith("the event is under anonymous_id anon_")


def test_the_sampled_activity_log_shows_each_planted_problem(sqlite_url):
    demo = build_demo(sqlite_url, as_of=AS_OF)
    record = demo.record.purchases
    with Sandbox(Workspace.from_dict(demo.workspace), api_key=demo.api_key) as sandbox:
        config = demo_config(sqlite_url, sandbox.url)
        engine = open_engine(config.database)
        with client_from_settings(config.customerio) as client:
            result = compare_purchases(config, engine, client, AS_OF)
        engine.dispose()
    sampled = result.activity.orders
    assert [o["order_id"] for o in sampled] == record["activity"]["sampled"] and len(sampled) == 30
    outcomes = {o["order_id"]: o["outcome"] for o in sampled}
    assert outcomes == record["activity"]["outcomes"]
    planted = record["planted"]
    lost_in_sample = [o for o in planted["missing_event"] if o in outcomes]
    assert lost_in_sample and {outcomes[o] for o in lost_in_sample} == {"not_found"}
    assert outcomes[planted["duplicate_event"][0]] == "found_twice"
    assert outcomes[planted["revenue_mismatch"][0]] == "revenue_differs"
    assert outcomes[planted["wrong_person"][0]] == "other_profile"
    assert outcomes[planted["late_event"][0]] == "found_once"        # Customer.io has it once; lateness is the warehouse's
    ghost = next(o for o in sampled if o["order_id"] == planted["wrong_person"][0])
    assert ghost["cio_id"] == record["ghost_profile"]
    assert result.activity.status == Status.FAIL
