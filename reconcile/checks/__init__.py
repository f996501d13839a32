"""Data-quality checks on the events and people that feed Customer.io (issue 4).

One module per concern; Great Expectations is imported only by :mod:`.gx`, and only when
checks run, so ``reconcile --help`` and runs without ``[checks]`` stay fast::

    suites.py   checks/*.toml → validated Suite objects (GX's own names and arguments)
    sources.py  events from SQL (read-only, streamed) or JSON Lines; people from SQL
    flatten.py  events → one table per event name, properties as columns, items exploded
    gx.py       an ephemeral, quiet GX context that validates a frame or a SQL query
    in_database.py  which expectations run in the shop database, and the per-dialect JSON SQL
    rules.py    what GX has no expectation for, vectorised (drift, items, units, journey, duplicates)
    runner.py   run_checks(): every suite on its source, one CheckResult per expectation
    model.py    Expectation, Suite, CheckResult (no heavy imports)

Typical use (what :func:`reconcile.audit.run_audit` does)::

    suites = suites_for(config.checks, config.path.parent)   # ConfigError → exit 2
    results = run_checks(config.checks, suites, engine=engine, as_of=as_of)
"""

from __future__ import annotations

from pathlib import Path

from .model import CheckResult, Expectation, Suite

#: The suites shipped with reconcile, package data of every install (wheel, sdist, editable): the
#: demo runs them and ``reconcile init`` copies them into a new project. In the repository, the
#: top-level ``checks/`` (the demo project's suites, which a team edits) is a link to this folder.
SHIPPED_SUITES = Path(__file__).resolve().parent / "shipped"


def suites_for(checks, base=None):
    """The validated suites of a ``[checks]`` section (imports GX); ConfigError → exit 2."""
    from .suites import suites_for as load

    return load(checks, base)


def load_suites(folder, base=None):
    """Validate every suite file in ``folder`` (imports GX); see :mod:`.suites`."""
    from .suites import load_suites as load

    return load(folder, base)


def run_checks(checks, suites, *, engine, as_of, validator=None):
    """Run the suites on their sources; see :mod:`.runner`."""
    from .runner import run_checks as run

    return run(checks, suites, engine=engine, as_of=as_of, validator=validator)


__all__ = ["SHIPPED_SUITES", "CheckResult", "Expectation", "Suite", "suites_for", "load_suites", "run_checks"]
