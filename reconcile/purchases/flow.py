"""Core events flowing: for each suite's event, its newest event and its count over the last day.

A segment built on an event goes quietly wrong when the event stops arriving: nothing in the
stream is malformed, there is just less of it. So each event name the suites check gets two
numbers at ``as_of``: the newest event's time (its age is judged against
``[checks] max_age_hours``) and the events of the 24 hours before ``as_of`` (judged against the
usual count on this weekday, the baseline the run's history gives: the median of the last four
runs of this config on the same weekday, see :meth:`reconcile.report.history.History.volume_baselines`).
:func:`reconcile.results.decide_flow` decides; a run without history judges no volume.

With the events in a database (``checks.engine = "database"``) both numbers come from one
aggregate query; otherwise (JSON Lines, or ``engine = "pandas"``) from one streamed pass. Times
are read by :mod:`.times`, the same rule as the purchases' comparison.
"""

from __future__ import annotations

from datetime import datetime, timezone

from sqlalchemy.engine import Engine
from sqlalchemy.exc import SQLAlchemyError

from ..checks.sources import CANONICAL, column_positions, event_partitions
from ..checks.sql import dialect_for, supported
from ..config import ChecksConfig
from ..errors import CompareError, SourceError, first_line
from ..results import FlowResult
from ..shop.database import Window, bind_window
from .times import SqlTimes, column_kinds, epoch_seconds, ours

DAY = 86_400


def flow_counts(checks: ChecksConfig, engine: Engine | None, window: Window, names: list[str]
                ) -> dict[str, tuple[int | None, int]]:
    """``{event name: (newest unix seconds at or before as_of, events in the day before as_of)}``."""
    as_of = int(window.as_of.timestamp())
    if checks.events_jsonl is None and checks.engine == "database" and supported(engine):
        found = _in_database(engine, checks.events_sql, window, names, as_of)
    else:
        found = _in_memory(checks, engine, window, set(names), as_of)
    return {name: found.get(name, (None, 0)) for name in names}


def _in_memory(checks: ChecksConfig, engine: Engine | None, window: Window, names: set[str], as_of: int
               ) -> dict[str, tuple[int | None, int]]:
    newest: dict[str, int | None] = {}
    counts: dict[str, int] = {}
    for partition in event_partitions(checks, engine, window):
        for _, name, _, _, timestamp, _ in partition:
            if name not in names:
                continue
            t = epoch_seconds(timestamp)
            if t is None or t > as_of:
                continue
            if newest.get(name) is None or t > newest[name]:
                newest[name] = t
            counts[name] = counts.get(name, 0) + (t > as_of - DAY)
    return {name: (newest.get(name), counts.get(name, 0)) for name in names}


def _in_database(engine: Engine, sql: str, window: Window, names: list[str], as_of: int
                 ) -> dict[str, tuple[int | None, int]]:
    json = dialect_for(engine)
    sql = sql.strip().rstrip(";")
    try:
        kinds = column_kinds(engine, sql, window)
        columns = list(kinds)
        picks = dict(zip(CANONICAL, column_positions(columns, "checks.events_sql")))
        name, stamp = columns[picks["name"]], columns[picks["timestamp"]]
        seconds = SqlTimes(json, engine.dialect.name).seconds(f"q.{json.quote(stamp)}", kinds[stamp])
        wanted = ", ".join(json.literal(n) for n in names)
        statement, values = bind_window(
            ours(f"SELECT s.name, MAX(s.t), SUM(CASE WHEN s.t > {as_of - DAY} THEN 1 ELSE 0 END) FROM ("
                 f"SELECT {json.binary('q.' + json.quote(name))} AS name, {seconds} AS t FROM (") + sql
            + ours(f") AS q) AS s WHERE s.name IN ({wanted}) AND s.t <= {as_of} GROUP BY s.name"),
            engine.dialect.name, window)
        with engine.connect() as conn:
            with conn.begin():
                rows = conn.execute(statement, values).all()
    except SQLAlchemyError as exc:
        raise SourceError(f"checks.events_sql: counting the events in the database failed: {first_line(exc)}") from None
    return {str(n): (None if t is None else int(t), int(c or 0)) for n, t, c in rows}


def read_flow(checks: ChecksConfig, engine: Engine | None, as_of: datetime, names: list[str], critical: str
              ) -> list[FlowResult]:
    """One :class:`FlowResult` per event name, not yet judged; an unreadable source makes each an error."""
    window = Window.ending(as_of, checks.window_days)
    try:
        counts = flow_counts(checks, engine, window, names)
    except CompareError as exc:
        return [FlowResult(event=name, critical=name == critical, error=str(exc)) for name in names]
    flows = []
    for name in names:
        newest, count = counts[name]
        flow = FlowResult(event=name, critical=name == critical, count=count)
        if newest is not None:
            flow.newest = datetime.fromtimestamp(newest, timezone.utc)
            flow.age_hours = (window.as_of.timestamp() - newest) / 3600
        flows.append(flow)
    return flows


__all__ = ["read_flow", "flow_counts", "DAY"]
