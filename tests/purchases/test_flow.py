"""Core events flowing: each suite's event's newest event and day count, in the database and in
memory (equal, and equal to what the test counts itself); the rules that judge them; the
baseline the history gives (the median of the last four runs on the same weekday); and the demo,
whose first run judges no volume and whose second and third do."""

from __future__ import annotations

import json
from datetime import datetime, timedelta, timezone
from pathlib import Path

import pytest
from sqlalchemy import create_engine, text

from reconcile.config import ChecksConfig, DatabaseConfig
from reconcile.demo import build_demo
from reconcile.demo.runner import demo_history, run_demo
from reconcile.purchases.flow import flow_counts
from reconcile.report import History
from reconcile.results import FlowResult, FlowStatus, decide_flow
from reconcile.shop import Window, open_engine

from known_events import BASE_TS, Problems, load_events, make_events

NAMES = ["added_to_cart", "checkout_started", "order_completed", "product_viewed", "never_sent"]


def expected_counts(rows: list[tuple], as_of: int) -> dict[str, tuple[int | None, int]]:
    """What the test counts itself: milliseconds by their size, events after as_of left out."""
    found: dict[str, tuple[int | None, int]] = {name: (None, 0) for name in NAMES}
    for _, name, _, _, stamp, _ in rows:
        t = stamp // 1000 if stamp > 10**11 else stamp
        if name in found and t <= as_of:
            newest, count = found[name]
            found[name] = (max(newest or t, t), count + (t > as_of - 86_400))
    return found


def test_the_flow_is_counted_alike_in_the_database_and_in_memory(any_db_url):
    stream = make_events(60, Problems(milliseconds=3))
    load_events(any_db_url, stream.rows)
    as_of = BASE_TS + 1_800                      # half the events are later: they are left out
    window = Window.ending(datetime.fromtimestamp(as_of, timezone.utc), 30)
    engine = open_engine(DatabaseConfig(url=any_db_url))
    sql = "SELECT event_id, name, customer_id, anonymous_id, timestamp, properties FROM events"
    try:
        database = flow_counts(ChecksConfig(suites=Path("."), events_sql=sql), engine, window, NAMES)
        memory = flow_counts(ChecksConfig(suites=Path("."), events_sql=sql, engine="pandas"), engine, window, NAMES)
    finally:
        engine.dispose()
    truth = expected_counts(stream.rows, as_of)
    assert database == memory == truth
    assert truth["never_sent"] == (None, 0) and 0 < truth["order_completed"][1] < stream.counts["order_completed"]


def judged(age: float | None, count: int, baseline: float | None, critical: bool = False) -> FlowResult:
    flow = FlowResult(event="order_completed" if critical else "added_to_cart", critical=critical, age_hours=age,
                      count=count, baseline=baseline)
    decide_flow(flow, max_age_hours=24, volume_drop=0.5)
    return flow


def test_stale_or_off_volume_is_a_warning_and_critical_for_the_purchase_event():
    assert judged(2.0, 100, None).status == FlowStatus.PASS                  # no history: only the age is judged
    assert judged(2.0, 5, None).status == FlowStatus.PASS
    assert judged(2.0, 50, 100).status == FlowStatus.PASS                    # exactly half: not below
    assert judged(2.0, 200, 100).status == FlowStatus.PASS                   # exactly twice: not above
    low = judged(2.0, 49, 100)
    assert (low.status, low.problems) == (FlowStatus.WARNING, ["49 in the last 24 hours, below 0.5 of the usual 100"])
    high = judged(2.0, 201, 100, critical=True)
    assert (high.status, high.problems) == (FlowStatus.FAIL,
                                            ["201 in the last 24 hours, above twice the usual 100"])
    stale = judged(30.25, 100, 100, critical=True)
    assert (stale.status, stale.problems) == (FlowStatus.FAIL, ["the newest is 30.2 hours old (max_age_hours 24)"])
    assert judged(None, 0, None).problems == ["no event at all"]
    unread = FlowResult(event="x", error="checks.events_sql: the query failed")
    decide_flow(unread, 24, 0.5)
    assert unread.status == FlowStatus.ERROR


def write_run(reports: Path, as_of: datetime, counts: dict[str, int], key: str = "config-k") -> None:
    folder = reports / f"{key}-{as_of:%Y%m%dT%H%M}"
    folder.mkdir(parents=True)
    flow = [{"event": event, "count": count} for event, count in counts.items()]
    (folder / "results.json").write_text(json.dumps({
        "as_of": as_of.isoformat(), "started_at": as_of.isoformat(), "status": "pass", "segments": [],
        "flow": flow, "history_key": key}))


def test_the_baseline_is_the_median_of_the_last_four_runs_on_the_same_weekday(tmp_path):
    monday = datetime(2026, 11, 2, 7, 0, tzinfo=timezone.utc)
    for week, count in enumerate([1000, 10, 30, 20, 40, 50]):
        write_run(tmp_path, monday + timedelta(weeks=week), {"order_completed": count, "added_to_cart": 7})
    write_run(tmp_path, monday + timedelta(days=1), {"order_completed": 99_999})          # a Tuesday
    write_run(tmp_path, monday + timedelta(weeks=1), {"order_completed": 5}, key="other")  # another config
    history = History(tmp_path, "config-k")
    now = monday + timedelta(weeks=6)
    # the last four Mondays before now: 30, 20, 40, 50 (the first two are older)
    assert history.volume_baselines(now) == {"order_completed": (35.0, 4), "added_to_cart": (7.0, 4)}
    assert history.volume_baselines(monday + timedelta(weeks=2)) == {"order_completed": (505.0, 2),
                                                                     "added_to_cart": (7.0, 2)}
    assert history.volume_baselines(monday) == {}                                          # a first run
    assert history.volume_baselines(monday + timedelta(days=2)) == {}                      # no Wednesday yet


def count_events(demo_url: str, as_of: datetime) -> dict[str, int]:
    """The demo shop's events in the 24 hours before as_of, counted by the test itself."""
    engine = create_engine(demo_url)
    with engine.connect() as conn:
        rows = conn.execute(text("SELECT event_id, name, customer_id, anonymous_id, timestamp, properties "
                                 "FROM events")).all()
    engine.dispose()
    return {name: count for name, (_, count) in expected_counts([tuple(r) for r in rows],
                                                                 int(as_of.timestamp())).items() if name in NAMES[:4]}


def test_a_first_demo_run_judges_no_volume_and_the_second_and_third_do(tmp_path):
    as_of = datetime(2026, 11, 28, 9, 30, tzinfo=timezone.utc)
    truth = {}
    for size in (300, 900):          # the demo is deterministic: the same shops the runs below audit
        url = f"sqlite:///{tmp_path / f'shop{size}.db'}"
        build_demo(url, as_of=as_of, customers=size)
        truth[size] = count_events(url, as_of)
    runs = []
    for week, size in enumerate((300, 300, 900)):
        run, _ = run_demo(out=tmp_path / "reports" / f"week{week}", as_of=as_of + timedelta(weeks=week),
                          customers=size, history=demo_history(tmp_path / "reports"))
        runs.append({f.event: f for f in run.flow})
    first, second, third = runs
    assert {e: f.count for e, f in first.items()} == truth[300]
    assert all(f.baseline is None and f.status == FlowStatus.PASS for f in first.values())
    assert {e: (f.baseline, f.runs_in_baseline, f.status) for e, f in second.items()} == {
        e: (float(n), 1, FlowStatus.PASS) for e, n in truth[300].items()}
    assert {e: (f.count, f.baseline, f.runs_in_baseline) for e, f in third.items()} == {
        e: (truth[900][e], float(n), 2) for e, n in truth[300].items()}
    # three times the shop: every event is above twice its usual count; for order_completed that fails the run
    for event, flow in third.items():
        assert flow.status == (FlowStatus.FAIL if event == "order_completed" else FlowStatus.WARNING), event
        assert flow.problems == [f"{truth[900][event]:,} in the last 24 hours, above twice the usual "
                                 f"{truth[300][event]:,}"]


@pytest.mark.parametrize("age, counted", [(1, True), (30, False)])
def test_events_after_as_of_never_count(tmp_path, age, counted):
    """An event stamped after as_of (a clock ahead, or an audit of the past) is not the newest."""
    url = f"sqlite:///{tmp_path / 'e.db'}"
    rows = [("e1", "order_completed", 1, None, BASE_TS - age * 3600, "{}"),
            ("e2", "order_completed", 1, None, BASE_TS + 3600, "{}")]
    load_events(url, rows)
    engine = open_engine(DatabaseConfig(url=url))
    window = Window.ending(datetime.fromtimestamp(BASE_TS, timezone.utc), 30)
    sql = "SELECT event_id, name, customer_id, anonymous_id, timestamp, properties FROM events"
    try:
        found = flow_counts(ChecksConfig(suites=Path("."), events_sql=sql), engine, window, ["order_completed"])
    finally:
        engine.dispose()
    assert found == {"order_completed": (BASE_TS - age * 3600, 1 if counted else 0)}
