"""Data-quality checks on the events and people that feed Customer.io.

One module per concern, listed in the order a run passes through them; Great Expectations is
imported only by :mod:`.gx`, and only when checks run, so ``reconcile --help`` and runs without
``[checks]`` stay fast::

    suites.py   checks/*.toml → validated Suite objects (GX's own names and arguments)
    runner.py   run_checks(): every suite on its source, one CheckResult per expectation
    sql/        the checks that run in the shop database: plan.py decides which (and what the
                in-memory pass must still read), dialects.py spells the JSON SQL per database,
                events.py builds the events query per event name and its scratch tables
    sources.py  events from SQL (read-only, streamed) or JSON Lines; people from SQL
    values.py   what a value is: a number, an instant (native or ISO 8601), the events' timestamp
    flatten.py  events → one table per event name, properties as columns, items exploded
    gx.py       an ephemeral, quiet GX context that validates a frame or a SQL query
    rules/      what GX has no expectation for (drift, items, units, journey, duplicates): the
                argument models in __init__.py, the rules in pandas (pandas.py) and as SQL (sql.py)
    model.py    Expectation, Suite (no heavy imports); each outcome is a reconcile.results.CheckResult

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
