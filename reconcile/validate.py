"""``reconcile validate``: is this project ready to run, without running it?

Every part a run needs is tried the cheapest way that still proves it, and each outcome is one
:class:`Finding`: the config (every mistake, not only the first) and its suites; the secrets
the delivery sections name; the database (a connection, then every truth, lookup and checks
query compiled with zero rows, read-only, in the run's own guarded transaction); and the App API
(the key, then each segment id: it exists and has finished building). Nothing is paged through,
written or sent.

A finding that is a problem carries the exit code a run would end with for it: 2 for the
config, its suites and unset variables, 3 for what could not be reached or compiled.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timezone
from pathlib import Path
from typing import Iterator

from sqlalchemy import text
from sqlalchemy.exc import DBAPIError, SQLAlchemyError

from .config import Config, config_problems
from .customerio import client_from_settings
from .errors import (APIUnavailable, AuthError, CompareError, ConfigError, CustomerIOError, ExitCode, RateLimited,
                     ReconcileError, WrongRegionError, first_line)
from .purchases.in_memory import order_columns
from .shop import open_engine
from .shop.database import Window, describe_database_error, find_column
from .shop.mapping import check_mapped_columns
from .shop.probe import query_columns
from .shop.truth import no_key_column

STOP_ASKING = (AuthError, WrongRegionError, APIUnavailable, RateLimited)   # the same for every segment


@dataclass(frozen=True)
class Finding:
    """One thing validated: fine (``problem`` None) or a problem with the exit code it means."""

    subject: str
    message: str
    problem: ExitCode | None = None

    @property
    def ok(self) -> bool:
        return self.problem is None


def exit_code(findings: list[Finding]) -> ExitCode:
    """2 when the config or its suites are wrong (fix those first), else 3 when something could
    not be reached or compiled, else 0."""
    problems = {f.problem for f in findings if f.problem is not None}
    if ExitCode.USAGE in problems:
        return ExitCode.USAGE
    return ExitCode.COULD_NOT_COMPARE if problems else ExitCode.PASS


def validate(path: str | Path, *, as_of: datetime | None = None) -> Iterator[Finding]:
    """Each finding as soon as it is known (the API's answers take a moment)."""
    config, problems = config_problems(path)
    for problem in problems:
        yield Finding("config", str(problem), ExitCode.USAGE)
    if config is None:
        return
    yield Finding("config", f"{config.path.name}: {_describe(config)}")
    yield from _suites(config)
    yield from _secrets(config)
    as_of = (as_of or datetime.now(timezone.utc)).astimezone(timezone.utc)
    yield from _database(config, as_of)
    yield from _customerio(config)


def _describe(config: Config) -> str:
    count = len(config.segments)
    parts = [f"{count} segment{'s' if count != 1 else ''}"]
    parts += [name for name, on in (("diagnosis", config.diagnosis.enabled), ("checks", config.checks),
                                    ("purchases", config.purchases), ("email", config.email), ("slack", config.slack),
                                    ("webhook", config.webhook)) if on]
    return ", ".join(parts)


def _suites(config: Config) -> Iterator[Finding]:
    if config.checks is None:
        return
    from .checks.suites import load_suite, suites_for

    base, folder = config.path.parent, config.checks.suites
    broken = False
    for file in sorted(folder.glob("*.toml")) if folder.is_dir() else []:
        try:
            load_suite(file, base)
        except ConfigError as exc:
            broken = True
            yield Finding("checks", str(exc), ExitCode.USAGE)
    if broken:
        return
    try:
        suites = suites_for(config.checks, base)
    except ConfigError as exc:
        yield Finding("checks", str(exc), ExitCode.USAGE)
        return
    yield Finding("checks", f"{len(suites)} suites in {_shown(folder, base)}: every expectation is known to "
                            "Great Expectations or reconcile")


def _shown(path: Path, base: Path) -> str:
    try:
        return str(path.relative_to(base))
    except ValueError:
        return str(path)


def _secrets(config: Config) -> Iterator[Finding]:
    checks = [("email", config.email and config.email.password), ("slack", config.slack and config.slack.webhook_url)]
    for name, read in checks:
        if not read:
            continue
        try:
            read()
        except ConfigError as exc:
            yield Finding(name, str(exc), ExitCode.USAGE)
            continue
        yield Finding(name, f"[{name}] is complete (nothing is sent by validate)")
    if config.webhook is not None:
        yield Finding("webhook", "[webhook] is complete (nothing is sent by validate)")


def _database(config: Config, as_of: datetime) -> Iterator[Finding]:
    try:
        engine = open_engine(config.database)
    except ReconcileError as exc:
        yield Finding("database", str(exc), exc.exit_code)
        return
    try:
        try:
            with engine.connect():
                pass
        except DBAPIError as exc:
            yield Finding("database", describe_database_error(exc, engine), ExitCode.COULD_NOT_COMPARE)
            return
        yield Finding("database", f"{config.database.masked_url} answers")
        for segment in config.segments:
            yield _truth(config, segment, engine, as_of)
        yield from _other_queries(config, engine, as_of)
        yield from _mappings(config, engine, as_of)
    finally:
        engine.dispose()


def _truth(config: Config, segment, engine, as_of: datetime) -> Finding:
    subject = f"segment {segment.name}"
    columns = _compile(engine, segment.sql, Window.ending(as_of, segment.window_days), "the truth SQL")
    if isinstance(columns, Finding):
        return Finding(subject, f"{subject}: {columns.message}", columns.problem)
    if find_column(columns, config.identity_key) is None:
        return Finding(subject, no_key_column(segment, config.identity_key, columns), ExitCode.COULD_NOT_COMPARE)
    if segment.window_column and find_column(columns, segment.window_column) is None:
        return Finding(subject, f"{subject}: window_column \"{segment.window_column}\" is not a column of the truth SQL "
                                f"(it returns {', '.join(columns)}); select it or fix the name", ExitCode.USAGE)
    return Finding(subject, f"{subject}: the truth SQL compiles, read-only ({', '.join(columns)})")


def _other_queries(config: Config, engine, as_of: datetime) -> Iterator[Finding]:
    lookups = []
    if config.diagnosis.enabled:
        lookups += [("diagnosis.lookup_sql", config.diagnosis.lookup_sql, 30)]
        lookups += [(f"segments.{s.name}.lookup_sql", s.lookup_sql, s.window_days) for s in config.segments]
    for where, sql, window_days in lookups:
        if not sql:
            continue
        if "ids" not in text(sql)._bindparams:
            yield Finding(where, f"{where}: must use :ids (the differing people's ids, an expanding parameter)",
                          ExitCode.USAGE)
            continue
        yield _query(engine, where, sql, Window.ending(as_of, window_days), ("ids", "emails"))
    if config.checks is not None:
        window = Window.ending(as_of, config.checks.window_days)
        for where, sql in (("checks.events_sql", config.checks.events_sql), ("checks.people_sql", config.checks.people_sql)):
            if sql:
                yield _query(engine, where, sql, window)
    if config.purchases is not None:
        yield _orders(config, engine, as_of)


def _orders(config: Config, engine, as_of: datetime) -> Finding:
    """The purchases' orders query compiles and returns the columns the comparison reads."""
    where = "purchases.orders_sql"
    columns = _compile(engine, config.purchases.orders_sql, Window.ending(as_of, config.purchases.window_days), where)
    if isinstance(columns, Finding):
        return columns
    try:
        order_columns(columns, config.identity_key)
    except CompareError as exc:
        return Finding(where, str(exc), ExitCode.COULD_NOT_COMPARE)
    return Finding(where, f"{where} compiles, read-only ({', '.join(columns)})")


def _mappings(config: Config, engine, as_of: datetime) -> Iterator[Finding]:
    """Every [segments.compare] column (and window_column) is one the truth SQL or the lookup
    returns: the check a run makes before it starts (:mod:`reconcile.shop.mapping`)."""
    try:
        check_mapped_columns(config, config.segments, engine, as_of)
    except ConfigError as exc:
        yield Finding("segments.compare", str(exc), ExitCode.USAGE)


def _query(engine, where: str, sql: str, window: Window, lists: tuple[str, ...] = ()) -> Finding:
    columns = _compile(engine, sql, window, where, lists)
    if isinstance(columns, Finding):
        return columns
    return Finding(where, f"{where} compiles, read-only ({', '.join(columns)})")


def _compile(engine, sql: str, window: Window, what: str, lists: tuple[str, ...] = ()) -> list[str] | Finding:
    try:
        return query_columns(engine, sql, window, lists)
    except ConfigError as exc:
        return Finding(what, str(exc), ExitCode.USAGE)
    except DBAPIError as exc:
        return Finding(what, describe_database_error(exc, engine, what), ExitCode.COULD_NOT_COMPARE)
    except SQLAlchemyError as exc:
        return Finding(what, f"{what} failed ({first_line(exc)})", ExitCode.COULD_NOT_COMPARE)


def _customerio(config: Config) -> Iterator[Finding]:
    try:
        client = client_from_settings(config.customerio)
    except ConfigError as exc:
        yield Finding("Customer.io", str(exc), ExitCode.USAGE)
        return
    with client:
        for segment in config.segments:
            subject = f"segment {segment.name}"
            try:
                found = client.ensure_ready(segment.customerio_segment_id)
            except CustomerIOError as exc:
                yield Finding(subject, f"{subject}: {exc}", ExitCode.COULD_NOT_COMPARE)
                if isinstance(exc, STOP_ASKING):
                    return
                continue
            except CompareError as exc:
                yield Finding(subject, f"{subject}: {exc}", ExitCode.COULD_NOT_COMPARE)
                continue
            yield Finding(subject, f"{subject}: Customer.io segment {found.id} (\"{found.name}\") exists and is finished")


__all__ = ["Finding", "validate", "exit_code"]
