"""Time the shipped event suites on 1,000,000 generated events: Great Expectations against plain
vectorised pandas checks of the same expectations, in the same run, on the same frames.

    .venv/bin/python benchmarks/bench_checks.py [--events 1000000] [--no-sqlite] [--postgresql]

Steps, each timed: generate the events (tests/known_events.py, with problems injected),
load them into a SQLite events table, stream + flatten them from SQLite (the path
``checks.events_sql`` takes) and from a JSON Lines file, import GX, then per suite the GX
expectations, the same expectations written in pandas, and reconcile's rules (the same code in
both, so they are timed once). Counts from GX and pandas must agree; the script says if not.

Memory is measured apart: fresh processes run ``run_checks`` end to end on the SQLite events
table the way ``reconcile run`` does, once per ``checks.engine``: "database" (GX's SQL data
source and reconcile's rules as SQL in the database; no event in memory) and "pandas" (every
event streamed, flattened and validated in memory); with ``--postgresql`` the same on a scratch
PostgreSQL database. Each reports its time and peak RSS, which the generator's
million Python tuples in this process would otherwise hide, and the two engines' results must
be identical (the script says if not).
"""

from __future__ import annotations

import argparse
import hashlib
import os
import re
import resource
import subprocess
import sys
import tempfile
import time
import uuid
from contextlib import contextmanager
from datetime import datetime, timezone
from pathlib import Path

import pandas as pd

ROOT = Path(__file__).resolve().parent.parent
sys.path[:0] = [str(ROOT), str(ROOT / "tests")]

from known_events import Problems, load_events, make_events, write_jsonl  # noqa: E402

from reconcile.checks.flatten import EventTable  # noqa: E402
from reconcile.checks.model import EVENTS, ITEMS, Expectation  # noqa: E402
from reconcile.checks.rules import RuleContext  # noqa: E402
from reconcile.checks.rules.pandas import run_rule  # noqa: E402
from reconcile.checks.sources import read_events  # noqa: E402
from reconcile.config import ChecksConfig, DatabaseConfig  # noqa: E402
from reconcile.shop import open_engine  # noqa: E402

EVENTS_SQL = "SELECT event_id, name, customer_id, anonymous_id, timestamp, properties FROM events ORDER BY id"


def rss_mb() -> float:
    """Peak resident memory of this process (VmHWM: unlike ru_maxrss, not inherited across exec)."""
    try:
        for line in Path("/proc/self/status").read_text().splitlines():
            if line.startswith("VmHWM:"):
                return int(line.split()[1]) / 1024
    except OSError:
        pass
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


class Clock:
    def __init__(self):
        self.figures: list[tuple[str, float, float]] = []

    def __call__(self, label: str, fn, *args, **kwargs):
        started = time.perf_counter()
        value = fn(*args, **kwargs)
        seconds = time.perf_counter() - started
        self.figures.append((label, seconds, rss_mb()))
        print(f"  {label:<52} {seconds:8.2f} s   peak RSS {rss_mb():7.0f} MB", flush=True)
        return value


# --------------------------------------------------------------------------- the same expectations in pandas


def _type_names(series: pd.Series) -> pd.Series:
    return series.map(lambda v: type(v).__name__)


def pandas_expectation(expectation: Expectation, frame: pd.DataFrame) -> int | None:
    """The unexpected count GX reports, computed with plain vectorised pandas (None: no count)."""
    kind, kw = expectation.type, expectation.kwargs
    if kind == "expect_column_to_exist":
        return None
    column = frame[kw["column"]] if kw["column"] in frame.columns else pd.Series(None, index=frame.index, dtype=object)
    present = column.notna()
    if kind == "expect_column_values_to_not_be_null":
        return int((~present).sum())
    if kind == "expect_column_values_to_be_unique":
        return int(column[present].duplicated(keep=False).sum())
    if kind == "expect_column_values_to_be_between":
        values = pd.to_numeric(column[present], errors="coerce")
        low, high = kw.get("min_value"), kw.get("max_value")
        outside = pd.Series(False, index=values.index)
        if low is not None:
            outside |= values < low
        if high is not None:
            outside |= values > high
        return int(outside.sum())
    if kind == "expect_column_values_to_be_in_type_list":
        if column.dtype != object:
            return None  # GX checks the column's dtype then, not each value
        return int((~_type_names(column[present]).isin(kw["type_list"])).sum())
    if kind == "expect_column_values_to_match_regex":
        pattern = re.compile(kw["regex"])
        return int((~column[present].astype(str).str.contains(pattern)).sum())
    raise NotImplementedError(kind)


# --------------------------------------------------------------------------- the run


def run_checks_alone(url: str, engine_kind: str) -> None:
    """What ``reconcile run`` does with [checks]: its time and peak RSS, in this fresh process."""
    from reconcile.audit import system_allocator
    from reconcile.checks import load_suites, run_checks

    started, baseline = time.perf_counter(), rss_mb()
    checks = ChecksConfig(suites=ROOT / "checks", events_sql=EVENTS_SQL, engine=engine_kind)
    suites = [s for s in load_suites(checks.suites) if s.event]
    loaded = time.perf_counter()
    engine = open_engine(DatabaseConfig(url=url))
    with system_allocator():         # Arrow's allocator as ``reconcile run`` sets it for a run
        results = run_checks(checks, suites, engine=engine, as_of=datetime.now(timezone.utc))
    engine.dispose()
    failed = sum(1 for r in results if r.status != "pass")
    print(f"    engine = {engine_kind!r:10} import GX + suites {loaded - started:5.2f} s; check "
          f"{time.perf_counter() - loaded:6.2f} s; {len(results)} results, {failed} not passing; "
          f"peak RSS {rss_mb():5.0f} MB (before: {baseline:.0f} MB)", flush=True)
    # A column of numbers only: pandas' GX reports its dtype (no counts), the database counts each
    # value (0 unexpected); success is compared, and counts wherever there are any.
    outcome = sorted((r.suite, r.expectation, r.on, str(r.column), r.success, r.unexpected_count or 0)
                     for r in results)
    print("outcome " + hashlib.sha256(repr(outcome).encode()).hexdigest(), flush=True)


def both_engines(url: str, database: str) -> bool:
    """run_checks with each ``checks.engine`` in a fresh process; True when the results are identical."""
    print(f"  fresh processes: reconcile's run_checks on the {database} events table (the real path)", flush=True)
    outcomes = {kind: _fresh_process(url, kind) for kind in ("database", "pandas")}
    same = outcomes["database"] == outcomes["pandas"]
    print("    both engines give identical results" if same
          else f"  RESULTS DIFFER between checks.engine = 'database' and 'pandas' on {database}", flush=True)
    return same


def _fresh_process(url: str, engine_kind: str) -> str:
    done = subprocess.run([sys.executable, __file__, "--run-checks", url, "--engine", engine_kind],
                          check=True, capture_output=True, text=True)
    lines = done.stdout.splitlines()
    print("\n".join(line for line in lines if not line.startswith("outcome ")), flush=True)
    return next(line for line in lines if line.startswith("outcome "))


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--events", type=int, default=1_000_000)
    parser.add_argument("--no-sqlite", action="store_true", help="skip loading and streaming from SQLite")
    parser.add_argument("--postgresql", action="store_true",
                        help="also run both engines on PostgreSQL (a scratch database on $RECONCILE_BENCH_PG)")
    parser.add_argument("--run-checks", metavar="URL", help=argparse.SUPPRESS)
    parser.add_argument("--engine", default="database", help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    if args.run_checks:
        run_checks_alone(args.run_checks, args.engine)
        return 0
    clock = Clock()
    carts = round(args.events / 4.5)
    problems = Problems(duplicate_orders=100, product_id_drift=100, items_as_string=100, milliseconds=100,
                        checkout_without_cart=100)
    print(f"reconcile checks benchmark: {args.events:,} events wanted, Python {sys.version.split()[0]}, "
          f"pandas {pd.__version__}")
    stream = clock("generate events", make_events, carts, problems)
    print(f"  {len(stream.rows):,} events: {stream.counts}")
    suites_dir = ROOT / "checks"
    as_of = datetime.now(timezone.utc)
    with tempfile.TemporaryDirectory(prefix="bench-checks-") as scratch:
        jsonl = Path(scratch) / "events.jsonl"
        clock("write JSON Lines", write_jsonl, stream, jsonl)
        names = {"product_viewed", "added_to_cart", "checkout_started", "order_completed"}
        if not args.no_sqlite:
            url = f"sqlite:///{Path(scratch) / 'shop.db'}"
            clock("load SQLite events table", load_events, url, stream.rows, 50_000)
            engine = open_engine(DatabaseConfig(url=url))
            tables = clock("stream + flatten from SQLite (events_sql)", read_events,
                           ChecksConfig(suites=suites_dir, events_sql=EVENTS_SQL), engine, _window(as_of), names)
            engine.dispose()
            del tables
            if not both_engines(url, "SQLite"):
                return 1
        if args.postgresql:
            with scratch_postgresql() as url:
                clock("load PostgreSQL events table", load_events, url, stream.rows, 50_000)
                if not both_engines(url, "PostgreSQL"):
                    return 1
        total_rows = len(stream.rows)
        del stream
        tables = clock("stream + flatten from JSON Lines", read_events,
                       ChecksConfig(suites=suites_dir, events_jsonl=jsonl), None, _window(as_of), names)
    frame_mb = sum(t.events.memory_usage(deep=True).sum() + t.items.memory_usage(deep=True).sum()
                   for t in tables.values()) / 2**20
    print(f"  flattened frames: {sum(len(t.events) for t in tables.values()):,} events, "
          f"{sum(len(t.items) for t in tables.values()):,} line items, {frame_mb:,.0f} MB (deep)")

    clock("import great_expectations", __import__, "great_expectations")
    from reconcile.checks.gx import GXValidator
    from reconcile.checks.suites import load_suites

    suites = [s for s in clock("load + validate suites", load_suites, suites_dir) if s.event]
    validator = GXValidator(max_ids=100, sample_size=5)
    context = RuleContext(tables)
    gx_seconds = pandas_seconds = rule_seconds = 0.0
    mismatches = []
    for suite in suites:
        table = tables.get(suite.event) or EventTable.empty(suite.event)
        for on, frame in ((EVENTS, table.events), (ITEMS, table.items)):
            chosen = [e for e in suite.expectations if e.on == on and not e.rule]
            if not chosen:
                continue
            prepared = frame.assign(**{e.kwargs["column"]: None for e in chosen
                                       if e.type != "expect_column_to_exist" and e.kwargs.get("column")
                                       not in frame.columns})
            started = time.perf_counter()
            results = validator.validate(chosen, prepared, "event_id")
            gx_seconds += time.perf_counter() - started
            started = time.perf_counter()
            counts = [pandas_expectation(e, prepared) for e in chosen]
            pandas_seconds += time.perf_counter() - started
            for expectation, result, count in zip(chosen, results, counts):
                if count is not None and result.unexpected_count != count:
                    mismatches.append((suite.name, expectation.type, expectation.kwargs.get("column"),
                                       result.unexpected_count, count))
        started = time.perf_counter()
        for expectation in (e for e in suite.expectations if e.rule):
            run_rule(expectation, context, suite.event)
        rule_seconds += time.perf_counter() - started
    expectations = sum(1 for s in suites for e in s.expectations if not e.rule)
    rules = sum(1 for s in suites for e in s.expectations if e.rule)
    print(f"\n{total_rows:,} events, {len(suites)} event suites: {expectations} GX expectations, {rules} rules")
    print(f"  GX expectations (validate, ephemeral context)      {gx_seconds:8.2f} s")
    print(f"  same expectations, plain vectorised pandas         {pandas_seconds:8.2f} s")
    print(f"  reconcile's rules (pandas, shared by both)         {rule_seconds:8.2f} s")
    print(f"  ratio GX / pandas (expectations)                   {gx_seconds / pandas_seconds:8.1f} x")
    print(f"  ratio suites with GX / all pandas (incl. rules)    "
          f"{(gx_seconds + rule_seconds) / (pandas_seconds + rule_seconds):8.1f} x")
    print(f"  peak RSS                                           {rss_mb():8.0f} MB")
    if mismatches:
        print(f"  COUNTS DIFFER between GX and pandas: {mismatches}")
        return 1
    print("  GX and pandas counts agree on every expectation")
    return 0


@contextmanager
def scratch_postgresql():
    """A PostgreSQL database of its own for the run, dropped afterwards."""
    import psycopg

    admin_url = os.environ.get("RECONCILE_BENCH_PG", "postgresql://postgres@127.0.0.1:5432/test")
    name = f"reconcile_bench_checks_{uuid.uuid4().hex[:10]}"
    with psycopg.connect(admin_url, autocommit=True) as admin:
        admin.execute(f"CREATE DATABASE {name}")
    try:
        yield "postgresql+psycopg://" + admin_url.split("://", 1)[1].rsplit("/", 1)[0] + "/" + name
    finally:
        with psycopg.connect(admin_url, autocommit=True) as admin:
            admin.execute(f"DROP DATABASE IF EXISTS {name} WITH (FORCE)")


def _window(as_of):
    from reconcile.shop import Window

    return Window.ending(as_of, 30)


if __name__ == "__main__":
    sys.exit(main())
