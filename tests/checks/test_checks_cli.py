"""Checks through the command line: ``reconcile run`` with a [checks] section, against a real
SQLite shop and the sandbox Customer.io. The one segment always matches (3 people on both
sides), so the exit code is decided by the checks alone:

* clean events → 0; a critical expectation failing (2 orders sent twice) → 1, and the summary
  says so; the same failure at severity "warning" → 0; an events query that fails → 3.
"""

from __future__ import annotations

import json
import textwrap
from datetime import datetime, timezone

import pytest
from sqlalchemy import create_engine, text

from known_events import BASE_TS, Problems, load_events, make_events
from reconcile.cli import main
from reconcile.sandbox import Sandbox, Workspace

SUITE = """
[[expectations]]
type = "expect_column_values_to_not_be_null"
column = "order_id"
severity = "critical"

[[expectations]]
type = "expect_orders_to_be_counted_once"
severity = "{severity}"
"""


@pytest.fixture
def sandbox():
    workspace = Workspace()
    for n in (1, 2, 3):
        workspace.add_person(f"cio-{n}", id=str(n), email=f"p{n}@example.com")
    workspace.add_segment(7, "buyers", members=["cio-1", "cio-2", "cio-3"])
    with Sandbox(workspace, api_key="k") as server:
        yield server


def project(tmp_path, sandbox, *, duplicates: int, severity: str = "critical", events_sql: str | None = None):
    url = f"sqlite:///{tmp_path / 'shop.db'}"
    engine = create_engine(url)
    with engine.begin() as conn:
        conn.execute(text("CREATE TABLE customers (id INTEGER PRIMARY KEY)"))
        conn.execute(text("INSERT INTO customers VALUES (1), (2), (3)"))
    engine.dispose()
    load_events(url, make_events(40, Problems(duplicate_orders=duplicates)).rows)
    (tmp_path / "checks").mkdir()
    (tmp_path / "checks" / "order_completed.toml").write_text(SUITE.format(severity=severity), encoding="utf-8")
    events_sql = events_sql or "SELECT event_id, name, customer_id, anonymous_id, timestamp, properties FROM events"
    (tmp_path / "config.toml").write_text(textwrap.dedent(f'''
        [database]
        url = "sqlite:///shop.db"
        [customerio]
        app_api_key = "k"
        base_url = "{sandbox.url}"
        [[segments]]
        name = "buyers"
        customerio_segment_id = 7
        sql = "SELECT id FROM customers"
        [checks]
        events_sql = "{events_sql}"
    '''), encoding="utf-8")
    return tmp_path / "config.toml"


def run(config, tmp_path, capsys):
    # as of an hour after the events: their flow is fresh, so the checks alone decide
    as_of = datetime.fromtimestamp(BASE_TS + 3600, timezone.utc).isoformat()
    code = main(["run", "--config", str(config), "--out", str(tmp_path / "out"), "--as-of", as_of])
    out = capsys.readouterr().out
    results = json.loads((tmp_path / "out" / "results.json").read_text())
    return code, out, results


def test_clean_events_pass(tmp_path, sandbox, capsys):
    code, out, results = run(project(tmp_path, sandbox, duplicates=0), tmp_path, capsys)
    assert code == 0 and results["status"] == "pass"
    assert [c["status"] for c in results["checks"]] == ["pass", "pass"]
    assert "data quality: every expectation met (2 expectations)" in out


def test_a_failed_critical_expectation_exits_1_and_says_so(tmp_path, sandbox, capsys):
    code, out, results = run(project(tmp_path, sandbox, duplicates=2), tmp_path, capsys)
    assert code == 1 and results["status"] == "fail"
    assert [s["status"] for s in results["segments"]] == ["pass"]
    duplicates = results["checks"][1]
    assert (duplicates["expectation"], duplicates["status"], duplicates["unexpected_count"]) == \
        ("expect_orders_to_be_counted_once", "fail", 2)
    assert len(duplicates["event_ids"]) == 2 and duplicates["details"]["orders_affected"] == 2
    assert "FAIL: 0 failed, 0 could not be compared, 1 passed; 1 critical data-quality check failed" in out
    assert "FAIL  order_completed: expect_orders_to_be_counted_once(order_id): 2 of 22 events" in out
    report = (tmp_path / "out" / "report.html").read_text()
    assert 'id="data-quality"' in report and "expect_orders_to_be_counted_once" in report


def test_a_failed_warning_does_not_fail_the_run(tmp_path, sandbox, capsys):
    code, out, results = run(project(tmp_path, sandbox, duplicates=2, severity="warning"), tmp_path, capsys)
    assert code == 0 and results["status"] == "pass"
    assert results["checks"][1]["status"] == "fail" and "1 warning" in out


def test_an_unreadable_events_source_exits_3(tmp_path, sandbox, capsys):
    config = project(tmp_path, sandbox, duplicates=0, events_sql="SELECT * FROM outbox")
    code, out, results = run(config, tmp_path, capsys)
    assert code == 3 and results["status"] == "error"
    assert {c["status"] for c in results["checks"]} == {"error"}
    assert "no such table: outbox" in results["checks"][0]["error"]
