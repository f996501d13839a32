"""The order–event comparison as SQL in the shop database (``checks.engine = "database"``).

Both tables are there, so nothing but the orders with a problem, the orphan events and a few
counts leaves the database: one statement compares (:meth:`OrdersAndEvents.compare`), two more
pick the activity sample (:meth:`OrdersAndEvents.recent`, :meth:`OrdersAndEvents.newest`), each on
the same two common table expressions:

* ``o``: the orders query, each order as its normalised order_id and person (the database's
  spelling of :mod:`reconcile.identity`, :func:`reconcile.compare.in_database.normalised_key`),
  its revenue as a number and its time as whole unix seconds (:class:`.times.SqlTimes`, for the
  column's kind as the result description gives it);
* ``e``: the purchase events of the events query, their order_id, person and revenue read from
  the JSON properties by :mod:`reconcile.checks.sql.dialects` (as the checks read them).

An order's events are reduced as :class:`.problems.Matched` (count, "one is the customer's",
the least revenue, time, person and anonymous id, compared by code point), the orders whose
reduction has a problem are returned, and :func:`.problems.classify` decides which, exactly as
for the in-memory comparison. Every statement runs read-only and time-limited, like the truth
SQL; the user's queries keep their ``:as_of``/``:window_start`` parameters.
"""

from __future__ import annotations

import sqlite3
from dataclasses import dataclass
from typing import Any

from sqlalchemy.engine import Engine
from sqlalchemy.exc import DBAPIError, SQLAlchemyError

from ..checks.sources import CANONICAL, column_positions
from ..checks.sql import JsonDialect, dialect_for
from ..checks.sql.plan import TEXT as JSON_TEXT
from ..compare.in_database import normalised_key
from ..errors import ConfigError, DatabaseError, SourceError
from ..shop.database import Window, bind_window, describe_database_error
from .in_memory import WHERE, order_columns
from .problems import Matched, Order, Orphan, Settings
from .times import SqlTimes, column_kinds, ours


@dataclass
class OrdersAndEvents:
    """The two common table expressions of one comparison, and how to run a statement on them."""

    engine: Engine
    window: Window
    settings: Settings
    ctes: str
    has_revenue: bool

    @classmethod
    def build(cls, engine: Engine, orders_sql: str, events_sql: str, window: Window, settings: Settings
              ) -> "OrdersAndEvents":
        json = dialect_for(engine)
        times, dialect = SqlTimes(json, engine.dialect.name), engine.dialect.name
        orders_sql, events_sql = orders_sql.strip().rstrip(";"), events_sql.strip().rstrip(";")
        kinds = _kinds(engine, orders_sql, window, WHERE)
        found = order_columns(list(kinds), settings.key)
        q = json.quote

        def key(name: str, as_key: str) -> str:
            return normalised_key(dialect, f"q.{q(found[name])}", as_key) if found[name] else "NULL"

        revenue = (times.number(f"q.{q(found['revenue'])}", kinds[found["revenue"]]) if found["revenue"]
                   else f"CAST(NULL AS {json.number_type})")
        orders = ours(f"SELECT {key('order_id', 'id')} AS order_id, {key(settings.key, settings.key)} AS person, "
                      f"{key('id', 'id')} AS id, {key('email', 'email')} AS email, {revenue} AS revenue, "
                      f"{times.seconds('q.' + q(found['completed_at']), kinds[found['completed_at']])} AS t, "
                      "ROW_NUMBER() OVER () AS o_row FROM (") + orders_sql + ") AS q" + _fence(dialect)
        events = cls._events(engine, json, times, events_sql, window, settings)
        return cls(engine, window, settings, f"WITH o AS ({orders}), e AS ({events}) ", found["revenue"] is not None)

    @staticmethod
    def _events(engine: Engine, json: JsonDialect, times: SqlTimes, sql: str, window: Window,
                settings: Settings) -> str:
        kinds = _kinds(engine, sql, window, "checks.events_sql")
        columns = list(kinds)
        picks = dict(zip(CANONICAL, column_positions(columns, "checks.events_sql")))
        q, dialect, p = json.quote, engine.dialect.name, "x.reconcile_properties"

        def pick(name: str) -> str:
            return "NULL" if picks[name] is None else f"q.{q(columns[picks[name]])}"

        def prop(key: str) -> str:
            return json.column(p, key, JSON_TEXT)

        stamp = columns[picks["timestamp"]]
        inner = (ours(f"SELECT {json.as_string(pick('event_id'))} AS event_id, {pick('customer_id')} AS customer_id, "
                      f"{json.as_string(pick('anonymous_id'))} AS anonymous_id, {pick('timestamp')} AS stamp, "
                      f"{json.properties(pick('properties'))} AS reconcile_properties FROM (") + sql
                 + ours(f") AS q WHERE {json.binary(pick('name'))} = {json.literal(settings.event)}{json.fence}"))
        # the properties are read once per event (fenced), then normalised: each fragment names
        # its input more than once, and inlined it would extract the JSON again each time
        read = ours(f"SELECT x.event_id, x.customer_id, x.anonymous_id, x.stamp, {prop('order_id')} AS order_text, "
                    f"{prop('email') if settings.key == 'email' else 'NULL'} AS email_text, "
                    f"CASE WHEN {json.is_object(p)} THEN {json.key_number(p, 'revenue')} END AS revenue "
                    "FROM (") + inner + ") AS x" + ours(json.fence)
        person = (normalised_key(dialect, "r.email_text", "email") if settings.key == "email"
                  else normalised_key(dialect, "r.customer_id", "id"))
        return (ours(f"SELECT r.event_id AS event_id, {normalised_key(dialect, 'r.order_text', 'id')} AS order_id, "
                     f"{person} AS person, r.anonymous_id AS anonymous_id, r.revenue AS revenue, "
                     f"{times.seconds('r.stamp', kinds[stamp])} AS t FROM (") + read + ") AS r" + _fence(dialect))

    # ------------------------------------------------------------------ the statements

    def fetch(self, select: str, what: str = "the order–event comparison") -> list[tuple]:
        """The rows of ``select`` (on ``o`` and ``e``), read-only and time-limited."""
        statement, values = bind_window(self.ctes + ours(select), self.engine.dialect.name, self.window)
        try:
            with self.engine.connect() as conn:
                with conn.begin():
                    if self.engine.dialect.name == "postgresql":
                        # JIT is sized by the row estimates, which a computed join key throws off:
                        # compiling would cost more than these few passes over the rows gain
                        conn.exec_driver_sql("SET LOCAL jit = off")
                    return [tuple(row) for row in conn.execute(statement, values)]
        except ConfigError as exc:
            raise DatabaseError(f"{WHERE}: {exc}") from None
        except SQLAlchemyError as exc:
            raise _failed(exc, self.engine, what) from None

    def compare(self) -> tuple[int, int, list[tuple[Order, Matched]], list[Orphan]]:
        """(orders with an order_id, rows without one, the orders whose events have a problem with
        their events reduced, the window's orphan events), from one statement; an order_id on
        two rows of the orders query is a DatabaseError.

        The orders joined to their events, and the window's events no order has
        (:meth:`_joined`), are grouped in one pass, so the planner never joins an aggregate whose
        size it cannot estimate (it would loop over it). The counts ride along as scalar
        subqueries on ``o``."""
        s, json = self.settings, dialect_for(self.engine)
        late, tolerance = float(s.max_latency_seconds), float(s.revenue_tolerance)
        mine = "MAX(CASE WHEN j.e_person = j.person THEN 1 ELSE 0 END)"
        counted = "(SELECT COUNT(*) FROM o), (SELECT COUNT(o.order_id) FROM o)"
        # grouped by order (or, for an orphan, by event): an order's own columns are one value per group
        rows = self.fetch(
            "SELECT MIN(j.order_id), MIN(j.person), MIN(j.id), MIN(j.email), MIN(j.revenue), MIN(j.t), "
            f"COUNT(j.e_order_id), {mine}, MIN(j.e_revenue), MIN(j.e_t), MIN({json.binary('j.e_person')}), "
            f"MIN({json.binary('j.anonymous_id')}), MIN(j.event_id), MIN(j.e_order_id), "
            f"MIN(j.o_row) <> MAX(j.o_row), {counted} FROM ({self._joined()}) AS j "
            "GROUP BY j.orphan, j.grouped "
            "HAVING MAX(j.orphan) = 1 OR MIN(j.o_row) <> MAX(j.o_row) OR COUNT(j.e_order_id) <> 1 "
            f"OR (MIN(j.person) IS NOT NULL AND {mine} = 0) OR (MIN(j.revenue) IS NOT NULL AND (MIN(j.e_revenue) IS NULL "
            f"OR ABS(MIN(j.e_revenue) - MIN(j.revenue)) > {tolerance!r} * ABS(MIN(j.revenue)))) "
            f"OR (MIN(j.t) IS NOT NULL AND MIN(j.e_t) IS NOT NULL AND MIN(j.e_t) - MIN(j.t) > {late!r})")
        twice = sorted(r[0] for r in rows if r[14])
        if twice:
            raise DatabaseError(f"{WHERE} returns order {twice[0]} on more than one row; "
                                "return one row per order (aggregate the rest)")
        total, with_id = rows[0][15:17] if rows else self.fetch(f"SELECT {counted}", WHERE)[0]
        checked, lost = [], []
        for r in rows:
            if r[0] is None:
                lost.append(Orphan(event_id=r[12], order_id=r[13], person=r[10], anonymous_id=r[11], t=_int(r[9])))
            else:
                checked.append((Order(order_id=r[0], person=r[1], id=r[2], email=r[3], revenue=_float(r[4]),
                                      t=_int(r[5])),
                                Matched(n=int(r[6] or 0), mine=bool(r[7]), revenue=_float(r[8]), t=_int(r[9]),
                                        person=r[10], anonymous_id=r[11])))
        return int(with_id), int(total) - int(with_id), checked, lost

    def _joined(self) -> str:
        """Each order with each of its events (or none), and each event of the window no order has,
        with ``orphan`` (0 or 1) and the key it is grouped by (the order_id, or the event_id).

        A FULL JOIN reads the events once; MariaDB/MySQL (and SQLite before 3.39) have none, so
        there the orders' LEFT JOIN and the events' anti-join are two branches of a UNION ALL."""
        s = self.settings
        window = f"e.t >= {int(s.window_start)} AND e.t < {int(s.as_of)}"
        events = "e.order_id AS e_order_id, e.person AS e_person, e.anonymous_id, e.revenue AS e_revenue, e.t AS e_t, e.event_id"
        if self.engine.dialect.name == "postgresql" or (self.engine.dialect.name == "sqlite"
                                                         and sqlite3.sqlite_version_info >= (3, 39)):
            return (f"SELECT k.order_id, k.person, k.id, k.email, k.revenue, k.t, k.o_row, {events}, "
                    "CASE WHEN k.order_id IS NULL THEN 1 ELSE 0 END AS orphan, "
                    "COALESCE(k.order_id, e.event_id) AS grouped FROM (SELECT * FROM o WHERE o.order_id IS NOT NULL) "
                    f"AS k FULL JOIN e ON e.order_id = k.order_id WHERE k.order_id IS NOT NULL OR ({window})")
        return (f"SELECT o.order_id, o.person, o.id, o.email, o.revenue, o.t, o.o_row, {events}, 0 AS orphan, "
                "o.order_id AS grouped FROM o LEFT JOIN e ON e.order_id = o.order_id WHERE o.order_id IS NOT NULL "
                f"UNION ALL SELECT NULL, NULL, NULL, NULL, NULL, NULL, NULL, {events}, 1, e.event_id FROM e "
                f"LEFT JOIN o ON o.order_id = e.order_id WHERE o.order_id IS NULL AND {window}")

    def newest(self, since: int, picks: list[int]) -> list[Order]:
        """The orders at positions ``picks`` among those since ``since``, newest first (ties: the
        greater order_id by code point): the activity sample."""
        if not picks:
            return []
        order_id = dialect_for(self.engine).binary("o.order_id")
        rows = self.fetch(
            "SELECT r.order_id, r.person, r.id, r.email, r.revenue, r.t FROM ("
            f"SELECT o.order_id, o.person, o.id, o.email, o.revenue, o.t, ROW_NUMBER() OVER (ORDER BY o.t DESC, "
            f"{order_id} DESC) - 1 AS position FROM o WHERE o.order_id IS NOT NULL AND o.t >= {int(since)}) AS r "
            f"WHERE r.position IN ({', '.join(str(int(i)) for i in picks)}) ORDER BY r.position")
        return [Order(order_id=r[0], person=r[1], id=r[2], email=r[3], revenue=_float(r[4]), t=_int(r[5]))
                for r in rows]

    def recent(self, since: int) -> int:
        """How many orders since ``since`` the activity sample is spread over."""
        (count,), = self.fetch(f"SELECT COUNT(*) FROM o WHERE o.order_id IS NOT NULL AND o.t >= {int(since)}")
        return int(count)


def _fence(dialect: str) -> str:
    """What keeps MariaDB/MySQL from merging a common table expression into the statement that
    uses it: merged, every JSON extraction and normalisation would be computed again for each
    pair the joins try, instead of once per row (PostgreSQL materializes a CTE used twice)."""
    return " LIMIT 18446744073709551615" if dialect in ("mysql", "mariadb") else ""


def _float(value: Any) -> float | None:
    return None if value is None else float(value)


def _int(value: Any) -> int | None:
    return None if value is None else int(value)


def _kinds(engine: Engine, sql: str, window: Window, what: str) -> dict[str, str]:
    """:func:`.times.column_kinds`, its failures one line that names the query."""
    try:
        return column_kinds(engine, sql, window)
    except ConfigError as exc:
        raise (SourceError if what == "checks.events_sql" else DatabaseError)(f"{what}: {exc}") from None
    except SQLAlchemyError as exc:
        raise _failed(exc, engine, what) from None


def _failed(exc: SQLAlchemyError, engine: Engine, what: str) -> Exception:
    if isinstance(exc, DBAPIError):
        message = describe_database_error(exc, engine, what)
        return (SourceError if what == "checks.events_sql" else DatabaseError)(
            message + ("; or set checks.engine = \"pandas\" to compare in memory" if "failed" in message else ""))
    return DatabaseError(f"{what} failed ({exc.__class__.__name__}); check it against the database")


__all__ = ["OrdersAndEvents"]
