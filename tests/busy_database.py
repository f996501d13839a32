"""A database busy with one of reconcile's queries, for the tests that stop or cancel it: a
customers table, a truth query that sleeps for a minute, and what the server shows of ours."""

from __future__ import annotations

import time

from sqlalchemy import create_engine, text

SLOW = {   # a truth query that runs for a minute unless something stops it
    "postgresql": "SELECT c.id, c.email FROM customers c CROSS JOIN (SELECT pg_sleep(60)) AS slow",
    "mariadb": "SELECT c.id, c.email FROM customers c CROSS JOIN (SELECT SLEEP(60) AS s) AS slow",
}
RUNNING = {   # the sessions running a query on the test's own database (a server-side cursor shows as FETCH)
    "postgresql": "SELECT pid FROM pg_stat_activity WHERE datname = current_database() "
                  "AND pid <> pg_backend_pid() AND state = 'active'",
    "mariadb": "SELECT id FROM information_schema.processlist WHERE db = DATABASE() "
               "AND id <> CONNECTION_ID() AND command = 'Query'",
}
STOP = {   # what an operator runs from another session: ("cancelled", "lost") by dialect
    "postgresql": {"cancelled": "SELECT pg_cancel_backend({})", "lost": "SELECT pg_terminate_backend({})"},
    "mariadb": {"cancelled": "KILL QUERY {}", "lost": "KILL CONNECTION {}"},
}


def with_customers(url: str) -> str:
    engine = create_engine(url)
    with engine.begin() as conn:
        conn.execute(text("CREATE TABLE customers (id INTEGER PRIMARY KEY, email VARCHAR(200))"))
        conn.execute(text("INSERT INTO customers VALUES (1, 'p1@shop.example'), (2, 'p2@shop.example')"))
    engine.dispose()
    return url


def running(url: str, dialect: str) -> list[int]:
    """The sessions with a query of ours running on ``url``'s database."""
    engine = create_engine(url)
    try:
        with engine.connect() as conn:
            return [row[0] for row in conn.execute(text(RUNNING[dialect]))]
    finally:
        engine.dispose()


def stop_when_running(url: str, dialect: str, how: str) -> None:
    """Wait until a query of ours runs, then cancel it (``"cancelled"``) or end its session (``"lost"``)."""
    wait_until(lambda: running(url, dialect))
    [busy] = running(url, dialect)
    engine = create_engine(url, isolation_level="AUTOCOMMIT")
    with engine.connect() as conn:
        conn.execute(text(STOP[dialect][how].format(busy)))
    engine.dispose()


def wait_until(condition, limit: float = 30.0, step: float = 0.02) -> float:
    """Seconds until ``condition()`` held (a hang guard, not a measurement: benchmarks/ measures)."""
    start = time.monotonic()
    while not condition():
        assert time.monotonic() - start < limit, "the condition never held"
        time.sleep(step)
    return time.monotonic() - start
