"""Run the suites: read each source once, then GX's expectations and reconcile's rules on it.

Every expectation yields exactly one :class:`CheckResult`, in suite order: a source that
cannot be read turns its expectations into errors (exit 3), an expectation that raises into a
failure; nothing unchecked ever shows up as a pass. That promise is why every step here sits
inside its own ``try``: one broken suite, source or expectation never stops the others.

Events from ``checks.events_sql`` are checked where they live (``checks.engine = "database"``,
the default): the expectations :func:`.sql.plan` accepts run through GX's SQL data source in
the shop database, reconcile's rules as SQL (:mod:`.rules.sql`); only if a suite holds
something else does one lean pass read into memory what that needs
(:func:`.sql.memory_needs`). The database work runs in a thread of its own while this one
reads and flattens, so the two overlap. JSON Lines, ``engine = "pandas"`` and other dialects
read every event into pandas.

GX is imported on first use (:class:`Validators`), so a run that never reaches it (checks only
in memory and all of them rules, or a source that cannot be read) does not pay for the import.
"""

from __future__ import annotations

import logging
from concurrent.futures import ThreadPoolExecutor
from datetime import datetime
from itertools import count
from typing import TYPE_CHECKING

import pandas as pd
from sqlalchemy.engine import Engine

from ..config import ChecksConfig
from ..errors import first_line
from ..shop.database import Window, settle
from .flatten import BASE_COLUMNS, ITEM_BASE
from .model import EVENTS, ITEMS, PEOPLE, CheckResult, Expectation, Suite
from .rules import RuleContext
from .rules.pandas import run_rule
from .rules.sql import run_rule_in_database, runs_in_database
from .sources import SourceError, read_events, sql_frame
from .sql import (MARK, NUMBER, SEES_MISSING_COLUMNS, TEXT, TYPED, EventsQuery, Presence, Routed, event_names,
                  kinds_by_column, memory_needs, named_columns, plan, supported)

if TYPE_CHECKING:
    from .gx import GXValidator

log = logging.getLogger(__name__)


def run_checks(checks: ChecksConfig, suites: list[Suite], *, engine: Engine | None, as_of: datetime,
               validator: GXValidator | None = None) -> list[CheckResult]:
    """Every suite's results; ``engine`` is the shop database's read-only engine (for the SQL
    sources); ``validator``: a GX validator to use (and leave open) instead of making one."""
    window = Window.ending(as_of, checks.window_days)
    event_suites = [s for s in suites if s.source == EVENTS]
    people_suites = [s for s in suites if s.source == PEOPLE]
    results: list[CheckResult] = []
    validators = Validators(checks, validator)
    try:
        if event_suites:
            results += check_events(checks, event_suites, engine, window, validators)
        if people_suites:
            results += check_people(checks, people_suites, engine, window, validators)
    finally:
        validators.close()
    return [result.shown() for result in results]


class Validators:
    """The run's GX validator, made (and GX imported) by the first :meth:`get`, which comes
    inside the ``try`` of the expectations it validates: GX failing to load fails those
    expectations and no others."""

    def __init__(self, checks: ChecksConfig, given: GXValidator | None = None):
        self._checks, self._validator, self._owned = checks, given, given is None

    def get(self) -> GXValidator:
        if self._validator is None:
            from .gx import GXValidator

            self._validator = GXValidator(max_ids=self._checks.max_event_ids, sample_size=self._checks.sample_size)
        return self._validator

    def close(self) -> None:
        """Close the validator this object made (one passed in stays open for its owner)."""
        if self._owned and self._validator is not None:
            self._validator.close()


def in_database(checks: ChecksConfig, engine: Engine | None) -> bool:
    """Whether GX's expectations on events run in the shop database (see :mod:`.sql`)."""
    return checks.engine == "database" and checks.events_sql is not None and checks.events_jsonl is None \
        and supported(engine)


def check_events(checks: ChecksConfig, suites: list[Suite], engine: Engine | None, window: Window,
                 validators: Validators) -> list[CheckResult]:
    """The event suites. In the database, GX's validations run in a thread of their own while this
    one reads what the rules need: the database works (and Python's sqlite3 releases the GIL)
    while Python parses JSON, so the two overlap on two cores."""
    database = in_database(checks, engine)
    routed = {s.name: [r for r in map(plan, s.expectations) if r is not None] if database else [] for s in suites}
    rules = {s.name: [e for e in s.expectations if runs_in_database(e)] if database else [] for s in suites}
    in_memory = {s.name: [e for e in s.expectations
                          if e.index not in {r.expectation.index for r in routed[s.name]} | {e.index for e in rules[s.name]}]
                 for s in suites}
    limits = RuleContext({}, max_ids=checks.max_event_ids, sample_size=checks.sample_size)
    try:
        query = EventsQuery.open(engine, checks.events_sql, window) if database else None
    except Exception as exc:  # SourceError, or a bug of ours: the checks are errors, never passes
        return [error_result(e, _unreadable(exc)) for s in suites for e in s.expectations]
    with ThreadPoolExecutor(max_workers=1, thread_name_prefix="reconcile-checks-db") as pool:
        found = {s.name: pool.submit(_in_database, s, routed[s.name], rules[s.name], query, validators, limits)
                 for s in suites if routed[s.name] or rules[s.name]}
        try:
            needs = memory_needs(suites, in_memory) if database else None
            names = set(needs) if needs is not None else event_names(suites)
            tables = read_events(checks, engine, window, names, needs) if names else {}
        except Exception as exc:
            for future in found.values():
                future.cancel()
            return [error_result(e, _unreadable(exc)) for s in suites for e in s.expectations]
        except KeyboardInterrupt:
            settle(found.values())   # stopping: GX's queries cancelled on the server, not waited out
            raise
        try:
            in_database_results = {name: future.result() for name, future in found.items()}
        except KeyboardInterrupt:
            settle(found.values())
            raise
        if query is not None and query.scratch is not None:
            pool.submit(query.close).result()
    context = RuleContext(tables, max_ids=checks.max_event_ids, sample_size=checks.sample_size)
    results: list[CheckResult] = []
    for suite in suites:
        results += check_event_suite(suite, context, validators, found_in_database=in_database_results.get(suite.name))
    return results


def check_people(checks: ChecksConfig, suites: list[Suite], engine: Engine | None, window: Window,
                 validators: Validators) -> list[CheckResult]:
    """People are one row each (far fewer than events) and typed by the database: checked in pandas."""
    try:
        if checks.people_sql is None or engine is None:
            raise SourceError("checks: a people suite needs checks.people_sql")
        people = sql_frame(engine, checks.people_sql, window, key="people_sql")
    except Exception as exc:
        return [error_result(e, _unreadable(exc)) for s in suites for e in s.expectations]
    id_column = "id" if "id" in people.columns else (people.columns[0] if len(people.columns) else None)
    results: list[CheckResult] = []
    for suite in suites:
        results += _validate(validators, suite.expectations, people, id_column)
    return results


def _unreadable(exc: Exception) -> str:
    if isinstance(exc, SourceError):
        return str(exc)
    log.exception("reading a checks source failed unexpectedly")
    return f"the source could not be read: internal error ({exc.__class__.__name__}); please report it with the log"


def check_event_suite(suite: Suite, context: RuleContext, validators: Validators, *,
                      found_in_database: tuple[dict[int, CheckResult], Presence | None] | None = None
                      ) -> list[CheckResult]:
    """One suite's results in its order; ``found_in_database``: the results already found there, and
    what the database said about the events (how many, how many not a JSON object)."""
    table = context.table(suite.event)
    by_index: dict[int, CheckResult] = {}
    not_json, events = table.properties_not_json, len(table.events)
    if found_in_database is not None:
        found, presence = found_in_database
        by_index.update(found)
        if presence is not None:
            not_json, events = presence.not_json, presence.events
    for on, frame in ((EVENTS, table.events), (ITEMS, table.items)):
        chosen = [e for e in suite.expectations if e.on == on and not e.rule and e.index not in by_index]
        for result, expectation in zip(_validate(validators, chosen, frame, "event_id"), chosen):
            by_index[expectation.index] = result
    for expectation in suite.expectations:
        if expectation.rule and expectation.index not in by_index:
            try:
                by_index[expectation.index] = run_rule(expectation, context, suite.event)
            except Exception as exc:  # a bug of ours must fail the check, not pass it nor stop the others
                log.exception("rule %s failed", expectation.type)
                by_index[expectation.index] = failed_result(expectation, exc)
    results = [by_index[e.index] for e in suite.expectations]
    if not_json:
        results.append(CheckResult(suite=suite.name, expectation="properties_are_json_objects", severity="warning",
                                   unexpected_count=not_json, element_count=events,
                                   message=f"{not_json:,} events have properties that are not a "
                                           "JSON object; they were checked as if empty"))
    return results


def _in_database(suite: Suite, routed: list[Routed], rules: list[Expectation], query: EventsQuery,
                 validators: Validators, limits: RuleContext) -> tuple[dict[int, CheckResult], Presence | None]:
    """The results of what runs in the database: the routed expectations (by GX on the events or
    line-items query) and reconcile's rules (as SQL); and what the database said about the events."""
    found: dict[int, CheckResult] = {}
    presence = None
    if query.scratch is None:
        try:
            query.scratch = validators.get().scratch_engine(query.engine)
        except Exception:   # no scratch connection: every check reads the live query, GX fails below
            log.exception("Great Expectations could not open the shop database")
    for on in (EVENTS, ITEMS):
        mine = [r for r in routed if r.expectation.on == on]
        if not mine and on == ITEMS:
            continue
        exist = [r for r in mine if r.kind is None]
        values = [r for r in mine if r.kind is not None]
        base = BASE_COLUMNS if on == EVENTS else ITEM_BASE
        try:
            keys = sorted({r.column for r in exist if r.column not in base})
            numeric = sorted({r.column for r in values if r.kind == NUMBER and r.column not in base})
            counted = query.presence(suite.event, keys, numeric, on)
        except Exception as exc:
            message = _unreadable(exc)
            found.update({e.index: error_result(e, message) for e in [r.expectation for r in mine]
                          + (rules if on == EVENTS else [])})
            continue
        presence = counted if on == EVENTS else presence
        found.update(_gx_in_database(suite.event, on, exist, values, counted, query, validators))
        if on == EVENTS:
            found.update(_rules_in_database(suite.event, rules, query, limits))
    return found, presence


def _rules_in_database(event: str, rules: list[Expectation], query: EventsQuery, limits: RuleContext
                       ) -> dict[int, CheckResult]:
    found = {}
    for expectation in rules:
        try:
            found[expectation.index] = run_rule_in_database(expectation, query, event, limits)
        except SourceError as exc:
            found[expectation.index] = error_result(expectation, str(exc))
        except Exception as exc:  # a bug of ours must fail the check, not pass it nor stop the others
            log.exception("rule %s failed in the database", expectation.type)
            found[expectation.index] = failed_result(expectation, exc)
    return found


def _gx_in_database(event: str, on: str, exist: list[Routed], values: list[Routed], presence: Presence,
                    query: EventsQuery, validators: Validators) -> dict[int, CheckResult]:
    not_numbers = presence.not_numbers
    mixed = [r for r in values if r.kind == NUMBER and not_numbers.get(r.column)]
    values = [r for r in values if r not in mixed]
    found: dict[int, CheckResult] = {}
    batches = [(values, kinds_by_column(values)),
               (exist, {k: {TEXT} for k, n in presence.keys.items() if n})]  # absent properties are not selected
    for batch, columns in batches:
        if not batch:
            continue
        expectations = [r.expectation for r in batch]
        try:
            results = _validate_in_database(validators.get(), query, event, on, columns, batch)
        except Exception as exc:  # GX or the database failed: every expectation of the batch fails
            log.exception("Great Expectations failed in the database")
            results = [failed_result(e, exc) for e in expectations]
        for r, result in zip(batch, results):
            if r.kind == TYPED:  # the mark that keeps 5 and "5" apart is not part of the value
                result.sample_values = [v[1:] if isinstance(v, str) and v.startswith(MARK) else v
                                        for v in result.sample_values]
            found[r.expectation.index] = result
    for r in mixed:  # as in pandas, where GX refuses to compare mixed types with numeric bounds
        found[r.expectation.index] = failed_result(r.expectation, None,
                                                   f"{not_numbers[r.column]:,} values of {r.column} are not numbers")
    return found


_SCRATCH_NAMES = count(1)


def _validate_in_database(validator: GXValidator, query: EventsQuery, event: str, on: str,
                          columns: dict[str, set[str]], batch: list[Routed]) -> list[CheckResult]:
    """GX on the event's rows extracted once into a temporary table; on the live query if the
    database refuses one (no TEMPORARY grant), which is slower but gives the same results."""
    scratch = validator.scratch_engine(query.engine)
    table = f"reconcile_checks_{next(_SCRATCH_NAMES)}"
    try:
        sql = query.materialize(scratch, event, columns, table, on)
    except Exception as exc:  # the table, if half made, is dropped below like a whole one
        log.warning("checks: no temporary table for the %s %s (%s); GX reads the events query itself",
                    event, "line items" if on == ITEMS else "events", first_line(exc))
        sql = query.select(event, columns, on)
    try:
        return validator.validate_query(query.engine, sql, [r.expectation for r in batch], [r.gx_form for r in batch])
    finally:
        query.drop(scratch, table)


def _validate(validators: Validators, expectations: list[Expectation], frame: pd.DataFrame, id_column: str | None
              ) -> list[CheckResult]:
    """GX on ``frame``. Expectations about which columns exist see the frame as read; the others
    see it with the columns they name and no event carries added as nulls (missing, not a crash)."""
    if not expectations:
        return []
    if len(frame.columns) == 0:
        frame = pd.DataFrame({c: pd.Series([], dtype=object) for c in BASE_COLUMNS})
    shape = [e for e in expectations if e.type in SEES_MISSING_COLUMNS]
    values = [e for e in expectations if e.type not in SEES_MISSING_COLUMNS]
    needed = [c for c in dict.fromkeys(named_columns(values)) if c not in frame.columns]
    widened = frame.assign(**{c: pd.Series(None, index=frame.index, dtype=object) for c in needed}) if needed else frame
    by_index: dict[int, CheckResult] = {}
    for batch, data in ((shape, frame), (values, widened)):
        if not batch:
            continue
        try:
            results = validators.get().validate(batch, data, id_column)
        except Exception as exc:  # GX itself failed: every expectation of the batch fails, none passes
            log.exception("Great Expectations failed")
            results = [failed_result(e, exc) for e in batch]
        by_index.update({e.index: r for e, r in zip(batch, results)})
    return [by_index[e.index] for e in expectations]


def _result(expectation: Expectation) -> CheckResult:
    return CheckResult(suite=expectation.suite, expectation=expectation.type, severity=expectation.severity,
                       column=expectation.column, on=expectation.on, kwargs=dict(expectation.kwargs))


def error_result(expectation: Expectation, message: str) -> CheckResult:
    result = _result(expectation)
    result.error = result.message = message
    return result


def failed_result(expectation: Expectation, exc: Exception | None, why: str | None = None) -> CheckResult:
    result = _result(expectation)
    result.message = f"could not be evaluated: {why or f'internal error ({exc.__class__.__name__}: {exc})'}"
    return result


__all__ = ["run_checks", "Validators", "check_event_suite", "error_result", "failed_result"]
