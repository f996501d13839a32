"""Run the suites: read each source once, then GX's expectations and reconcile's rules on it.

Every expectation yields exactly one :class:`CheckResult`, in suite order: a source that
cannot be read turns its expectations into errors (exit 3), an expectation that raises into a
failure; nothing unchecked ever shows up as a pass.
"""

from __future__ import annotations

import logging
from datetime import datetime
from typing import Iterable, Iterator

import pandas as pd
from sqlalchemy.engine import Engine

from ..config import ChecksConfig
from ..truth import Window
from .flatten import BASE_COLUMNS, EventTable, Flattener
from .model import EVENTS, ITEMS, PEOPLE, CheckResult, Expectation, Suite
from .rules import RuleContext, run_rule
from .sources import SourceError, jsonl_events, sql_events, sql_frame

log = logging.getLogger(__name__)


def event_names(suites: Iterable[Suite]) -> set[str]:
    """The event names the suites need: their own and those their journey rules refer to."""
    names = set()
    for suite in suites:
        if suite.event is None:
            continue
        names.add(suite.event)
        names.update(e.kwargs["after"] for e in suite.expectations if e.type == "expect_events_to_follow")
    return names


def event_partitions(checks: ChecksConfig, engine: Engine | None, window: Window) -> Iterator[list[tuple]]:
    if checks.events_jsonl is not None:
        return jsonl_events(checks.events_jsonl)
    if checks.events_sql is not None and engine is not None:
        return sql_events(engine, checks.events_sql, window)
    raise SourceError("checks: the suites check events but neither checks.events_sql nor checks.events_jsonl is set")


def read_events(checks: ChecksConfig, engine: Engine | None, window: Window, names: set[str]) -> dict[str, EventTable]:
    flattener = Flattener(names)
    for partition in event_partitions(checks, engine, window):
        flattener.add(partition)
    return flattener.tables()


def run_checks(checks: ChecksConfig, suites: list[Suite], *, engine: Engine | None, as_of: datetime,
               validator=None) -> list[CheckResult]:
    """Every suite's results; ``engine`` is the shop database's read-only engine (for the SQL sources)."""
    window = Window.ending(as_of, checks.window_days)
    event_suites = [s for s in suites if s.source == EVENTS]
    people_suites = [s for s in suites if s.source == PEOPLE]
    results: list[CheckResult] = []
    if event_suites:
        try:
            tables = read_events(checks, engine, window, event_names(event_suites))
        except Exception as exc:  # SourceError, or a bug of ours: the checks are errors, never passes
            results += [error_result(e, _unreadable(exc)) for s in event_suites for e in s.expectations]
        else:
            validator = validator or _validator(checks)
            context = RuleContext(tables, max_ids=checks.max_event_ids, sample_size=checks.sample_size)
            for suite in event_suites:
                results += check_event_suite(suite, context, validator)
            del tables, context
    if people_suites:
        try:
            if checks.people_sql is None or engine is None:
                raise SourceError("checks: a people suite needs checks.people_sql")
            people = sql_frame(engine, checks.people_sql, window, key="people_sql")
        except Exception as exc:
            results += [error_result(e, _unreadable(exc)) for s in people_suites for e in s.expectations]
        else:
            validator = validator or _validator(checks)
            id_column = "id" if "id" in people.columns else (people.columns[0] if len(people.columns) else None)
            for suite in people_suites:
                results += _validate(validator, suite.expectations, people, id_column)
    return results


def _unreadable(exc: Exception) -> str:
    if isinstance(exc, SourceError):
        return str(exc)
    log.exception("reading a checks source failed unexpectedly")
    return f"the source could not be read: internal error ({exc.__class__.__name__}); please report it with the log"


def check_event_suite(suite: Suite, context: RuleContext, validator) -> list[CheckResult]:
    table = context.table(suite.event)
    by_index: dict[int, CheckResult] = {}
    for on, frame in ((EVENTS, table.events), (ITEMS, table.items)):
        chosen = [e for e in suite.expectations if e.on == on and not e.rule]
        for result, expectation in zip(_validate(validator, chosen, frame, "event_id"), chosen):
            by_index[expectation.index] = result
    for expectation in suite.expectations:
        if expectation.rule:
            try:
                by_index[expectation.index] = run_rule(expectation, context, suite.event)
            except Exception as exc:  # a bug of ours must fail the check, not pass it nor stop the others
                log.exception("rule %s failed", expectation.type)
                by_index[expectation.index] = failed_result(expectation, exc)
    results = [by_index[e.index] for e in suite.expectations]
    if table.properties_not_json:
        results.append(CheckResult(suite=suite.name, expectation="properties_are_json_objects", severity="warning",
                                   unexpected_count=table.properties_not_json, element_count=len(table.events),
                                   message=f"{table.properties_not_json:,} events have properties that are not a "
                                           "JSON object; they were checked as if empty"))
    return results


def _validate(validator, expectations: list[Expectation], frame: pd.DataFrame, id_column: str | None
              ) -> list[CheckResult]:
    if not expectations:
        return []
    needed = [c for c in dict.fromkeys(_columns(expectations)) if c not in frame.columns]
    if needed:  # a property no event carries is missing everywhere: null, not a crash
        frame = frame.assign(**{c: pd.Series(None, index=frame.index, dtype=object) for c in needed})
    if len(frame.columns) == 0:
        frame = pd.DataFrame({c: pd.Series([], dtype=object) for c in BASE_COLUMNS})
    try:
        return validator.validate(expectations, frame, id_column)
    except Exception as exc:  # GX itself failed: every expectation of the batch fails, none passes
        log.exception("Great Expectations failed")
        return [failed_result(e, exc) for e in expectations]


_SEES_MISSING_COLUMNS = {"expect_column_to_exist", "expect_table_columns_to_match_set",
                         "expect_table_columns_to_match_ordered_list", "expect_table_column_count_to_equal",
                         "expect_table_column_count_to_be_between"}


def _columns(expectations: list[Expectation]) -> Iterator[str]:
    for expectation in expectations:
        if expectation.type in _SEES_MISSING_COLUMNS:
            continue
        for key in ("column", "column_A", "column_B"):
            if isinstance(expectation.kwargs.get(key), str):
                yield expectation.kwargs[key]
        for key in ("column_list",):
            yield from (c for c in expectation.kwargs.get(key) or [] if isinstance(c, str))


def _validator(checks: ChecksConfig):
    from .gx import GXValidator

    return GXValidator(max_ids=checks.max_event_ids, sample_size=checks.sample_size)


def _result(expectation: Expectation) -> CheckResult:
    return CheckResult(suite=expectation.suite, expectation=expectation.type, severity=expectation.severity,
                       column=expectation.column, on=expectation.on, kwargs=dict(expectation.kwargs))


def error_result(expectation: Expectation, message: str) -> CheckResult:
    result = _result(expectation)
    result.error = result.message = message
    return result


def failed_result(expectation: Expectation, exc: Exception) -> CheckResult:
    result = _result(expectation)
    result.message = f"could not be evaluated: internal error ({exc.__class__.__name__}: {exc})"
    return result


__all__ = ["run_checks", "read_events", "check_event_suite", "event_names", "error_result"]
