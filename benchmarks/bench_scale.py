"""Scale benchmark: the whole reconciliation of one big segment, against its floors.

One command (PostgreSQL at 127.0.0.1:5432 as ``postgres``, trust auth, as in the tests)::

    .venv/bin/python benchmarks/bench_scale.py            # N = 100,000 and 1,000,000
    .venv/bin/python benchmarks/bench_scale.py --big      # ... and 10,000,000
    .venv/bin/python benchmarks/bench_scale.py --sizes 200000 --diff database --membership export

For each N it

1. builds a shop of N people (+1 % who are not in the segment) in a scratch PostgreSQL database
   with COPY (dropped afterwards), and a sandbox Customer.io workspace, served from its own
   process at the real 10 requests/s limit, whose segment has a known drift: every 100th
   truth person is missing from Customer.io (1 %) and N/100 people are extra (1 %);
2. measures the floors: the truth query alone streamed out with ``COPY (query) TO STDOUT``
   (psycopg), and the membership pages alone fetched by a bare ``requests`` loop that keeps to
   the same 10 requests/s;
3. runs the tool in a fresh process: ``run_audit`` (the real ``reconcile_segment`` path, with
   ``diff`` and ``membership`` as chosen) and then ``write_outputs`` (results.json,
   discrepancies.csv, report.html), and reads that process's peak RSS (``VmHWM``);
4. prints one line per N: floors, tool time, ratio tool / (sum of floors), peak RSS, and OK
   when the diff's counts equal the injected drift (MISMATCH otherwise).

"tool" is the time of ``run_audit`` (query, pages, diff); the outputs and the interpreter's
start-up are printed beside it but are not part of the ratio, because the floors have no
equivalent of them. The sandbox workspace is generated (a person is computed from its row
number), because a 10M-person :class:`reconcile.sandbox.Workspace` would itself need several GB.
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
from collections import deque
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

PG_ADMIN = os.environ.get("RECONCILE_BENCH_PG", "postgresql://postgres@127.0.0.1:5432/test")
SEGMENT_ID = 1
API_KEY = "bench-key"
TRUTH_SQL = "SELECT id, email FROM people WHERE in_segment"
PAGE = 30_000


# ---------------------------------------------------------------------- the drift, by row number
#
# Person r (0-based) has id r+1, email user<r+1>@shop.example, cio_id c<hex(r+1)>.
# Truth: rows 0..N-1. Customer.io's segment: rows 0..N-1 except every 100th, plus rows N..N+N/100-1.

def drift(n: int) -> tuple[int, int]:
    """(missing, extra) injected for a segment of n truth people."""
    return len(range(0, n, 100)), n // 100


def members(n: int, seed: int = 6) -> np.ndarray:
    rows = np.arange(n, dtype=np.int64)
    kept = rows[rows % 100 != 0]
    extra = np.arange(n, n + n // 100, dtype=np.int64)
    both = np.concatenate([kept, extra])
    np.random.default_rng(seed).shuffle(both)     # the API's order is not the shop's
    return both


class GeneratedWorkspace:
    """The part of :class:`reconcile.sandbox.Workspace` the server reads, computed from row numbers."""

    identifiers = "email_or_id"

    def __init__(self, n: int):
        from reconcile.sandbox import SegmentData
        self.people = n + n // 100
        self._segment = SegmentData(id=SEGMENT_ID, name="bench", members=members(n))

    def __len__(self) -> int:
        return self.people

    @staticmethod
    def identifiers_of(row) -> dict:
        row = int(row) + 1
        return {"email": f"user{row}@shop.example", "id": str(row), "cio_id": f"c{row:x}"}

    @property
    def segments(self):
        return [self._segment]

    def segment(self, segment_id: int):
        return self._segment if segment_id == SEGMENT_ID else None

    def person(self, row: int):
        from reconcile.sandbox import Person
        ids = self.identifiers_of(row)
        return Person(ids["cio_id"], ids["id"], ids["email"], {}, False)

    def find(self, value: str, id_type: str = "id"):
        try:
            if id_type == "id":
                row = int(value) - 1
            elif id_type == "email":
                row = int(value.strip().lower().removeprefix("user").removesuffix("@shop.example")) - 1
            else:
                row = int(value.removeprefix("cio_").removeprefix("c"), 16) - 1
        except ValueError:
            return None
        return row if 0 <= row < self.people else None

    def rows_with_email(self, email: str) -> list[int]:
        row = self.find(email, "email")
        return [] if row is None else [row]

    def segments_of(self, row: int):
        return [self._segment] if row in set(self._segment.members.tolist()) else []


def serve(n: int, port_file: str) -> None:
    """The sandbox process: serve the generated workspace until killed."""
    from reconcile.sandbox import Sandbox
    sandbox = Sandbox(GeneratedWorkspace(n), api_key=API_KEY, rate_limit=10.0).start()  # type: ignore[arg-type]
    Path(port_file).write_text(str(sandbox.port))
    while True:
        time.sleep(3600)


# ---------------------------------------------------------------------- the shop


def build_shop(n: int) -> str:
    """A scratch database with N + N/100 people; returns its name."""
    import psycopg
    name = f"reconcile_bench_{uuid.uuid4().hex[:10]}"
    with psycopg.connect(PG_ADMIN, autocommit=True) as admin:
        admin.execute(f"CREATE DATABASE {name}")
    with psycopg.connect(_db_url(name), autocommit=True) as conn:
        conn.execute("CREATE TABLE people (id bigint PRIMARY KEY, email text, in_segment boolean NOT NULL)")
        total, chunk = n + n // 100, 500_000
        with conn.cursor() as cur, cur.copy("COPY people (id, email, in_segment) FROM STDIN") as copy:
            for start in range(0, total, chunk):
                copy.write("".join(f"{r + 1}\tuser{r + 1}@shop.example\t{'t' if r < n else 'f'}\n"
                                   for r in range(start, min(total, start + chunk))))
        conn.execute("VACUUM ANALYZE people")
    return name


def drop_shop(name: str) -> None:
    import psycopg
    with psycopg.connect(PG_ADMIN, autocommit=True) as admin:
        admin.execute(f"DROP DATABASE IF EXISTS {name} WITH (FORCE)")


def _db_url(name: str) -> str:
    return PG_ADMIN.rsplit("/", 1)[0] + "/" + name


# ---------------------------------------------------------------------- floors


def floor_query(db: str) -> tuple[float, int]:
    """Seconds to stream the truth query out with COPY TO STDOUT (bytes read)."""
    import psycopg
    started, size = time.perf_counter(), 0
    with psycopg.connect(_db_url(db)) as conn, conn.cursor() as cur:
        with cur.copy(f"COPY ({TRUTH_SQL}) TO STDOUT") as copy:
            for data in copy:
                size += len(data)
    return time.perf_counter() - started, size


def floor_pages(url: str) -> tuple[float, int, int]:
    """Seconds for a bare loop over the membership pages at <= 10 requests/s (pages, members)."""
    import requests
    session = requests.Session()
    session.headers["Authorization"] = f"Bearer {API_KEY}"
    starts: deque[float] = deque(maxlen=10)
    started, pages, count, token = time.perf_counter(), 0, 0, None
    while True:
        if len(starts) == 10:
            wait = starts[0] + 1.01 - time.monotonic()
            if wait > 0:
                time.sleep(wait)
        starts.append(time.monotonic())
        params = {"limit": PAGE, **({"start": token} if token else {})}
        response = session.get(f"{url}/v1/segments/{SEGMENT_ID}/membership", params=params, timeout=60)
        if response.status_code == 429:
            continue
        response.raise_for_status()
        page = response.json()
        pages += 1
        count += len(page["identifiers"])
        token = page.get("next")
        if not token:
            return time.perf_counter() - started, pages, count


# ---------------------------------------------------------------------- the tool, in its own process

CONFIG = """
[database]
url = "{url}"

[customerio]
base_url = "{api}"
app_api_key = "{key}"

[identity]
key = "id"

[diagnosis]
enabled = {diagnosis}

[[segments]]
name = "bench"
customerio_segment_id = {segment}
{extra}
sql = "{sql}"
"""


def tool(config_path: str, out: str, result_path: str) -> None:
    """Run the audit the way ``reconcile run`` does and write timings, counts and VmHWM."""
    started = time.perf_counter()
    from reconcile.audit import run_audit
    from reconcile.config import load_config
    from reconcile.report import write_outputs
    imported = time.perf_counter()
    config = load_config(config_path)
    run = run_audit(config)
    audited = time.perf_counter()
    write_outputs(run, Path(out))
    written = time.perf_counter()
    segment = run.segments[0]
    peak = next(int(line.split()[1]) for line in Path("/proc/self/status").read_text().splitlines()
                if line.startswith("VmHWM:"))
    Path(result_path).write_text(json.dumps({
        "imports": imported - started, "audit": audited - imported, "outputs": written - audited,
        "peak_kib": peak, "error": segment.error, "truth": segment.truth_count, "cio": segment.customerio_count,
        "missing": segment.missing_in_customerio, "extra": segment.extra_in_customerio,
        "seconds": segment.seconds}))


def run_tool(db: str, api: str, extra: str, diagnosis: bool) -> dict:
    with tempfile.TemporaryDirectory() as folder:
        config = Path(folder, "config.toml")
        url = "postgresql+psycopg://" + _db_url(db).split("://", 1)[1]
        config.write_text(CONFIG.format(url=url, api=api, key=API_KEY, segment=SEGMENT_ID, sql=TRUTH_SQL,
                                        extra=extra, diagnosis="true" if diagnosis else "false"))
        result = Path(folder, "result.json")
        started = time.perf_counter()
        subprocess.run([sys.executable, __file__, "--tool", str(config), str(Path(folder, "out")), str(result)],
                       check=True, cwd=ROOT)
        measured = json.loads(result.read_text())
        measured["process"] = time.perf_counter() - started
        return measured


# ---------------------------------------------------------------------- one size


def bench(n: int, extra: str, diagnosis: bool = False) -> dict:
    t0 = time.perf_counter()
    db = build_shop(n)
    with tempfile.TemporaryDirectory() as folder:
        port_file = Path(folder, "port")
        server = subprocess.Popen([sys.executable, __file__, "--serve", str(n), str(port_file)], cwd=ROOT)
        try:
            while not port_file.exists() or not port_file.read_text():
                if server.poll() is not None:
                    raise SystemExit("the sandbox process died")
                time.sleep(0.05)
            api = f"http://127.0.0.1:{port_file.read_text()}"
            built = time.perf_counter() - t0
            query_s, _ = floor_query(db)
            time.sleep(1.1)    # a fresh rate-limit window for each measurement
            pages_s, pages, count = floor_pages(api)
            time.sleep(1.1)
            measured = run_tool(db, api, extra, diagnosis)
        finally:
            server.terminate()
            server.wait()
            drop_shop(db)
    missing, extra_count = drift(n)
    ok = (measured["error"] is None and measured["truth"] == n and measured["cio"] == n - missing + extra_count
          and measured["missing"] == missing and measured["extra"] == extra_count)
    floors = query_s + pages_s
    return {"n": n, "build": built, "query_floor": query_s, "pages_floor": pages_s, "pages": pages,
            "members": count, "floors": floors, "tool": measured["audit"], "ratio": measured["audit"] / floors,
            "outputs": measured["outputs"], "process": measured["process"], "peak_mib": measured["peak_kib"] / 1024,
            "ok": ok, "measured": measured}


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--big", action="store_true", help="also N = 10,000,000")
    parser.add_argument("--sizes", type=int, nargs="+", help="the sizes to run (default 100000 1000000)")
    parser.add_argument("--diff", choices=("memory", "database"), default="memory")
    parser.add_argument("--membership", choices=("pages", "export"), default="pages")
    parser.add_argument("--diagnosis", action="store_true",
                        help="keep the diagnosis step on (off by default: it is measured apart, see README)")
    parser.add_argument("--json", action="store_true", help="also print every measurement as JSON")
    parser.add_argument("--serve", nargs=2, help=argparse.SUPPRESS)
    parser.add_argument("--tool", nargs=3, help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    if args.serve:
        serve(int(args.serve[0]), args.serve[1])
        return 0
    if args.tool:
        tool(*args.tool)
        return 0
    sizes = args.sizes or ([100_000, 1_000_000] + ([10_000_000] if args.big else []))
    extra = ""
    if args.diff != "memory":
        extra += f'diff = "{args.diff}"\n'
    if args.membership != "pages":
        extra += f'membership = "{args.membership}"\n'
    print(f"diff = {args.diff}, membership = {args.membership}, diagnosis {'on' if args.diagnosis else 'off'}; "
          f"{os.cpu_count()} cores")
    print(f"{'N':>11} {'query floor':>11} {'pages floor':>11} {'floors':>8} {'tool':>8} {'ratio':>6} "
          f"{'peak RSS':>9} {'outputs':>8} {'process':>8}  drift")
    failed = False
    for n in sizes:
        row = bench(n, extra, args.diagnosis)
        failed |= not row["ok"]
        print(f"{n:>11,} {row['query_floor']:>10.2f}s {row['pages_floor']:>10.2f}s {row['floors']:>7.2f}s "
              f"{row['tool']:>7.2f}s {row['ratio']:>6.2f} {row['peak_mib']:>6.0f} MiB {row['outputs']:>7.2f}s "
              f"{row['process']:>7.2f}s  {'OK' if row['ok'] else 'MISMATCH'}", flush=True)
        if args.json or not row["ok"]:
            print(json.dumps(row), flush=True)
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
