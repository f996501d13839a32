"""Great Expectations where the events live: GX's SQL data source on the events query.

With ``checks.events_sql`` (and ``checks.engine = "database"``, the default), each event suite's
column expectations run in the shop database instead of on a pandas frame: one GX query asset
per event name selects the events of that name and extracts the properties the suite names from
the JSON ``properties``, per dialect. GX then computes its metrics as SQL aggregates, so no event
is held in Python for them; line-item expectations (``on = "items"``) run the same way on the
items exploded in SQL, and reconcile's rules run as SQL too (:mod:`reconcile.checks.rules.sql`).
Results are the same as in memory; tests hold the two engines equal on SQLite, PostgreSQL and
MariaDB.

Three modules, in the order a run uses them, because each changes for its own reason::

    plan.py      which expectations run in the database (the meanings that agree with pandas),
                 and what the in-memory pass must still read
    dialects.py  the JSON SQL of each database: JsonDialect and one subclass per dialect
    events.py    EventsQuery: one event name's events and line items, the scratch tables
                 they are copied into, and the presence counts
"""

from __future__ import annotations

from .dialects import DIALECTS, MARK, JsonDialect, MySQLJson, PostgresJson, SQLiteJson, dialect_for
from .events import EventsQuery, Presence, render, supported
from .plan import (NUMBER, SEES_MISSING_COLUMNS, TEXT, TYPE, TYPED, Routed, event_names, kinds_by_column,
                   memory_needs, named_columns, plain_identifier, plan)

__all__ = ["plan", "Routed", "kinds_by_column", "memory_needs", "event_names", "named_columns", "plain_identifier",
           "SEES_MISSING_COLUMNS", "TEXT", "TYPED", "NUMBER", "TYPE", "MARK", "DIALECTS", "JsonDialect", "SQLiteJson",
           "PostgresJson", "MySQLJson", "dialect_for", "EventsQuery", "Presence", "render", "supported"]
