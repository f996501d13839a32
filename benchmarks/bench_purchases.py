"""Purchases benchmark: every order against its purchase event, as SQL in PostgreSQL, against a floor.

One command (PostgreSQL at 127.0.0.1:5432 as ``postgres``, trust auth, as in the tests)::

    .venv/bin/python benchmarks/bench_purchases.py                 # 1,000,000 orders, 1,000,000 events
    .venv/bin/python benchmarks/bench_purchases.py --orders 200000 --memory

It

1. builds a scratch PostgreSQL database (COPY; dropped afterwards) with N orders over the last
   week and N ``order_completed`` events in an outbox table (the order_id and revenue in JSON
   text properties, the time as unix seconds, every 100th in milliseconds), with known
   problems: every 200th order has no event and the next one two (so there are N events
   again), and every 1000th order from the 2nd, 3rd and 4th on has its event under another
   customer, its revenue in cents, or its event an hour late;
2. measures the floor: one ``COUNT(*)`` over the join of the two tables on the event's
   order_id (``properties::jsonb ->> 'order_id' = order_id``), the least any comparison must do
   (the best of three, so that it too reads cached tables);
3. runs the comparison in a fresh process (``reconcile.purchases.compare_purchases``, the SQL in
   the database as with ``checks.engine = "database"``; ``--memory`` also runs it in Python) and
   reads that process's peak RSS (``VmHWM``);
4. prints the floor, the comparison's time, the ratio and the peak RSS, and OK when every
   problem count equals the injected one (MISMATCH otherwise).
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
import time
import uuid
from datetime import datetime, timezone
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from bench_scale import PG_ADMIN, _db_url, drop_shop as drop   # noqa: E402 - the same scratch database helpers

AS_OF = datetime(2026, 11, 28, 9, 0, tzinfo=timezone.utc)
WEEK = 7 * 86_400 - 600
FLOOR_SQL = ("SELECT COUNT(*) FROM orders o JOIN events e "
             "ON CAST(e.properties AS jsonb) ->> 'order_id' = o.order_id")


def expected(n: int) -> dict[str, int]:
    """The problems injected into n orders (see :func:`rows`)."""
    every = lambda step, start: len(range(start, n, step))   # noqa: E731 - a one-line count
    return {"missing_event": every(200, 0), "wrong_person": every(1000, 2), "duplicate_event": every(200, 1),
            "revenue_mismatch": every(1000, 3), "late_event": every(1000, 4), "orphan_event": 0}


def rows(n: int):
    """(orders COPY text, events COPY text) chunks: order r, completed r * WEEK / n seconds into the week."""
    start = int(AS_OF.timestamp()) - 7 * 86_400 + 300
    chunk, event = 200_000, 0
    for first in range(0, n, chunk):
        orders, events = [], []
        for r in range(first, min(n, first + chunk)):
            at = start + r * WEEK // n
            customer, revenue = r % 200_000 + 1, (r % 9000 + 100) / 100
            when = datetime.fromtimestamp(at, timezone.utc).isoformat()
            orders.append(f"ORD-{r:07d}\t{customer}\t{when}\t{revenue:.2f}\n")
            if r % 200 == 0:
                continue                                              # missing_event
            copies = 2 if r % 200 == 1 else 1                         # duplicate_event
            person = customer + 1 if r % 1000 == 2 else customer      # wrong_person
            sent = revenue * 100 if r % 1000 == 3 else revenue        # revenue_mismatch
            t = at + (3600 if r % 1000 == 4 else 30)                  # late_event
            for _ in range(copies):
                event += 1
                stamp = t * 1000 if event % 100 == 50 else t
                events.append(f"e{event:08d}\torder_completed\t{person}\t{stamp}\t"
                              f'{{"order_id": "ORD-{r:07d}", "revenue": {sent:.2f}}}\n')
        yield "".join(orders), "".join(events)


def build(n: int) -> str:
    import psycopg
    name = f"reconcile_bench_{uuid.uuid4().hex[:10]}"
    with psycopg.connect(PG_ADMIN, autocommit=True) as admin:
        admin.execute(f"CREATE DATABASE {name}")
    with psycopg.connect(_db_url(name), autocommit=True) as conn:
        conn.execute("CREATE TABLE orders (order_id text PRIMARY KEY, customer_id bigint, "
                     "completed_at timestamptz, revenue numeric(10, 2))")
        conn.execute("CREATE TABLE events (event_id text, name text, customer_id bigint, timestamp bigint, "
                     "properties text)")
        with conn.cursor() as cur:
            for orders, events in rows(n):
                with cur.copy("COPY orders FROM STDIN") as copy:
                    copy.write(orders)
                with cur.copy("COPY events (event_id, name, customer_id, timestamp, properties) FROM STDIN") as copy:
                    copy.write(events)
        conn.execute("VACUUM ANALYZE orders")
        conn.execute("VACUUM ANALYZE events")
    return name


def floor(db: str, tries: int = 3) -> tuple[float, int]:
    """Seconds for one COUNT(*) over the join of orders and events on the event's order_id: the
    best of ``tries`` (the first reads the freshly loaded tables from disk; the comparison then
    finds them cached)."""
    import psycopg
    best = float("inf")
    for _ in range(tries):
        started = time.perf_counter()
        with psycopg.connect(_db_url(db)) as conn:
            (count,), = conn.execute(FLOOR_SQL).fetchall()
        best = min(best, time.perf_counter() - started)
    return best, count


CONFIG = """
[database]
url = "{url}"
[customerio]
app_api_key = "bench-key"
base_url = "http://127.0.0.1:9"
[[segments]]
name = "unused"
customerio_segment_id = 1
sql = "SELECT 1 AS id"
[checks]
events_sql = "SELECT event_id, name, customer_id, NULL AS anonymous_id, timestamp, properties FROM events"
[purchases]
orders_sql = \"\"\"SELECT order_id, customer_id AS id, completed_at, revenue FROM orders
WHERE completed_at >= :window_start AND completed_at < :as_of\"\"\"
activity_sample = 0
"""


def tool(config_path: str, database: str, result_path: str) -> None:
    """Compare in this (fresh) process; write the time, the counts and VmHWM."""
    from reconcile.config import load_config
    from reconcile.purchases import compare_purchases
    from reconcile.shop import open_engine
    config = load_config(config_path)
    engine = open_engine(config.database)
    started = time.perf_counter()
    result = compare_purchases(config, engine, None, AS_OF, database=database == "database")
    seconds = time.perf_counter() - started
    engine.dispose()
    peak = next(int(line.split()[1]) for line in Path("/proc/self/status").read_text().splitlines()
                if line.startswith("VmHWM:"))
    Path(result_path).write_text(json.dumps({"seconds": seconds, "peak_kib": peak, "error": result.error,
                                             "orders": result.orders, "problems": result.problems}))


def run_tool(db: str, where: str) -> dict:
    with tempfile.TemporaryDirectory() as folder:
        config, result = Path(folder, "config.toml"), Path(folder, "result.json")
        config.write_text(CONFIG.format(url="postgresql+psycopg://" + _db_url(db).split("://", 1)[1]))
        subprocess.run([sys.executable, __file__, "--tool", str(config), where, str(result)], check=True, cwd=ROOT)
        return json.loads(result.read_text())


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--orders", type=int, default=1_000_000)
    parser.add_argument("--memory", action="store_true", help="also compare in memory (engine = \"pandas\")")
    parser.add_argument("--tool", nargs=3, help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    if args.tool:
        tool(*args.tool)
        return 0
    n = args.orders
    started = time.perf_counter()
    db = build(n)
    print(f"{n:,} orders and {n:,} events built in {time.perf_counter() - started:.1f} s; {os.cpu_count()} cores",
          flush=True)
    failed = False
    try:
        floor_s, joined = floor(db)
        print(f"floor: COUNT(*) over the join, {joined:,} pairs: {floor_s:.2f} s", flush=True)
        for where in ("database",) + (("memory",) if args.memory else ()):
            measured = run_tool(db, where)
            ok = measured["error"] is None and measured["orders"] == n and measured["problems"] == expected(n)
            failed |= not ok
            print(f"{where:>8}: {measured['seconds']:.2f} s, ratio {measured['seconds'] / floor_s:.2f}, "
                  f"peak RSS {measured['peak_kib'] / 1024:,.0f} MiB  {'OK' if ok else 'MISMATCH'}", flush=True)
            if not ok:
                print(json.dumps(measured), flush=True)
    finally:
        drop(db)
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
