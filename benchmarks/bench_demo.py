"""Time the demo generator against a floor measured in the same run.

    .venv/bin/python benchmarks/bench_demo.py [--customers 3000]

The floor is SQLite writing the same number of rows as the generated shop holds, with plain
``sqlite3.executemany`` into one narrow table: the I/O any generator must pay. The ratio says
what generating realistic data and the drifted workspace costs on top of that.
"""

from __future__ import annotations

import argparse
import sqlite3
import tempfile
import time
from datetime import datetime, timezone
from pathlib import Path

from sqlalchemy import create_engine, inspect, text

from reconcile.demo import build_demo


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--customers", type=int, default=3000)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as scratch:
        url = f"sqlite:///{Path(scratch) / 'shop.db'}"
        started = time.perf_counter()
        build_demo(url, as_of=datetime.now(timezone.utc), seed=7, customers=args.customers)
        tool = time.perf_counter() - started
        engine = create_engine(url)
        with engine.connect() as conn:
            rows = sum(conn.execute(text(f"SELECT COUNT(*) FROM {table}")).scalar_one()
                       for table in inspect(engine).get_table_names())
        engine.dispose()
        with sqlite3.connect(Path(scratch) / "floor.db") as floor_db:
            floor_db.execute("CREATE TABLE t (a INTEGER, b TEXT)")
            started = time.perf_counter()
            floor_db.executemany("INSERT INTO t VALUES (?, ?)", ((i, f"row-{i}") for i in range(rows)))
            floor_db.commit()
            floor = time.perf_counter() - started
    print(f"customers={args.customers:,} rows={rows:,} build={tool:.2f} s floor={floor:.2f} s "
          f"ratio={tool / floor:.1f}x")


if __name__ == "__main__":
    main()
