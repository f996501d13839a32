"""How long a signal takes to stop reconcile's query on the database server, beside a floor
measured in the same run: the same query cancelled from another connection
(``pg_cancel_backend`` on PostgreSQL, ``KILL QUERY`` on MariaDB).

A real ``reconcile run`` subprocess starts a truth query that sleeps for a minute; once the
server shows it, SIGTERM is sent, and the time until the server shows no query of ours is
taken, then the time until the process has exited. Scratch databases are created and dropped.

    .venv/bin/python benchmarks/bench_interrupt.py --runs 7
"""

from __future__ import annotations

import argparse
import os
import signal
import statistics
import subprocess
import sys
import tempfile
import threading
import time
import uuid
from pathlib import Path

from sqlalchemy import create_engine, text

from reconcile.sandbox import Sandbox, Workspace

ROOT = Path(__file__).resolve().parents[1]
ADMIN = {"postgresql": "postgresql+psycopg://postgres@127.0.0.1:5432/test",
         "mariadb": "mysql+pymysql://root@127.0.0.1:3306/test"}
SLOW = {"postgresql": "SELECT c.id, c.email FROM customers c CROSS JOIN (SELECT pg_sleep(60)) AS q",
        "mariadb": "SELECT c.id, c.email FROM customers c CROSS JOIN (SELECT SLEEP(60) AS s) AS q"}
RUNNING = {"postgresql": "SELECT pid FROM pg_stat_activity WHERE datname = current_database() "
                         "AND pid <> pg_backend_pid() AND state = 'active'",
           "mariadb": "SELECT id FROM information_schema.processlist WHERE db = DATABASE() "
                      "AND id <> CONNECTION_ID() AND command = 'Query'"}
CANCEL = {"postgresql": "SELECT pg_cancel_backend({})", "mariadb": "KILL QUERY {}"}


def scratch(dialect: str) -> str:
    admin = create_engine(ADMIN[dialect], isolation_level="AUTOCOMMIT")
    name = f"reconcile_b_{uuid.uuid4().hex[:10]}"
    with admin.connect() as conn:
        conn.execute(text(f"CREATE DATABASE {name}"))
    url = admin.url.set(database=name).render_as_string(hide_password=False)
    with create_engine(url).begin() as conn:
        conn.execute(text("CREATE TABLE customers (id INTEGER PRIMARY KEY, email VARCHAR(200))"))
        conn.execute(text("INSERT INTO customers VALUES (1, 'p1@shop.example')"))
    return url


def drop(dialect: str, url: str) -> None:
    name = url.rsplit("/", 1)[1]
    with create_engine(ADMIN[dialect], isolation_level="AUTOCOMMIT").connect() as conn:
        conn.execute(text(f"DROP DATABASE IF EXISTS {name}" + (" WITH (FORCE)" if dialect == "postgresql" else "")))


def ours(probe, dialect: str) -> list[int]:
    return [row[0] for row in probe.execute(text(RUNNING[dialect]))]


def wait_for(condition, limit: float = 60.0) -> None:
    deadline = time.monotonic() + limit
    while not condition():
        if time.monotonic() > deadline:
            raise SystemExit("bench_interrupt: the server never showed what was waited for")
        time.sleep(0.001)


def by_signal(dialect: str, url: str, sandbox: Sandbox, folder: Path) -> tuple[float, float]:
    """(seconds from SIGTERM until no query of ours, seconds until the process exited)."""
    config = folder / "config.toml"
    config.write_text(f'[database]\nurl = "{url}"\n[customerio]\nbase_url = "{sandbox.url}"\napp_api_key = "k"\n'
                      f'[[segments]]\nname = "b"\ncustomerio_segment_id = 1\nsql = """{SLOW[dialect]}"""\n')
    run = subprocess.Popen([sys.executable, "-m", "reconcile", "run", "--config", str(config), "--quiet"],
                           stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, env={**os.environ, "PYTHONPATH": str(ROOT)})
    engine = create_engine(url, isolation_level="AUTOCOMMIT")
    with engine.connect() as probe:
        wait_for(lambda: ours(probe, dialect))
        sent = time.perf_counter()
        run.send_signal(signal.SIGTERM)
        wait_for(lambda: not ours(probe, dialect))
        gone = time.perf_counter() - sent
    run.wait(timeout=30)
    engine.dispose()
    return gone, time.perf_counter() - sent


def by_operator(dialect: str, url: str) -> float:
    """Seconds from a cancel sent over another connection until the server shows no such query."""
    engine = create_engine(url, isolation_level="AUTOCOMMIT")
    slow = threading.Thread(target=lambda: _swallow(engine, SLOW[dialect]))
    slow.start()
    with engine.connect() as probe:
        wait_for(lambda: ours(probe, dialect))
        [busy] = ours(probe, dialect)
        sent = time.perf_counter()
        probe.execute(text(CANCEL[dialect].format(busy)))
        wait_for(lambda: not ours(probe, dialect))
        gone = time.perf_counter() - sent
    slow.join()
    engine.dispose()
    return gone


def _swallow(engine, sql: str) -> None:
    try:
        with engine.connect() as conn:
            conn.execute(text(sql)).fetchall()
    except Exception:
        pass                                                    # the cancel is the point


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=7)
    args = parser.parse_args()
    workspace = Workspace("email_or_id")
    workspace.add_person("cio1", "1", "p1@shop.example")
    workspace.add_segment(1, "b", ["cio1"])
    print(f"{'database':<11} {'signal → no query':>18} {'max':>8} {'exit':>8} {'floor':>8} {'ratio':>6}"
          f"   (median of {args.runs}, ms)")
    with Sandbox(workspace, api_key="k", rate_limit=None) as sandbox, tempfile.TemporaryDirectory() as folder:
        for dialect in ("postgresql", "mariadb"):
            url = scratch(dialect)
            try:
                signalled = [by_signal(dialect, url, sandbox, Path(folder)) for _ in range(args.runs)]
                floor = statistics.median(by_operator(dialect, url) for _ in range(args.runs))
            finally:
                drop(dialect, url)
            gone = statistics.median(g for g, _ in signalled)
            print(f"{dialect:<11} {gone * 1000:>18.1f} {max(g for g, _ in signalled) * 1000:>8.1f} "
                  f"{statistics.median(e for _, e in signalled) * 1000:>8.1f} {floor * 1000:>8.1f} "
                  f"{gone / floor if floor else float('nan'):>6.1f}")


if __name__ == "__main__":
    main()
