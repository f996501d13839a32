"""The order–event comparison as SQL in the shop database (``checks.engine = "database"``).

Both tables are there, so nothing but the orders with a problem, the orphan events and a few
counts leaves the database. One statement per question, each on the same two common table
expressions:

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

        revenue = times.number(f"q.{q(found['revenue'])}", kinds[found["revenue"]]) if found["revenue"] else "NULL"
        orders = ours(f"SELECT {key('order_id', 'id')} AS order_id, {key(settings.key, settings.key)} AS person, "
                      f"{key('id', 'id')} AS id, {key('email', 'email')} AS email, {revenue} AS revenue, "
                      f"{times.seconds('q.' + q(found['completed_at']), kinds[found['completed_at']])} AS t "
                      "FROM (") + orders_sql + ") AS q" + _fence(dialect)
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
        person = (normalised_key(dialect, prop("email"), "email") if settings.key == "email"
                  else normalised_key(dialect, "x.customer_id", "id"))
        inner = (ours(f"SELECT {json.as_string(pick('event_id'))} AS event_id, {pick('customer_id')} AS customer_id, "
                      f"{json.as_string(pick('anonymous_id'))} AS anonymous_id, {pick('timestamp')} AS stamp, "
                      f"{json.properties(pick('properties'))} AS reconcile_properties FROM (") + sql
                 + ours(f") AS q WHERE {json.binary(pick('name'))} = {json.literal(settings.event)}{json.fence}"))
        return (ours(f"SELECT x.event_id AS event_id, {normalised_key(dialect, prop('order_id'), 'id')} AS order_id, "
                     f"{person} AS person, x.anonymous_id AS anonymous_id, "
                     f"CASE WHEN {json.is_object(p)} THEN {json.key_number(p, 'revenue')} END AS revenue, "
                     f"{times.seconds('x.stamp', kinds[stamp])} AS t FROM (") + inner + ") AS x" + _fence(dialect))

    # ------------------------------------------------------------------ the statements

    def fetch(self, select: str, what: str = "the order–event comparison") -> list[tuple]:
        """The rows of ``select`` (on ``o`` and ``e``), read-only and time-limited."""
        statement, values = bind_window(self.ctes + ours(select), self.engine.dialect.name, self.window)
        try:
            with self.engine.connect() as conn:
                with conn.begin():
                    return [tuple(row) for row in conn.execute(statement, values)]
        except ConfigError as exc:
            raise DatabaseError(f"{WHERE}: {exc}") from None
        except SQLAlchemyError as exc:
            raise _failed(exc, self.engine, what) from None

    def counts(self) -> tuple[int, int]:
        """(orders with an order_id, rows without one); an order_id on two rows is a DatabaseError."""
        (rows, with_id, distinct), = self.fetch(
            "SELECT COUNT(*), COUNT(o.order_id), COUNT(DISTINCT o.order_id) FROM o", WHERE)
        if with_id != distinct:
            (twice,), = self.fetch("SELECT MIN(d.order_id) FROM (SELECT o.order_id FROM o WHERE o.order_id IS NOT NULL "
                                   "GROUP BY o.order_id HAVING COUNT(*) > 1) AS d", WHERE)
            raise DatabaseError(f"{WHERE} returns order {twice} on more than one row; "
                                "return one row per order (aggregate the rest)")
        return int(with_id), int(rows) - int(with_id)

    def troubled(self) -> list[tuple[Order, Matched]]:
        """The orders whose events have a problem, each with its events reduced."""
        s, json = self.settings, dialect_for(self.engine)
        late, tolerance = float(s.max_latency_seconds), float(s.revenue_tolerance)
        rows = self.fetch(
            "SELECT o.order_id, o.person, o.id, o.email, o.revenue, o.t, m.n, m.mine, m.revenue, m.t, m.person, "
            "m.anonymous_id FROM o LEFT JOIN ("
            "SELECT e.order_id AS order_id, COUNT(*) AS n, MAX(CASE WHEN e.person = k.person THEN 1 ELSE 0 END) AS mine, "
            "MIN(e.revenue) AS revenue, MIN(e.t) AS t, "
            f"MIN({json.binary('e.person')}) AS person, MIN({json.binary('e.anonymous_id')}) AS anonymous_id "
            "FROM e JOIN o AS k ON k.order_id = e.order_id GROUP BY e.order_id) AS m ON m.order_id = o.order_id "
            "WHERE o.order_id IS NOT NULL AND (m.n IS NULL OR (o.person IS NOT NULL AND m.mine = 0) OR m.n > 1 "
            f"OR (o.revenue IS NOT NULL AND (m.revenue IS NULL OR ABS(m.revenue - o.revenue) > {tolerance!r} * ABS(o.revenue))) "
            f"OR (o.t IS NOT NULL AND m.t IS NOT NULL AND m.t - o.t > {late!r}))")
        return [(Order(order_id=r[0], person=r[1], id=r[2], email=r[3], revenue=_float(r[4]), t=_int(r[5])),
                 Matched(n=int(r[6] or 0), mine=bool(r[7]), revenue=_float(r[8]), t=_int(r[9]), person=r[10],
                         anonymous_id=r[11])) for r in rows]

    def orphans(self) -> list[Orphan]:
        """The window's purchase events whose order_id is none of the orders' (or missing)."""
        s = self.settings
        rows = self.fetch(
            "SELECT e.event_id, e.order_id, e.person, e.anonymous_id, e.t FROM e "
            f"WHERE e.t >= {int(s.window_start)} AND e.t < {int(s.as_of)} AND (e.order_id IS NULL OR NOT EXISTS "
            "(SELECT 1 FROM o WHERE o.order_id = e.order_id))")
        return [Orphan(event_id=r[0], order_id=r[1], person=r[2], anonymous_id=r[3], t=_int(r[4])) for r in rows]

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
