"""Messages name the real cause: a query an operator cancelled, a session that was ended, an
identifier the staging table cannot hold, and a 429 that is a quota, not the per-second limit.
Each is a segment error (exit 3) whose one line says what happened and what to do."""

from __future__ import annotations

import threading
from datetime import datetime, timezone

import pytest

from reconcile.audit import run_audit
from reconcile.config import load_config
from reconcile.sandbox import Sandbox, Workspace

from busy_database import SLOW, stop_when_running, with_customers
from known_stage import BUYERS, config_text, fast_retries, sandbox, stage, write_config  # noqa: F401 (fixtures)

pytestmark = pytest.mark.usefixtures("fast_retries")
AS_OF = datetime(2026, 11, 28, 12, 0, tzinfo=timezone.utc)


@pytest.fixture(params=["postgresql", "mariadb"])
def busy_shop(request):
    url = request.getfixturevalue("pg_url" if request.param == "postgresql" else "mysql_url")
    return request.param, with_customers(url)


def segment_error(config_path) -> str:
    run = run_audit(load_config(config_path), as_of=AS_OF)
    [segment] = run.segments
    assert segment.status == "error" and run.status == "error"      # exit 3, never a verdict
    assert "\n" not in segment.error
    return segment.error


@pytest.mark.parametrize("how, said", [
    ("cancelled", "the truth SQL was cancelled on the server ("),
    ("lost", "was lost while the truth SQL ran ("),
])
def test_an_operator_stopping_the_query_is_named(busy_shop, stage, sandbox, tmp_path, how, said):
    dialect, url = busy_shop
    config = write_config(tmp_path, url, sandbox.url, segment_id=BUYERS, sql=SLOW[dialect])
    operator = threading.Thread(target=stop_when_running, args=(url, dialect, how))
    operator.start()
    error = segment_error(config)
    operator.join()
    assert said in error and error.startswith("segment buyers: ")
    assert "statement_timeout" not in error and "internal error" not in error
    if how == "cancelled":
        assert error.endswith("re-run, and find who cancels reconcile's queries if it repeats")
    else:
        assert error.endswith("the server restarted or an operator ended the session: check the server's log, then re-run")


@pytest.mark.parametrize("dialect, member_id, said", [
    ("postgresql", "7\x00", "a Customer.io identifier holds a NUL character (0x00), which postgresql cannot store"),
    ("mariadb", "7" * 513, "a Customer.io identifier is longer than the 512 characters the staging table holds"),
], ids=["NUL on PostgreSQL", "513 characters on MariaDB"])
def test_an_identifier_the_staging_table_cannot_hold_is_named(request, tmp_path, dialect, member_id, said):
    url = with_customers(request.getfixturevalue("pg_url" if dialect == "postgresql" else "mysql_url"))
    workspace = Workspace("email_or_id")
    workspace.add_person("cio1", "1", "p1@shop.example")
    workspace.add_person("cio7", member_id, "p7@shop.example")
    workspace.add_segment(BUYERS, "Buyers", ["cio1", "cio7"])
    with Sandbox(workspace, api_key="k", rate_limit=None) as served:
        config = tmp_path / "config.toml"
        config.write_text(config_text(url, served.url, key="k", sql="SELECT id, email FROM customers",
                                      extra='diff = "database"\n'), encoding="utf-8")
        error = segment_error(config)
    assert error.startswith(f"segment buyers: {said}")
    assert error.endswith('set diff = "memory" for this segment' + (", or fix that profile" if dialect == "postgresql" else ""))
    assert "TEMPORARY" not in error


def test_a_daily_quota_is_not_called_the_per_second_limit(stage, sandbox, tmp_path):
    sandbox.inject("status", status=429, path=r"/membership$", times=1_000, headers={},
                   body={"meta": {"error": "Daily request quota exceeded for this workspace"}})
    error = segment_error(write_config(tmp_path, stage[0], sandbox.url))
    assert "with no Retry-After and without naming the per-second limit" in error
    assert "(a quota: Daily request quota exceeded for this workspace)" in error
    assert error.endswith("check the workspace's API usage in Customer.io, then re-run once it resets")
