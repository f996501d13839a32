"""Shared fixtures: real databases, each test's own, dropped afterwards.

PostgreSQL (127.0.0.1:5432, trust auth) and MariaDB (127.0.0.1:3306, root, no password) run
on this machine and in CI; every test that uses them creates a uniquely named database and
drops it, so nothing depends on what an earlier run left behind.
"""

from __future__ import annotations

import os
import uuid
from contextlib import contextmanager

import pytest
from sqlalchemy import create_engine, make_url, text

PG_ADMIN_URL = os.environ.get("RECONCILE_TEST_PG", "postgresql+psycopg://postgres@127.0.0.1:5432/test")
MYSQL_ADMIN_URL = os.environ.get("RECONCILE_TEST_MYSQL", "mysql+pymysql://root@127.0.0.1:3306/test")


def _scratch_database(admin_url: str, quote: str):
    name = f"reconcile_t_{uuid.uuid4().hex[:12]}"
    admin = create_engine(admin_url, isolation_level="AUTOCOMMIT")
    with admin.connect() as conn:
        conn.execute(text(f"CREATE DATABASE {quote}{name}{quote}"))
    url = admin.url.set(database=name).render_as_string(hide_password=False)
    try:
        yield url
    finally:
        with admin.connect() as conn:
            if admin.dialect.name == "postgresql":
                conn.execute(text(f"DROP DATABASE IF EXISTS {name} WITH (FORCE)"))
            else:
                conn.execute(text(f"DROP DATABASE IF EXISTS {quote}{name}{quote}"))
        admin.dispose()


@pytest.fixture
def pg_url():
    """URL of a fresh PostgreSQL database, dropped after the test."""
    yield from _scratch_database(PG_ADMIN_URL, '"')


@pytest.fixture
def mysql_url():
    """URL of a fresh MariaDB database, dropped after the test."""
    yield from _scratch_database(MYSQL_ADMIN_URL, "`")


@pytest.fixture
def sqlite_url(tmp_path):
    return f"sqlite:///{tmp_path / 'shop.db'}"


@pytest.fixture(params=["sqlite", "postgresql", "mariadb"])
def any_db_url(request, tmp_path):
    """The same test on SQLite, PostgreSQL and MariaDB."""
    if request.param == "sqlite":
        yield f"sqlite:///{tmp_path / 'shop.db'}"
    elif request.param == "postgresql":
        yield from _scratch_database(PG_ADMIN_URL, '"')
    else:
        yield from _scratch_database(MYSQL_ADMIN_URL, "`")


@contextmanager
def role_without_temporary(pg_url: str, table: str):
    """The URL of a login role that may read ``table`` of ``pg_url``'s database but not create
    temporary tables there (TEMPORARY revoked from PUBLIC); the role is dropped afterwards."""
    role, database_name = f"reconcile_ro_{uuid.uuid4().hex[:8]}", make_url(pg_url).database
    admin = create_engine(pg_url, isolation_level="AUTOCOMMIT")
    with admin.connect() as conn:
        conn.execute(text(f"CREATE ROLE {role} LOGIN"))
        conn.execute(text(f'REVOKE TEMPORARY ON DATABASE "{database_name}" FROM PUBLIC'))
        conn.execute(text(f"GRANT SELECT ON {table} TO {role}"))
    try:
        yield make_url(pg_url).set(username=role).render_as_string(hide_password=False)
    finally:
        with admin.connect() as conn:
            conn.execute(text(f"DROP OWNED BY {role}"))
            conn.execute(text(f"DROP ROLE {role}"))
        admin.dispose()
