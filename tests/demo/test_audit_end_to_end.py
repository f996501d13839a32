"""The whole audit over real HTTP and real databases, checked against the demo generator's record.

The generator records, in Python and without running any SQL, which people each segment must
hold on each side and why they differ. These tests run the shipped config's SQL on SQLite,
PostgreSQL and MariaDB, read the sandbox over loopback HTTP, and hold every count and every
differing person to that record. Exit codes 0/1/3 are checked on the same real parts.
"""

from __future__ import annotations

import csv
import json
from dataclasses import replace
from datetime import datetime, timezone

import pytest

from reconcile.audit import run_audit
from reconcile.cli import main
from reconcile.demo import build_demo
from reconcile.demo.runner import demo_config
from reconcile.sandbox import Sandbox, Workspace

from demo_project import assert_matches_record

AS_OF = datetime(2026, 11, 28, 9, 30, tzinfo=timezone.utc)


def test_demo_command_reports_exactly_what_the_generator_injected(tmp_path, capsys):
    out = tmp_path / "run"
    code = main(["demo", "--out", str(out), "--as-of", AS_OF.isoformat()])
    assert code == 1                                              # drifted on purpose: out of tolerance
    results = json.loads((out / "results.json").read_text())
    record = json.loads((out / "demo-record.json").read_text())
    with open(out / "discrepancies.csv", newline="") as handle:
        rows = list(csv.DictReader(handle))
    assert results["status"] == "fail" and results["as_of"] == AS_OF.isoformat()
    assert len(results["segments"]) == 5
    assert_matches_record(results, rows, record)
    assert (out / "report.html").stat().st_size > 0
    assert (out.stat().st_mode & 0o777) == 0o700
    assert "FAIL: 5 failed, 0 could not be compared" in capsys.readouterr().out


@pytest.mark.parametrize("server", ["pg_url", "mysql_url"])
def test_the_same_audit_with_the_shop_in_a_server_database(server, request):
    url = request.getfixturevalue(server)
    demo = build_demo(url, as_of=AS_OF)
    with Sandbox(Workspace.from_dict(demo.workspace), api_key=demo.api_key) as sandbox:
        config = demo_config(url, sandbox.url)
        config = replace(config, checks=None, purchases=None)   # about segments; checks and purchases have their own
        run = run_audit(config, as_of=AS_OF)
    rows = run.discrepancies().astype(object).where(run.discrepancies().notna(), "").to_dict("records")
    assert_matches_record(run.to_dict(), rows, json.loads(json.dumps(demo.record.to_dict(), default=str)))


def tiny_workspace(members: list[str]) -> dict:
    people = [{"cio_id": f"c{i}", "id": str(i), "email": f"p{i}@x.com", "attributes": {}, "unsubscribed": False}
              for i in range(1, 6)]
    segment = {"id": 7, "name": "buyers", "description": "", "state": "finished", "progress": None,
               "type": "dynamic", "tags": None, "created_at": 1, "updated_at": 1, "members": members}
    return {"identifiers": "email_or_id", "people": people, "segments": [segment]}


def write_config(tmp_path, base_url: str, segment_ids: list[int]) -> str:
    (tmp_path / "shop.db").unlink(missing_ok=True)
    import sqlite3
    with sqlite3.connect(tmp_path / "shop.db") as db:
        db.execute("CREATE TABLE customers (id INTEGER PRIMARY KEY, email TEXT)")
        db.executemany("INSERT INTO customers VALUES (?, ?)", [(i, f"p{i}@x.com") for i in (1, 2, 3, 4)])
    segments = "".join(f"""
[[segments]]
name = "s{n}"
customerio_segment_id = {sid}
tolerance = 0.25
sql = "SELECT id, email FROM customers"
""" for n, sid in enumerate(segment_ids))
    config = tmp_path / "config.toml"
    config.write_text(f"""
[database]
url = "sqlite:///shop.db"
[customerio]
base_url = "{base_url}"
app_api_key = "test-key"
max_retries = 1
{segments}""")
    return str(config)


@pytest.mark.parametrize("members, expected_code, status", [
    (["c1", "c2", "c3", "c4"], 0, "pass"),              # exact
    (["c1", "c2", "c3", "c5"], 1, "fail"),              # 1 missing + 1 extra of 4 = 50 % > 25 %
    (["c1", "c2", "c3"], 0, "pass"),                    # 1 missing of 4 = 25 %: within tolerance
])
def test_exit_codes_0_and_1(tmp_path, capsys, members, expected_code, status):
    with Sandbox(Workspace.from_dict(tiny_workspace(members)), api_key="test-key") as sandbox:
        config = write_config(tmp_path, sandbox.url, [7])
        assert main(["run", "--config", config, "--out", str(tmp_path / "out")]) == expected_code
    results = json.loads((tmp_path / "out" / "results.json").read_text())
    assert results["status"] == status == results["segments"][0]["status"]


def test_exit_3_wins_and_the_other_segments_are_still_reconciled(tmp_path, capsys):
    with Sandbox(Workspace.from_dict(tiny_workspace(["c1", "c2", "c3", "c5"])), api_key="test-key") as sandbox:
        config = write_config(tmp_path, sandbox.url, [7, 99])
        assert main(["run", "--config", config, "--out", str(tmp_path / "out")]) == 3
    results = json.loads((tmp_path / "out" / "results.json").read_text())
    failed, unknown = results["segments"]
    assert results["status"] == "error"
    assert (failed["status"], failed["missing_in_customerio"], failed["extra_in_customerio"]) == ("fail", 1, 1)
    assert unknown["status"] == "error" and unknown["truth_count"] is None
    assert "99" in unknown["error"] and "\n" not in unknown["error"]
    assert "could not be compared" in capsys.readouterr().out
