"""Signals stop work where it runs: SIGTERM (systemd's stop) and SIGINT (Ctrl-C) sent to a real
``reconcile run`` cancel its query on the database server and abandon the API call in flight,
leave no folder, and exit 143 or 130 with one line."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest
from sqlalchemy import create_engine, text

from known_stage import BUYERS, PAGE, config_text, fast_retries, sandbox, stage  # noqa: F401 (fixtures)

HERE = str(Path(__file__).parents[2])
SLOW = {   # a truth query that runs for a minute unless cancelled; the marker finds it on the server
    "postgresql": "SELECT c.id, c.email FROM customers c CROSS JOIN (SELECT pg_sleep(60)) AS slow_marker_q",
    "mariadb": "SELECT c.id, c.email FROM customers c CROSS JOIN (SELECT SLEEP(60) AS s) AS slow_marker_q",
}
RUNNING = {   # any query of ours on the test's own database (a server-side cursor shows as FETCH on PostgreSQL)
    "postgresql": "SELECT count(*) FROM pg_stat_activity WHERE datname = current_database() "
                  "AND pid <> pg_backend_pid() AND state = 'active'",
    "mariadb": "SELECT count(*) FROM information_schema.processlist WHERE db = DATABASE() "
               "AND id <> CONNECTION_ID() AND command = 'Query'",
}


@pytest.fixture(params=["postgresql", "mariadb"])
def slow_shop(request, tmp_path):
    """(dialect, URL) of a fresh database with a customers table."""
    url_fixture = "pg_url" if request.param == "postgresql" else "mysql_url"
    url = request.getfixturevalue(url_fixture)
    engine = create_engine(url)
    with engine.begin() as conn:
        conn.execute(text("CREATE TABLE customers (id INTEGER PRIMARY KEY, email VARCHAR(200))"))
        conn.execute(text("INSERT INTO customers VALUES (1, 'p1@shop.example'), (2, 'p2@shop.example')"))
    engine.dispose()
    return request.param, url


def running_queries(url: str, dialect: str) -> int:
    engine = create_engine(url)
    try:
        with engine.connect() as conn:
            return conn.execute(text(RUNNING[dialect])).scalar_one()
    finally:
        engine.dispose()


def wait_until(condition, limit: float = 30.0, step: float = 0.02) -> float:
    """Seconds until ``condition()`` held (a hang guard, not a measurement: benchmarks/ measures)."""
    start = time.monotonic()
    while not condition():
        assert time.monotonic() - start < limit, "the condition never held"
        time.sleep(step)
    return time.monotonic() - start


def start_run(tmp_path: Path, url: str, base_url: str, sql: str) -> subprocess.Popen:
    config = tmp_path / "config.toml"
    config.write_text(config_text(url, base_url, segment_id=BUYERS, sql=sql), encoding="utf-8")
    return subprocess.Popen([sys.executable, "-m", "reconcile", "run", "--config", str(config), "--quiet"],
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
                            env={**os.environ, "PYTHONPATH": HERE})


@pytest.mark.parametrize("stop, code", [(signal.SIGTERM, 143), (signal.SIGINT, 130)], ids=["SIGTERM", "SIGINT"])
def test_a_signal_cancels_the_query_on_the_server(slow_shop, stage, sandbox, tmp_path, stop, code):
    dialect, url = slow_shop
    run = start_run(tmp_path, url, sandbox.url, SLOW[dialect])
    try:
        wait_until(lambda: running_queries(url, dialect) == 1)
        run.send_signal(stop)
        wait_until(lambda: running_queries(url, dialect) == 0, limit=10)   # long before the 60 s query ends
        out, err = run.communicate(timeout=10)
    finally:
        run.kill()
    assert run.returncode == code
    assert err == f"reconcile: stopped by {stop.name}; the unfinished run left no report\n" and out == ""
    assert not (tmp_path / "reports").exists() or list((tmp_path / "reports").iterdir()) == []


def test_sigterm_abandons_an_api_call_that_never_answers(stage, sandbox, tmp_path):
    sandbox.inject("delay", path=r"/membership$", times=1, seconds=60)
    run = start_run(tmp_path, stage[0], sandbox.url, "SELECT id, email FROM customers")
    try:
        wait_until(lambda: any(r.path.endswith("/membership") for r in list(sandbox.requests)))
        time.sleep(0.2)                                      # the call is in flight, its answer 60 s away
        run.send_signal(signal.SIGTERM)
        out, err = run.communicate(timeout=10)
    finally:
        run.kill()
    assert run.returncode == 143
    assert err == "reconcile: stopped by SIGTERM; the unfinished run left no report\n"
    assert not (tmp_path / "reports").exists() or list((tmp_path / "reports").iterdir()) == []
