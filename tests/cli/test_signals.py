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
from busy_database import SLOW, running, wait_until, with_customers
from known_stage import BUYERS, config_text, sandbox, stage  # noqa: F401 (fixtures)

HERE = str(Path(__file__).parents[2])


@pytest.fixture(params=["postgresql", "mariadb"])
def slow_shop(request):
    """(dialect, URL) of a fresh database with a customers table."""
    url = request.getfixturevalue("pg_url" if request.param == "postgresql" else "mysql_url")
    return request.param, with_customers(url)


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
        wait_until(lambda: running(url, dialect))
        run.send_signal(stop)
        wait_until(lambda: not running(url, dialect), limit=10)   # long before the 60 s query ends
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
