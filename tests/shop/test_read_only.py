"""Read-only by construction, the parts test_truth.py does not cover: the statement timeout
through a real run, and the diagnosis' lookup query (``lookup_sql``) refused when it writes."""

from __future__ import annotations

import json
from datetime import datetime, timezone

import pytest
from sqlalchemy import create_engine, func, select

from reconcile.cli import main
from reconcile.config import DatabaseConfig
from reconcile.shop import Window
from reconcile.shop.lookup import lookup_people
from reconcile.errors import DatabaseError
from reconcile.shop import open_engine

from known_stage import config_text, fast_retries, sandbox, stage  # noqa: F401 (fixtures)
from known_shop import build_shop, customers

AS_OF = datetime(2026, 11, 28, 12, 0, tzinfo=timezone.utc)
SLOW = {
    "postgresql": "SELECT c.id FROM customers c, pg_sleep(5)",
    "sqlite": ("WITH RECURSIVE n(i) AS (SELECT 1 UNION ALL SELECT i + 1 FROM n) "
               "SELECT c.id FROM customers c JOIN (SELECT max(i) AS m FROM n) ON 1 = 1"),
}


@pytest.mark.usefixtures("fast_retries")
@pytest.mark.parametrize("dialect", SLOW)
def test_a_query_past_the_statement_timeout_is_a_segment_error(dialect, request, sandbox, tmp_path, capsys):
    url = request.getfixturevalue("pg_url" if dialect == "postgresql" else "sqlite_url")
    build_shop(url)
    config = tmp_path / "config.toml"
    config.write_text(config_text(url, sandbox.url, sql=SLOW[dialect], database="statement_timeout_seconds = 1"))
    assert main(["run", "--config", str(config), "--out", str(tmp_path / "out"), "--quiet"]) == 3
    segment = json.loads((tmp_path / "out" / "results.json").read_text())["segments"][0]
    assert segment["status"] == "error" and segment["truth_count"] is None
    assert segment["error"].startswith("segment buyers: the truth SQL ran past database.statement_timeout_seconds (")
    assert segment["error"].endswith("); speed it up or raise the limit") and "\n" not in segment["error"]
    assert "Traceback" not in capsys.readouterr().err


LOOKUP_WRITES = {
    "sqlite": "DELETE FROM customers WHERE id IN :ids OR 1 = 1 RETURNING id",
    "postgresql": "SELECT wipe_customers() AS id FROM customers WHERE CAST(id AS TEXT) IN :ids",
    "mysql": "DELETE FROM customers WHERE id IN :ids OR 1 = 1 RETURNING id",
}


def test_a_lookup_query_that_writes_is_refused_and_the_shop_is_unchanged(any_db_url):
    build_shop(any_db_url)
    setup = create_engine(any_db_url)
    if setup.dialect.name == "postgresql":
        with setup.begin() as conn:
            conn.exec_driver_sql("CREATE FUNCTION wipe_customers() RETURNS integer AS "
                                 "$$ DELETE FROM customers; SELECT 1 $$ LANGUAGE sql")
    engine = open_engine(DatabaseConfig(url=any_db_url))
    try:
        with pytest.raises(DatabaseError) as caught:
            lookup_people(engine, LOOKUP_WRITES[engine.dialect.name], ["1", "2"], [], Window.ending(AS_OF, 30))
        message = str(caught.value)
        assert message.startswith("the diagnosis lookup_sql failed: ") and "\n" not in message
        assert any(word in message.lower() for word in ("read-only", "read only", "readonly"))
    finally:
        engine.dispose()
    with setup.connect() as conn:
        assert conn.execute(select(func.count()).select_from(customers)).scalar_one() == 6
    setup.dispose()


PUSHDOWN_WRITES = {"sqlite": "SELECT id FROM customers WHERE (DELETE FROM customers) IS NULL",
                   "postgresql": "SELECT wipe_customers() AS id",          # a function whose body deletes
                   "mysql": "SELECT id FROM customers FOR UPDATE"}          # a locking read


@pytest.mark.usefixtures("fast_retries")
def test_the_pushdown_diff_runs_the_truth_read_only_too(any_db_url, sandbox, tmp_path):
    """``diff = "database"`` writes only its own TEMPORARY tables; the truth SQL still cannot write."""
    build_shop(any_db_url)
    setup = create_engine(any_db_url)
    dialect = setup.dialect.name
    if dialect == "postgresql":
        with setup.begin() as conn:
            conn.exec_driver_sql("CREATE FUNCTION wipe_customers() RETURNS integer AS "
                                 "$$ DELETE FROM customers; SELECT 1 $$ LANGUAGE sql")
    config = tmp_path / "config.toml"
    config.write_text(config_text(any_db_url, sandbox.url, sql=PUSHDOWN_WRITES[dialect], extra='diff = "database"\n'))
    assert main(["run", "--config", str(config), "--out", str(tmp_path / "out"), "--quiet"]) == 3
    segment = json.loads((tmp_path / "out" / "results.json").read_text())["segments"][0]
    assert segment["status"] == "error" and segment["error"].startswith("segment buyers: ")
    if dialect != "sqlite":          # (in SQLite a SELECT cannot hold a write at all: a syntax error)
        assert "the truth SQL tried to write, and reconcile only reads" in segment["error"]
    with setup.connect() as conn:
        assert conn.execute(select(func.count()).select_from(customers)).scalar_one() == 6
    setup.dispose()
