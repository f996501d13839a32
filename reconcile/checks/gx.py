"""Great Expectations, quietly: imported only here and only when checks run.

* The import is slow and heavy (``benchmarks/bench_checks.py`` times it), so nothing else in
  reconcile imports GX; this module imports it inside functions (``reconcile --help`` and runs
  without ``[checks]`` never load it).
* Its chatty logging is silenced before and after the import (one logger hard-codes INFO), its
  progress bars are off (``TQDM_DISABLE`` does not work: GX passes ``disable=`` itself), and the
  context is ephemeral: nothing is written to disk.
* Results come back in an order of GX's choosing, so each expectation carries its position in
  ``meta`` and results are matched on that, never by position.
* ``exception_info`` comes flat or nested per metric; both become one line in the message, and
  an expectation that raised is a failure, never a pass.
"""

from __future__ import annotations

import logging
import math
import warnings
from itertools import count
from typing import Any, Iterable

import pandas as pd

from .model import CheckResult, Expectation

_META_KEY = "reconcile_index"
ROW_NOUNS = {"events": "events", "items": "line items", "people": "people"}


def load_gx():
    """``great_expectations``, imported with its logging turned down."""
    logging.getLogger("great_expectations").setLevel(logging.WARNING)
    import great_expectations as gx

    logging.getLogger("great_expectations.data_context.types.base").setLevel(logging.WARNING)
    return gx


def expectation_class(kind: str):
    """GX's class for an expectation type name (``expect_column_values_to_be_unique``), or None."""
    load_gx()
    from great_expectations.exceptions import ExpectationNotFoundError
    from great_expectations.expectations.registry import get_expectation_impl

    try:
        return get_expectation_impl(kind)
    except ExpectationNotFoundError:
        return None


class GXValidator:
    """An ephemeral GX context that validates expectations on pandas frames or SQL queries."""

    def __init__(self, *, max_ids: int = 100, sample_size: int = 5):
        gx = load_gx()
        from great_expectations.data_context.types.base import ProgressBarsConfig

        self._gx = gx
        self.context = gx.get_context(mode="ephemeral")
        self.context.variables.progress_bars = ProgressBarsConfig(globally=False, metric_calculations=False)
        try:
            self.context.enable_analytics(False)
        except Exception:  # an older or newer GX without the switch: nothing is sent either way
            pass
        self.max_ids, self.sample_size = max_ids, sample_size
        self._names = count(1)
        self._sql_sources: dict[str, Any] = {}

    def validate(self, expectations: Iterable[Expectation], frame: pd.DataFrame, id_column: str | None
                 ) -> list[CheckResult]:
        """Run GX expectations on one frame; one CheckResult per expectation, in the given order."""
        expectations = list(expectations)
        if not expectations:
            return []
        n = next(self._names)
        source = self.context.data_sources.add_pandas(name=f"reconcile_{n}")
        batch_definition = source.add_dataframe_asset(name=f"rows_{n}").add_batch_definition_whole_dataframe("all")
        try:
            batch = batch_definition.get_batch(batch_parameters={"dataframe": frame})
            return self._run(batch, expectations, expectations, id_column if id_column in frame.columns else None)
        finally:
            self.context.data_sources.delete(source.name)

    def validate_query(self, engine, query: str, expectations: list[Expectation], gx_forms: list[Expectation],
                       id_column: str = "event_id") -> list[CheckResult]:
        """Run ``gx_forms`` through GX's SQL data source on ``query``; results under ``expectations``."""
        if not expectations:
            return []
        source = self._sql_source(engine)
        asset = source.add_query_asset(name=f"query_{next(self._names)}", query=query)
        try:
            batch = asset.add_batch_definition_whole_table("all").get_batch()
            return self._run(batch, expectations, gx_forms, id_column)
        finally:
            source.delete_asset(asset.name)

    def _sql_source(self, engine):
        """One GX SQL data source per shop engine, its engine guarded read-only like ``engine``."""
        from sqlalchemy.pool import StaticPool

        from ..shop.database import guard_like

        key = engine.url.render_as_string(hide_password=False)
        if key not in self._sql_sources:
            # One connection, so that GX's queries see the temporary tables reconcile fills: StaticPool
            # (GX sets it itself for SQLite, whose connection is then used from the checks' database
            # thread and closed from the main one).
            if engine.dialect.name == "sqlite":
                engine_kwargs = {"connect_args": {"check_same_thread": False}}
            else:
                engine_kwargs = {"poolclass": StaticPool}
            with warnings.catch_warnings():  # "use add_sqlite/add_postgres": add_sql is the one for all dialects
                warnings.simplefilter("ignore")
                source = self.context.data_sources.add_sql(name=f"shop_{next(self._names)}", connection_string=key,
                                                           kwargs=engine_kwargs)
                guard_like(engine, source.get_execution_engine().engine)
            self._sql_sources[key] = source
        return self._sql_sources[key]

    def scratch_engine(self, engine):
        """GX's own engine for the shop (one connection, read-only guarded), where temporary tables go."""
        return self._sql_source(engine).get_execution_engine().engine

    def close(self) -> None:
        """Dispose of the SQL data sources' connections."""
        for source in self._sql_sources.values():
            source.get_execution_engine().engine.dispose()
        self._sql_sources.clear()

    def _run(self, batch, expectations: list[Expectation], gx_forms: list[Expectation], id_column: str | None
             ) -> list[CheckResult]:
        n = next(self._names)
        suite = self._gx.ExpectationSuite(name=f"suite_{n}")
        for form in gx_forms:
            cls = expectation_class(form.type)
            suite.add_expectation(cls(**form.kwargs, severity=form.severity, meta={_META_KEY: form.index}))
        result_format: dict[str, Any] = {"result_format": "SUMMARY", "partial_unexpected_count": self.max_ids}
        if id_column is not None:
            result_format["unexpected_index_column_names"] = [id_column]
        validation = batch.validate(suite, result_format=result_format)
        by_index = {r.expectation_config.meta.get(_META_KEY): r for r in validation.results}
        return [self._check(e, by_index.get(e.index), id_column) for e in expectations]

    def _check(self, expectation: Expectation, validation, id_column: str | None) -> CheckResult:
        check = CheckResult(suite=expectation.suite, expectation=expectation.type, severity=expectation.severity,
                            column=expectation.column, on=expectation.on, kwargs=dict(expectation.kwargs))
        if validation is None:  # GX dropped it: never count that as a pass
            check.message = "Great Expectations returned no result for this expectation"
            return check
        result = validation.result or {}
        check.success = bool(validation.success)
        check.element_count = _integer(result.get("element_count"))
        check.unexpected_count = _integer(result.get("unexpected_count"))
        check.unexpected_percent = _number(result.get("unexpected_percent"))
        check.sample_values = distinct_samples(result.get("partial_unexpected_list") or [], self.sample_size)
        ids = []
        for row in result.get("partial_unexpected_index_list") or []:
            value = row.get(id_column) if isinstance(row, dict) else None
            if not _missing(value):
                ids.append(str(value))
        check.event_ids = list(dict.fromkeys(ids))[: self.max_ids]
        failure = exception_message(validation.exception_info)
        if failure:
            check.success = False
            check.message = f"could not be evaluated: {failure}"
        else:
            check.message = describe(check, result.get("observed_value"))
        return check


def describe(check: CheckResult, observed: Any = None) -> str:
    """``12 of 4,210 events unexpected (0.29 %)``, or the observed value for table-level expectations."""
    noun = ROW_NOUNS.get(check.on, "rows")
    if check.unexpected_count is not None and check.element_count is not None:
        if check.unexpected_count == 0:
            return f"all {check.element_count:,} {noun} as expected"
        percent = f" ({check.unexpected_percent:.2f} %)" if check.unexpected_percent is not None else ""
        return f"{check.unexpected_count:,} of {check.element_count:,} {noun} unexpected{percent}"
    if observed is not None:
        return f"observed {plain(observed)!r}" + ("" if check.success else ", outside the expectation")
    return "as expected" if check.success else "not met"


def exception_message(info: Any) -> str | None:
    """The first raised exception's message, from either shape of ``exception_info``."""
    if not isinstance(info, dict):
        return None
    if "raised_exception" in info:
        if info.get("raised_exception"):
            return (str(info.get("exception_message") or "an exception").strip().splitlines() or ["an exception"])[0]
        return None
    for value in info.values():
        found = exception_message(value)
        if found:
            return found
    return None


def distinct_samples(values: Iterable[Any], limit: int) -> list[Any]:
    """Up to ``limit`` distinct JSON-safe values, in the order seen."""
    seen: dict[str, Any] = {}
    for value in values:
        value = plain(value)
        seen.setdefault(repr(value), value)
        if len(seen) >= limit:
            break
    return list(seen.values())


def plain(value: Any) -> Any:
    """A JSON-safe Python value: NaN → None, numpy scalars → Python, the rest as is or as text."""
    if _missing(value):
        return None
    if hasattr(value, "item") and not isinstance(value, (list, dict, str)):
        try:
            return value.item()
        except (ValueError, AttributeError):
            pass
    if isinstance(value, (str, int, float, bool)):
        return value
    if isinstance(value, (list, tuple)):
        return [plain(v) for v in value]
    if isinstance(value, dict):
        return {str(k): plain(v) for k, v in value.items()}
    return str(value)


def _missing(value: Any) -> bool:
    if value is None:
        return True
    try:
        return bool(pd.isna(value)) if not isinstance(value, (list, dict, tuple)) else False
    except (TypeError, ValueError):
        return False


def _integer(value: Any) -> int | None:
    return None if _missing(value) else int(value)


def _number(value: Any) -> float | None:
    if _missing(value):
        return None
    number = float(value)
    return None if math.isnan(number) else number


__all__ = ["GXValidator", "load_gx", "expectation_class", "describe", "exception_message", "plain",
           "distinct_samples", "ROW_NOUNS"]
