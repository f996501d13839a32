"""Every column the config maps is one the queries return, checked before any verdict.

``[segments.compare]`` and ``window_column`` name columns of the truth SQL or of the lookup; a
name neither returns would silently never be compared (a misspelled ``email_consnet`` would let
every consent mismatch through as ``unexplained``). So before a run starts, each query's columns
are read without running it (:func:`~.probe.query_columns`), and a name neither returns stops
the run with a :class:`~reconcile.errors.ConfigError` (exit 2) naming the key path and the
columns that do exist. A query that cannot be read here is left to the run itself, which
reports it on its segment as it always does.
"""

from __future__ import annotations

from datetime import datetime
from typing import Sequence

from sqlalchemy.engine import Engine
from sqlalchemy.exc import SQLAlchemyError

from ..config import Config, SegmentConfig
from ..errors import ConfigError, ReconcileError
from .database import Window, find_column
from .probe import query_columns


def check_mapped_columns(config: Config, segments: Sequence[SegmentConfig], engine: Engine, as_of: datetime) -> None:
    """Raise ConfigError for the first mapped column that neither the truth SQL nor the lookup returns."""
    if not config.diagnosis.enabled:
        return
    for segment in segments:
        wanted = [(f"compare.{column}", column) for column, _ in segment.compare]
        if segment.window_column:
            wanted.append(("window_column", segment.window_column))
        if not wanted:
            continue
        window = Window.ending(as_of, segment.window_days)
        truth = _columns(engine, segment.sql, window)
        lookup_sql = segment.lookup_sql or config.diagnosis.lookup_sql
        lookup = _columns(engine, lookup_sql, window, ("ids", "emails")) if lookup_sql else []
        if truth is None or lookup is None:
            continue
        returned = list(dict.fromkeys(truth + lookup))
        for path, column in wanted:
            if find_column(returned, column) is None:
                where = f"{config.path.name}: segments[{config.segments.index(segment)}].{path}"
                said = (f"neither the truth SQL nor the lookup_sql returns a column named \"{column}\"; they return"
                        if lookup_sql else f"the truth SQL returns no column named \"{column}\" (and no lookup_sql "
                        "is configured); it returns")
                raise ConfigError(f"{where}: {said} {', '.join(returned) or 'no columns'}; "
                                  "fix the name or select the column")


def _columns(engine: Engine, sql: str, window: Window, lists: tuple[str, ...] = ()) -> list[str] | None:
    """The query's columns; None when it cannot be read (its segment reports why)."""
    try:
        return query_columns(engine, sql, window, lists)
    except (ReconcileError, SQLAlchemyError):
        return None


__all__ = ["check_mapped_columns"]
