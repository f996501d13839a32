"""How long ``reconcile --help`` and ``reconcile --version`` take, beside a floor measured in the
same run: ``python -c pass`` (the interpreter alone). Each command runs in a fresh process
``--runs`` times; the median is printed with its ratio to the floor.

    .venv/bin/python benchmarks/bench_startup.py                    # this checkout
    .venv/bin/python benchmarks/bench_startup.py --source ../other  # another checkout, for a before/after
"""

from __future__ import annotations

import argparse
import os
import statistics
import subprocess
import sys
import time
from pathlib import Path


def median_seconds(argv: list[str], runs: int, env: dict[str, str], cwd: Path) -> float:
    times = []
    for _ in range(runs):
        started = time.perf_counter()
        subprocess.run(argv, check=True, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, env=env, cwd=cwd)
        times.append(time.perf_counter() - started)
    return statistics.median(times)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=15)
    parser.add_argument("--source", type=Path, default=Path(__file__).resolve().parents[1],
                        help="the checkout whose reconcile is timed (default: this one)")
    args = parser.parse_args()
    source = args.source.resolve()
    env = {**os.environ, "PYTHONPATH": str(source)}     # run from the checkout too: -m puts the cwd first
    floor = median_seconds([sys.executable, "-c", "pass"], args.runs, env, source)
    print(f"{'command':<28} {'median':>9} {'ratio':>7}   ({args.runs} runs each, {source})")
    print(f"{'python -c pass (floor)':<28} {floor * 1000:>7.1f} ms {1:>7.2f}")
    for flag in ("--help", "--version"):
        seconds = median_seconds([sys.executable, "-m", "reconcile", flag], args.runs, env, source)
        print(f"{'reconcile ' + flag:<28} {seconds * 1000:>7.1f} ms {seconds / floor:>7.2f}")


if __name__ == "__main__":
    main()
