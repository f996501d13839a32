"""reconcile: does your Customer.io segment hold the people your own database says it should?

The package, in the order the data flows (each stage imports only the ones above it)::

    errors.py      the exceptions, each carrying its exit code
    config/        config.toml → a frozen Config
    results.py     what a run found, as values; decide(): the one place pass or fail is decided
    identity.py    how an id or an email becomes the exact string both sides are compared on
    shop/          the team's SQL on its own database, read-only: truth segments, lookups
    customerio/    the App API (segments, membership, profiles) and the Track API (repairs)
    compare/       both sides → who differs: in memory, or in the shop database
    diagnose/      why each differing person differs; identity health
    checks/        data-quality expectations on the events that feed Customer.io
    purchases/     every shop order against its purchase event; the activity log; core events flowing
    audit.py       one run: every segment from start to verdict, then the checks and the purchases
    validate.py    every part a run needs (config, suites, queries, key, segment ids), tried without running
    report/        what a run leaves on disk: results.json, the CSVs, report.html, history
    deliver/       the written report, delivered: email, Slack, a webhook
    repair/        a reviewed plan from a finished run, applied through the Track API
    cli/           argv → the library → an exit code; the only place that prints
    init/          a new project: the commented config.toml ``reconcile init`` writes
    demo/          the embedded default: a generated shop and its drifted workspace
    sandbox/       a stand-in Customer.io (App and Track APIs) on loopback, for the demo and tests

The library is usable without the command line::

    >>> from reconcile import load_config, run_audit, write_outputs      # doctest: +SKIP
    >>> run = run_audit(load_config("config.toml"))
    >>> run.status, [s.mismatch_rate for s in run.segments]

Names are imported on first use, so ``reconcile --help`` loads neither pandas nor Arrow, and
importing reconcile changes no process-wide setting (Arrow's allocator is switched only while a
run runs: :func:`reconcile.audit.system_allocator`).
"""

from __future__ import annotations

from importlib import import_module
from typing import Any

__version__ = "0.1.0"

_PUBLIC = {
    "load_config": "config", "parse_config": "config", "Config": "config",
    "run_audit": "audit", "Progress": "audit",
    "RunResult": "results", "SegmentResult": "results", "CheckResult": "results", "Status": "results",
    "Severity": "results", "decide": "results",
    "write_outputs": "report",
    "main": "cli",
    "ExitCode": "errors", "ReconcileError": "errors", "ConfigError": "errors", "UsageError": "errors",
    "CompareError": "errors", "DatabaseError": "errors", "CustomerIOError": "errors", "DeliveryError": "errors",
}

__all__ = ["__version__", *_PUBLIC]


def __getattr__(name: str) -> Any:
    if name not in _PUBLIC:
        raise AttributeError(f"module 'reconcile' has no attribute {name!r}")
    value = getattr(import_module(f".{_PUBLIC[name]}", __name__), name)
    globals()[name] = value
    return value


def __dir__() -> list[str]:
    return sorted(set(globals()) | set(_PUBLIC))
