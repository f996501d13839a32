"""The events query, per event name: the SQL every check in the database reads.

``checks.events_sql`` returns every event; each check wants one event name's events, with ids
as text and the properties ready for :mod:`.dialects`' JSON fragments. :class:`EventsQuery`
renders the query once (the window bound as literals, because GX runs a query string, not
parameters) and builds on it:

* :meth:`EventsQuery.events` and :meth:`EventsQuery.items`: one name's events, and their line
  items exploded in SQL (``json_each``, ``jsonb_array_elements``, ``JSON_TABLE``);
* scratch tables: the first use of an event name copies its rows into a temporary table that
  every later query reads, because GX, the rules and the counts ask about a dozen queries per
  name and each would otherwise read, filter and (on PostgreSQL) parse the whole events query
  again. Without a TEMPORARY grant every query reads the live query, with the same results.
  The tables are made through :func:`reconcile.shop.database.own_statements`, the one door past
  the read-only guard;
* :meth:`EventsQuery.presence`: which keys the events carry, which hold something other than
  a number, and how many properties are not a JSON object, in one query.

The data source GX validates on is GX's own (it takes a connection string); its engine gets the
same read-only, time-limited guard as reconcile's
(:func:`reconcile.shop.database.guard_like`), so GX cannot write to the shop either.
"""

from __future__ import annotations

import logging
import re
from dataclasses import dataclass, field
from functools import cached_property
from itertools import count

from sqlalchemy import text
from sqlalchemy.engine import Engine
from sqlalchemy.exc import DBAPIError, SQLAlchemyError

from ...errors import first_line
from ...shop.database import Window, bind_window, own_statements
from ..flatten import BASE_COLUMNS, ITEM_BASE, ITEMS, items_in_text
from ..model import EVENTS
from ..sources import CANONICAL, SourceError, column_positions
from .dialects import DIALECTS, JsonDialect, dialect_for
from .plan import NUMBER, value_column

log = logging.getLogger(__name__)

_TABLE_NAMES = count(1)


def supported(engine: Engine | None) -> bool:
    """Whether the checks can run in ``engine``'s database (it has a :mod:`.dialects` class)."""
    return engine is not None and engine.dialect.name in DIALECTS


def render(engine: Engine, sql: str, window: Window) -> str:
    """``events_sql`` with the window bound as literals (GX runs a query string, not parameters)."""
    statement, values = bind_window(sql.strip().rstrip(";").strip(), engine.dialect.name, window)
    rendered = str(statement.bindparams(**values).compile(dialect=engine.dialect,
                                                          compile_kwargs={"literal_binds": True}))
    # text() doubles every % for format/pyformat drivers; GX's own text() will double it again.
    return rendered.replace("%%", "%") if engine.dialect.paramstyle in ("format", "pyformat") else rendered


@dataclass
class Presence:
    """What one query found out about an event name's events (:meth:`EventsQuery.presence`)."""

    keys: dict[str, int]            # events carrying each key
    not_numbers: dict[str, int]     # events holding something other than a number under each key
    not_json: int                   # events whose properties are not a JSON object
    events: int


@dataclass
class EventsQuery:
    """The events query of one run: its column names, and per event name the SQL GX validates."""

    engine: Engine
    sql: str                                   # events_sql, rendered
    columns: list[str]
    positions: list[int | None]                # of the canonical columns (sources.CANONICAL) in ``columns``
    #: GX's one-connection engine, where the temporary tables are (see :meth:`events`); set by the runner
    scratch: Engine | None = None
    _staged: dict[str, str | None] = field(default_factory=dict)
    _strings: dict[str, list[str]] = field(default_factory=dict)   # per event name, see _unparsable
    #: PostgreSQL met properties that are no JSON: they are parsed by a function that calls them malformed
    tolerant: bool = False

    @cached_property
    def json(self) -> JsonDialect:
        return dialect_for(self.engine)

    @classmethod
    def open(cls, engine: Engine, sql: str, window: Window) -> "EventsQuery":
        rendered = render(engine, sql, window)
        try:
            with engine.connect() as conn:
                with conn.begin():
                    columns = list(conn.execute(text(f"SELECT * FROM ({_for_text(rendered)}) AS q WHERE 1 = 0")).keys())
        except SQLAlchemyError as exc:
            raise SourceError(f"checks.events_sql: the query failed: {first_line(exc)}") from None
        return cls(engine=engine, sql=rendered, columns=columns,
                   positions=column_positions(columns, "checks.events_sql"))

    def events(self, event: str) -> str:
        """The events of one name: ids as text, the timestamp, the properties as ``reconcile_properties``.

        With a scratch connection, the first call per name copies them into a temporary table
        that every later query reads (:meth:`_stage`)."""
        if self.scratch is not None and event not in self._staged:
            self._staged[event] = self._stage(event)
        table = self._staged.get(event)
        return f"SELECT * FROM {table}" if table else self._live(event)

    def _stage(self, event: str) -> str | None:
        """The temporary table holding ``event``'s rows, or None where the database refuses one.

        A dozen queries per event name (GX's, the rules', the counts) would each read the whole
        events query again, filter it by name and (on PostgreSQL) parse every properties text
        into jsonb again; from the table they read that name's rows, parsed once. Without a
        TEMPORARY grant they read the live query: slower, same results."""
        table = f"reconcile_events_{next(_TABLE_NAMES)}"
        try:
            json = self.json
            types = {} if self.engine.dialect.name == "sqlite" else {
                "event_id": json.text_type, "customer_id": json.text_type, "anonymous_id": json.text_type,
                "timestamp": self.timestamp_type, "reconcile_properties": json.properties_type}
            try:
                self._fill(self.scratch, table, self._live(event), types)
            except DBAPIError as refused:
                if not self._tolerate(refused):
                    raise
                self._fill(self.scratch, table, self._live(event), types)
        except Exception as exc:
            log.warning("checks: no temporary table for the %s events (%s); every check reads the events query",
                        event, first_line(exc))
            try:
                self.drop(self.scratch, table)
            except Exception:   # never made: nothing to drop
                pass
            return None
        return table

    def close(self) -> None:
        """Drop the temporary tables of :meth:`events`."""
        for table in filter(None, self._staged.values()):
            try:
                self.drop(self.scratch, table)
            except Exception as exc:   # the table goes with the connection anyway
                log.warning("checks: could not drop %s (%s)", table, first_line(exc))
        self._staged.clear()

    def _pick(self, canonical: str) -> str:
        """The events query's column for a canonical one, as ``q.<column>``, or NULL."""
        index = dict(zip(CANONICAL, self.positions))[canonical]
        return "NULL" if index is None else f"q.{self.json.quote(self.columns[index])}"

    @cached_property
    def raw_timestamp_type(self) -> str | None:
        """The events query's timestamp column type (None on SQLite, where each value has its own)."""
        if self.engine.dialect.name == "sqlite":
            return None
        return self._timestamp_type(self.scratch or self.engine, f"SELECT {self._pick('timestamp')} AS "
                                    f"{self.json.quote('timestamp')} FROM ({self.sql}) AS q")

    @cached_property
    def timestamp_kind(self) -> str:
        """"number", "instant" (a native timestamp or date) or "text", from the column's type;
        "any" on SQLite (:meth:`.dialects.JsonDialect.event_timestamp` reads each kind)."""
        if self.raw_timestamp_type is None:
            return "any"
        name = self.raw_timestamp_type.split("(")[0].strip().lower()
        return "number" if name in _NUMERIC_TYPES else "instant" if name in _INSTANT_TYPES else "text"

    @property
    def timestamp_type(self) -> str | None:
        """The type of the timestamp every check reads: the column's own when it is a number,
        else a number type (instants become unix seconds)."""
        return self.raw_timestamp_type if self.timestamp_kind in ("number", "any") else self.json.number_type

    def timestamp_number(self, column: str) -> str:
        """The timestamp as a number (:func:`.values.numbers`): a cast on a database, per value on SQLite."""
        return self.json.base_number(column, self.timestamp_kind != "any")

    def _live(self, event: str) -> str:
        json = self.json
        q = json.quote
        pick = self._pick
        picks = dict(zip(CANONICAL, self.positions))
        ids = {c: "NULL" if picks[c] is None else json.as_string(pick(c))
               for c in ("event_id", "customer_id", "anonymous_id")}   # text, as the flattened frame has them
        return (f"SELECT {ids['event_id']} AS event_id, {ids['customer_id']} AS customer_id, "
                f"{ids['anonymous_id']} AS anonymous_id, "
                f"{json.event_timestamp(pick('timestamp'), self.timestamp_kind)} AS {q('timestamp')}, "
                f"{json.properties(pick('properties'), self.tolerant)} AS reconcile_properties "
                f"FROM ({self.sql}) AS q WHERE {pick('name')} = {json.literal(event)}{json.fence}")

    def items(self, event: str) -> str:
        """The line items of one name's events, one row each: ``event_id``, ``item_index``, and the
        item as ``reconcile_properties`` where it is an object (as :mod:`.flatten` explodes them)."""
        json = self.json
        join, index, item = json.explode_items("e.reconcile_properties", self._unparsable(event))
        return (f"SELECT e.event_id AS event_id, {index} AS item_index, {item} AS reconcile_properties "
                f"FROM ({self.events(event)}) AS e{join}{json.fence}")

    def relation(self, event: str, on: str = EVENTS) -> str:
        return self.items(event) if on == ITEMS else self.events(event)

    def _unparsable(self, event: str) -> list[str]:
        """The distinct items strings that look like an array but are not one (PostgreSQL, which
        cannot test them in SQL without failing the query), tested here once per event name."""
        found = self.json.array_strings("e.reconcile_properties")
        if found is None:
            return []
        if event not in self._strings:
            value, condition = found
            rows = self.fetch(f"SELECT DISTINCT {value} FROM ({self.events(event)}) AS e WHERE {condition}", event)
            self._strings[event] = sorted(raw for raw, in rows if items_in_text(raw) is None)
        return self._strings[event]

    def select(self, event: str, columns: dict[str, set[str]], on: str = EVENTS) -> str:
        """The query GX validates: base columns, and each property as the kinds asked for."""
        json = self.json
        q, p = json.quote, "e.reconcile_properties"
        base = BASE_COLUMNS if on == EVENTS else ITEM_BASE
        parts = [f"e.{q(c)} AS {q(c)}" for c in base]
        for column in sorted(columns):
            if column in base:
                continue
            for kind in sorted(columns[column]):
                parts.append(f"{json.column(p, column, kind)} AS {q(value_column(column, kind))}")
        return f"SELECT {', '.join(parts)} FROM ({self.relation(event, on)}) AS e"

    def materialize(self, scratch: Engine, event: str, columns: dict[str, set[str]], table: str,
                    on: str = EVENTS) -> str:
        """Fill the temporary table ``table`` on ``scratch`` (GX's one-connection engine) with
        :meth:`select`, and return the query GX validates on it.

        GX asks a dozen queries per event name; on the live query each one would pull every
        property out of the JSON again. The table is created by reconcile's own DDL in a short
        transaction of its own (:func:`reconcile.shop.database.own_statements`, no shop SQL in
        it); the rows are inserted inside the read-only, time-limited transaction (PostgreSQL and
        MariaDB allow writing temporary tables there). SQLite refuses any write under
        ``query_only``, temporary tables included, so there the table is made from the SELECT in
        one statement through the same door, the guard lifted for it: that SELECT cannot write
        (SQLite has no data-changing functions, and sqlite3 runs one statement per call).
        """
        json = self.json
        select = self.select(event, columns, on)
        types: dict[str, str] = {}
        if self.engine.dialect.name != "sqlite":
            if on == EVENTS:
                types = {c: json.text_type for c in ("event_id", "customer_id", "anonymous_id")}
                types["timestamp"] = self._timestamp_type(scratch, select)
            else:
                types = {"event_id": json.text_type, "item_index": "BIGINT"}
            for column in sorted(columns):
                if column not in types:
                    types.update({value_column(column, kind): json.number_type if kind == NUMBER else json.text_type
                                  for kind in sorted(columns[column])})
        self._fill(scratch, table, select, types)
        return f"SELECT * FROM {table}"

    def _fill(self, scratch: Engine, table: str, select: str, types: dict[str, str]) -> None:
        """Create the temporary table (columns ``types``; SQLite takes them from ``select``) and
        insert ``select``'s rows, as :meth:`materialize` says."""
        if self.engine.dialect.name == "sqlite":   # the one SELECT past the guard: see materialize
            with own_statements(scratch) as cursor:
                cursor.execute(f"CREATE TEMPORARY TABLE {table} AS {select}")
            return
        json = self.json
        ddl = ", ".join(f"{json.quote(c)} {t}" for c, t in types.items())
        with own_statements(scratch) as cursor:
            cursor.execute(f"CREATE TEMPORARY TABLE {table} ({ddl})")
        with scratch.connect() as conn:
            with conn.begin():
                conn.execute(text(_for_text(f"INSERT INTO {table} ({', '.join(json.quote(c) for c in types)}) "
                                            f"{select}")))

    def _tolerate(self, refused: DBAPIError) -> bool:
        """On PostgreSQL, properties jsonb refuses (no JSON at all) fail the whole cast; from then on
        they are parsed by a function that makes them malformed findings instead (only then: its
        exception handler costs a subtransaction per row). False where that does not apply."""
        code = getattr(refused.orig, "sqlstate", None)
        if self.engine.dialect.name != "postgresql" or self.tolerant or code not in ("22P02", "22P05", "54001"):
            return False
        with own_statements(self.scratch) as cursor:
            cursor.execute(self.json.CREATE_TOLERANT)
        self.tolerant = True
        return True

    def _timestamp_type(self, scratch: Engine, select: str) -> str:
        """The events query's timestamp type, read in a read-only transaction."""
        quoted = self.json.quote("timestamp")
        try:
            with scratch.connect() as conn:
                with conn.begin():
                    if self.engine.dialect.name == "postgresql":
                        found = conn.execute(text(_for_text(
                            f"SELECT pg_typeof(s.{quoted})::text FROM ({select}) AS s LIMIT 1"))).scalar()
                        return found or "bigint"
                    result = conn.execute(text(_for_text(f"SELECT s.{quoted} FROM ({select}) AS s LIMIT 0")))
                    code = result.cursor.description[0][1]
                    result.close()
        except SQLAlchemyError as exc:
            raise SourceError(f"checks.events_sql: the query failed: {first_line(exc)}") from None
        if code not in _MYSQL_TYPES:
            raise NotImplementedError(f"no column type for the timestamp's type code {code}")
        return _MYSQL_TYPES[code]

    def drop(self, scratch: Engine, table: str) -> None:
        if self.engine.dialect.name == "sqlite":
            statement = f"DROP TABLE IF EXISTS temp.{table}"
        else:   # MariaDB's TEMPORARY keeps a mistake from ever dropping a real table
            temporary = "" if self.engine.dialect.name == "postgresql" else "TEMPORARY "
            statement = f"DROP {temporary}TABLE IF EXISTS {table}"
        with own_statements(scratch) as cursor:
            cursor.execute(statement)

    def presence(self, event: str, keys: list[str], numeric: list[str] = (), on: str = EVENTS) -> "Presence":
        """For ``event``: how many events carry each key, how many hold something other than a
        number under each ``numeric`` key, how many have properties that are not an object, and
        how many there are."""
        json, p = self.json, "e.reconcile_properties"
        sums = ([f"SUM({json.present(p, k)})" for k in keys] + [f"SUM({json.not_number(p, k)})" for k in numeric]
                + [f"SUM({json.not_object(p)})", "COUNT(*)"])
        row, = self.fetch(f"SELECT {', '.join(sums)} FROM ({self.relation(event, on)}) AS e", event)
        counts = [int(v or 0) for v in row]
        return Presence(dict(zip(keys, counts)), dict(zip(numeric, counts[len(keys):])), counts[-2], counts[-1])

    def fetch(self, sql: str, event: str) -> list[tuple]:
        """The rows of one of reconcile's queries on ``event``'s events, read-only and time-limited."""
        try:
            with (self.scratch or self.engine).connect() as conn:
                with conn.begin():
                    return [tuple(row) for row in conn.execute(text(_for_text(sql)))]
        except SQLAlchemyError as exc:
            raise SourceError(f"checks.events_sql: reading the {event} events in the database failed: "
                              f"{first_line(exc)}; set checks.engine = \"pandas\" to check them in memory") from None


_NUMERIC_TYPES = {"bigint", "integer", "smallint", "numeric", "double precision", "real", "double", "decimal"}
_INSTANT_TYPES = {"timestamp with time zone", "timestamp without time zone", "date", "timestamp", "datetime"}

# pymysql's field type codes (pymysql.constants.FIELD_TYPE) → a column type that holds the value
_MYSQL_TYPES = {1: "BIGINT", 2: "BIGINT", 3: "BIGINT", 8: "BIGINT", 9: "BIGINT", 4: "DOUBLE", 5: "DOUBLE",
                246: "DECIMAL(65, 10)", 0: "DECIMAL(65, 10)", 7: "TIMESTAMP(6)", 12: "DATETIME(6)", 10: "DATE",
                253: "LONGTEXT", 254: "LONGTEXT", 252: "LONGTEXT", 15: "LONGTEXT"}


def _for_text(sql: str) -> str:
    """``sql`` as text() reads it: a colon that is not a bind parameter escaped."""
    return re.sub(r"(?<![:\w\\]):(?=\w)", r"\\:", sql)


__all__ = ["EventsQuery", "Presence", "render", "supported"]
