"""Where the checked rows come from: SQL on the shop database (read-only) or a JSON Lines export.

Both yield partitions of canonical event tuples ``(event_id, name, customer_id, anonymous_id,
timestamp, properties)`` for :class:`~reconcile.checks.flatten.Flattener`. SQL goes through the
same read-only, time-limited, streamed transaction as the truth segments
(:func:`reconcile.shop.database.stream_rows`): server-side cursors where the driver has them, so a
million events arrive 50,000 at a time.

Column names the events query must return: ``event_id`` (or ``id``), ``name`` (or ``event``),
``timestamp``, ``properties`` (or ``data``); ``customer_id`` and ``anonymous_id`` are optional.
A JSON Lines file has one event object per line with the same keys; ``properties`` may be an
object or its JSON text.

:func:`read_events` reads the source the ``[checks]`` section names and flattens it as it goes,
keeping only what the checks left in memory read.

Anything that stops a source from being read completely raises :class:`SourceError` (a
:class:`~reconcile.errors.CompareError`): the checks on it are "error", never a pass.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Iterator

import pandas as pd
from sqlalchemy.engine import Engine
from sqlalchemy.exc import DBAPIError, SQLAlchemyError

from ..config import ChecksConfig
from ..errors import ConfigError, SourceError
from ..shop.database import PARTITION_ROWS, Window, stream_rows
from .flatten import EventTable, Flattener, Needs

CANONICAL = ("event_id", "name", "customer_id", "anonymous_id", "timestamp", "properties")
ALIASES = {"event_id": ("event_id", "id"), "name": ("name", "event"), "customer_id": ("customer_id",),
           "anonymous_id": ("anonymous_id",), "timestamp": ("timestamp",), "properties": ("properties", "data")}
REQUIRED = ("event_id", "name", "timestamp", "properties")


def column_positions(columns: list[str], where: str) -> list[int | None]:
    lowered = {c.lower(): i for i, c in enumerate(columns)}
    positions = []
    for canonical in CANONICAL:
        found = next((lowered[a] for a in ALIASES[canonical] if a in lowered), None)
        if found is None and canonical in REQUIRED:
            raise SourceError(f"{where}: returns no {' or '.join(ALIASES[canonical])} column "
                              f"(it returns {', '.join(columns) or 'nothing'}); alias the column in the query")
        positions.append(found)
    return positions


def _canonical(rows: list, positions: list[int | None]) -> list[tuple]:
    picks = [(lambda row, i=i: row[i]) if i is not None else (lambda row: None) for i in positions]
    return [tuple(pick(row) for pick in picks) for row in rows]


def sql_partitions(engine: Engine, sql: str, window: Window, *, key: str,
                   partition_rows: int = PARTITION_ROWS) -> Iterator[tuple[list[str], list[tuple]]]:
    """``stream_rows`` with its failures turned into one-line :class:`SourceError` messages."""
    try:
        yield from stream_rows(engine, sql, window, partition_rows)
    except ConfigError as exc:
        raise SourceError(f"checks.{key}: {exc}") from None
    except DBAPIError as exc:
        original = exc.orig
        message = str(original).strip().splitlines()[0] if original is not None and str(original).strip() \
            else exc.__class__.__name__
        raise SourceError(f"checks.{key}: the query failed on "
                          f"{engine.url.render_as_string(hide_password=True)}: {message}") from None
    except SQLAlchemyError as exc:
        raise SourceError(f"checks.{key}: the query failed ({exc.__class__.__name__}); check it against the database") \
            from None


def sql_events(engine: Engine, sql: str, window: Window, partition_rows: int = PARTITION_ROWS
               ) -> Iterator[list[tuple]]:
    """Canonical event partitions from ``checks.events_sql``."""
    positions = None
    for columns, rows in sql_partitions(engine, sql, window, key="events_sql", partition_rows=partition_rows):
        if positions is None:
            positions = column_positions(columns, "checks.events_sql")
        yield _canonical(rows, positions)


def jsonl_events(path: Path, partition_rows: int = PARTITION_ROWS) -> Iterator[list[tuple]]:
    """Canonical event partitions from a JSON Lines file, read ``partition_rows`` lines at a time."""
    where = f"checks.events_jsonl: {path}"
    try:
        handle = path.open("r", encoding="utf-8")
    except FileNotFoundError:
        raise SourceError(f"{where}: no such file") from None
    except OSError as exc:
        raise SourceError(f"{where}: cannot be read ({exc.__class__.__name__})") from None
    with handle:
        batch: list[tuple] = []
        try:
            for number, line in enumerate(handle, start=1):
                if not line.strip():
                    continue
                try:
                    event = json.loads(line)
                except ValueError:
                    raise SourceError(f"{where}: line {number} is not JSON; fix the export") from None
                except RecursionError:
                    raise SourceError(f"{where}: line {number} nests deeper than JSON can be read here; fix the "
                                      "export") from None
                if not isinstance(event, dict):
                    raise SourceError(f"{where}: line {number} is not a JSON object")
                batch.append(_from_object(event, number, where))
                if len(batch) >= partition_rows:
                    yield batch
                    batch = []
        except UnicodeDecodeError:
            raise SourceError(f"{where}: is not UTF-8 text") from None
        if batch:
            yield batch


def _from_object(event: dict, number: int, where: str) -> tuple:
    values = []
    for canonical in CANONICAL:
        alias = next((a for a in ALIASES[canonical] if a in event), None)
        if alias is None and canonical in REQUIRED:
            raise SourceError(f"{where}: line {number} has no {' or '.join(ALIASES[canonical])} key")
        values.append(event.get(alias) if alias else None)
    return tuple(values)


def sql_frame(engine: Engine, sql: str, window: Window, *, key: str) -> pd.DataFrame:
    """A query's rows as one frame (the people the people suite checks)."""
    frames, columns = [], []
    for columns, rows in sql_partitions(engine, sql, window, key=key):
        frames.append(pd.DataFrame.from_records(rows, columns=columns))
    if not frames:
        return pd.DataFrame(columns=columns)
    return frames[0] if len(frames) == 1 else pd.concat(frames, ignore_index=True)


def event_partitions(checks: ChecksConfig, engine: Engine | None, window: Window) -> Iterator[list[tuple]]:
    """The partitions of the events source ``checks`` names: the JSON Lines file, else events_sql."""
    if checks.events_jsonl is not None:
        return jsonl_events(checks.events_jsonl)
    if checks.events_sql is not None and engine is not None:
        return sql_events(engine, checks.events_sql, window)
    raise SourceError("checks: the suites check events but neither checks.events_sql nor checks.events_jsonl is set")


def read_events(checks: ChecksConfig, engine: Engine | None, window: Window, names: set[str],
                needs: dict[str, Needs] | None = None) -> dict[str, EventTable]:
    """The events of ``names`` from the configured source, flattened (keeping only ``needs``)."""
    flattener = Flattener(names, needs)
    for partition in event_partitions(checks, engine, window):
        flattener.add(partition)
    return flattener.tables()


__all__ = ["SourceError", "column_positions", "sql_events", "jsonl_events", "sql_frame", "event_partitions",
           "read_events", "CANONICAL"]
