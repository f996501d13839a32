"""Truth segments on real SQLite, PostgreSQL and MariaDB: parameters, people-not-rows, read-only."""

from __future__ import annotations

import pytest
from sqlalchemy import create_engine, func, select

from reconcile.config import DatabaseConfig, SegmentConfig
from reconcile.errors import ConfigError, DatabaseError
from reconcile.shop import open_engine, run_truth

from known_shop import AS_OF, build_shop, customers


def _segment(sql: str, name: str = "buyers", window_days: float = 30) -> SegmentConfig:
    return SegmentConfig(name=name, customerio_segment_id=1, sql=sql, window_days=window_days)


SQL_BY_DATETIME = """
SELECT c.id, c.email, c.code, o.completed_at FROM customers c JOIN orders o ON o.customer_id = c.id
WHERE o.completed_at >= :window_start AND o.completed_at < :as_of AND c.email_consent
ORDER BY o.id
"""
SQL_BY_EPOCH = """
SELECT c.id, c.email FROM customers c JOIN orders o ON o.customer_id = c.id
WHERE o.completed_epoch >= :window_start_epoch AND o.completed_epoch < :as_of_epoch AND c.email_consent
"""


def test_window_parameters_and_people_not_rows(any_db_url):
    build_shop(any_db_url)
    engine = open_engine(DatabaseConfig(url=any_db_url))
    try:
        truth = run_truth(engine, _segment(SQL_BY_DATETIME), "id", AS_OF, partition_rows=2)
        assert sorted(truth.keys) == ["1", "2", "4", "6"]       # integer ids become exact strings
        assert truth.rows_read == 6                              # customer 1 returned once per order
        assert truth.rows_without_key == 0
        epoch = run_truth(engine, _segment(SQL_BY_EPOCH), "id", AS_OF)
        assert sorted(epoch.keys) == ["1", "2", "4", "6"]
        by_email = run_truth(engine, _segment(SQL_BY_DATETIME), "email", AS_OF)
        assert sorted(by_email.keys) == ["a@x.com", "b@x.com", "d@x.com", "f@x.com"]
    finally:
        engine.dispose()


def test_string_ids_keep_leading_zeros_and_keyless_rows_are_counted(any_db_url):
    build_shop(any_db_url)
    engine = open_engine(DatabaseConfig(url=any_db_url))
    try:
        sql = "SELECT code AS id, email FROM customers WHERE email_consent ORDER BY id"
        truth = run_truth(engine, _segment(sql), "id", AS_OF)
        assert sorted(truth.keys) == ["000417", "000418", "000419", "000422"]
        assert truth.rows_without_key == 1 and truth.rows_read == 5
        assert truth.people.loc["000417", "email"] == "a@x.com"   # evidence columns are kept
    finally:
        engine.dispose()


def test_missing_key_column_and_sql_errors_are_one_line(any_db_url):
    build_shop(any_db_url)
    engine = open_engine(DatabaseConfig(url=any_db_url))
    try:
        with pytest.raises(DatabaseError) as caught:
            run_truth(engine, _segment("SELECT email FROM customers"), "id", AS_OF)
        assert str(caught.value) == ('segment buyers: the truth SQL returns no column named "id" (identity.key); '
                                     "it returns email; select the customer's id AS id")
        with pytest.raises(DatabaseError) as caught:
            run_truth(engine, _segment("SELEC id FROM customers"), "id", AS_OF)
        assert str(caught.value).startswith("segment buyers: the truth SQL failed:")
        assert "\n" not in str(caught.value)
        with pytest.raises(ConfigError, match="uses unknown parameter :since"):
            run_truth(engine, _segment("SELECT id FROM customers WHERE id > :since"), "id", AS_OF)
    finally:
        engine.dispose()


WRITES = {
    "sqlite": "DELETE FROM customers RETURNING id",
    "postgresql": "SELECT wipe_customers() AS id",   # a function whose body deletes
    "mysql": "DELETE FROM customers RETURNING id",
}


def test_a_query_that_writes_is_refused_and_the_shop_is_unchanged(any_db_url):
    build_shop(any_db_url)
    if any_db_url.startswith("postgresql"):
        setup = create_engine(any_db_url)
        with setup.begin() as conn:
            conn.exec_driver_sql("CREATE FUNCTION wipe_customers() RETURNS integer AS "
                                 "$$ DELETE FROM customers; SELECT 1 $$ LANGUAGE sql")
        setup.dispose()
    engine = open_engine(DatabaseConfig(url=any_db_url))
    try:
        with pytest.raises(DatabaseError) as caught:
            run_truth(engine, _segment(WRITES[engine.dialect.name]), "id", AS_OF)
        assert "tried to write, and reconcile only reads" in str(caught.value)
    finally:
        engine.dispose()
    check = create_engine(any_db_url)
    with check.connect() as conn:
        assert conn.execute(select(func.count()).select_from(customers)).scalar_one() == 6
    check.dispose()


def test_unreachable_database_and_bad_credentials():
    unreachable = open_engine(DatabaseConfig(url="postgresql+psycopg://nobody:pw-not-shown@127.0.0.1:1/shop"))
    with pytest.raises(DatabaseError) as caught:
        run_truth(unreachable, _segment("SELECT 1 AS id"), "id", AS_OF)
    message = str(caught.value)
    assert "cannot connect to postgresql+psycopg://nobody:***@127.0.0.1:1/shop" in message
    assert "pw-not-shown" not in message
    bad_user = open_engine(DatabaseConfig(url="mysql+pymysql://nobody:pw-not-shown@127.0.0.1:3306/test"))
    with pytest.raises(DatabaseError) as caught:
        run_truth(bad_user, _segment("SELECT 1 AS id"), "id", AS_OF)
    assert "refused the credentials" in str(caught.value) and "pw-not-shown" not in str(caught.value)
