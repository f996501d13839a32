"""The shop database: one engine, read-only by construction, and the window its SQL is bound to.

Why it looks like this:

* **Read-only by construction.** Every transaction on the engine is read-only (PostgreSQL and
  MySQL/MariaDB ``READ ONLY``, SQLite ``PRAGMA query_only``), time-limited and in UTC, and
  reconcile rolls it back, never commits. SQL that tries to write is refused by the database
  itself, not by a regex of ours.
* **One door for reconcile's own tables.** The diff in the database and the checks stage rows
  into TEMPORARY tables; :func:`own_statements` is the only way past the guard, and only
  reconcile's own statements on its own tables go through it (never the shop's SQL).
* **One binding.** Every query a team writes (truth, lookup, events, people) is bound by
  :func:`bind_window`: the same typed ``:as_of``/``:window_start`` (+ epochs), and a one-line
  error naming an unknown parameter.
* **Streamed.** :func:`stream_rows` hands rows over in partitions through server-side cursors
  where the driver has them, as the driver's own tuples.
"""

from __future__ import annotations

import time
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import datetime, timedelta, timezone
from typing import Any, Iterable, Iterator, Sequence
from weakref import WeakKeyDictionary

from sqlalchemy import DateTime, Integer, String, bindparam, create_engine, event, text
from sqlalchemy.engine import Connection, Engine
from sqlalchemy.exc import DBAPIError, NoSuchModuleError, SQLAlchemyError
from sqlalchemy.sql.elements import TextClause
from sqlalchemy.pool import NullPool

from ..config import DatabaseConfig
from ..errors import ConfigError

PARTITION_ROWS = 50_000
WINDOW_PARAMETERS = ("as_of", "window_start", "as_of_epoch", "window_start_epoch")


@dataclass(frozen=True)
class Window:
    """The instants a segment's SQL is bound to: ``:as_of`` and ``:window_start`` (+ epochs)."""

    as_of: datetime
    window_start: datetime

    @classmethod
    def ending(cls, as_of: datetime, window_days: float) -> "Window":
        as_of = as_of.astimezone(timezone.utc)
        return cls(as_of=as_of, window_start=as_of - timedelta(days=window_days))

    def parameters(self, naive: bool) -> dict[str, Any]:
        def instant(value: datetime) -> datetime:
            return value.replace(tzinfo=None) if naive else value
        return {
            "as_of": instant(self.as_of),
            "window_start": instant(self.window_start),
            "as_of_epoch": int(self.as_of.timestamp()),
            "window_start_epoch": int(self.window_start.timestamp()),
        }


def naive_datetimes(dialect: str) -> bool:
    """Whether the dialect binds datetimes without a time zone (all but PostgreSQL's timestamptz)."""
    return dialect != "postgresql"


def bind_window(sql: str, dialect: str, window: Window, lists: Sequence[str] = ()) -> tuple[TextClause, dict[str, Any]]:
    """``(text(sql) with its parameters typed, the window's values for those it uses)``.

    ``lists`` are expanding string parameters the caller fills (the lookup's ``:ids``); any
    other parameter is a ConfigError naming it and the ones available."""
    clause = text(sql)
    used = set(clause._bindparams)  # the names SQLAlchemy found in the text
    unknown = used - set(WINDOW_PARAMETERS) - set(lists)
    if unknown:
        available = ", ".join(f":{name}" for name in (*WINDOW_PARAMETERS, *lists))
        raise ConfigError(f"uses unknown parameter :{sorted(unknown)[0]}; available: {available}")
    aware = not naive_datetimes(dialect)
    types = {"as_of": DateTime(timezone=aware), "window_start": DateTime(timezone=aware),
             "as_of_epoch": Integer(), "window_start_epoch": Integer()}
    binds = [bindparam(name, type_=types[name]) if name in types else bindparam(name, expanding=True, type_=String())
             for name in sorted(used)]
    values = {k: v for k, v in window.parameters(naive_datetimes(dialect)).items() if k in used}
    return clause.bindparams(*binds), values


def open_engine(database: DatabaseConfig) -> Engine:
    """An engine with no pool (one short-lived connection per segment) and no password in errors."""
    try:
        engine = create_engine(database.url, poolclass=NullPool, hide_parameters=True)
    except NoSuchModuleError:
        raise ConfigError(f"database.url: no SQLAlchemy dialect or driver for {database.masked_url}; "
                          "install it (e.g. psycopg for postgresql+psycopg)") from None
    except (ImportError, ModuleNotFoundError) as exc:
        raise ConfigError(f"database.url: the driver for {database.masked_url} is not installed "
                          f"({exc.name or exc}); pip install it") from None
    except SQLAlchemyError as exc:
        raise ConfigError(f"database.url: cannot be used ({exc.__class__.__name__}); check {database.masked_url}") from None
    _install_read_only_guard(engine, database.statement_timeout_seconds)
    return engine


_GUARDED: "WeakKeyDictionary[Engine, int]" = WeakKeyDictionary()   # engine → its statement timeout


def guard_like(guarded: Engine, other: Engine) -> None:
    """Give ``other`` (an engine a library made, such as GX's) the read-only guard ``guarded`` has."""
    if other not in _GUARDED:
        _install_read_only_guard(other, _GUARDED.get(guarded, DatabaseConfig.statement_timeout_seconds))


def _install_read_only_guard(engine: Engine, timeout_seconds: int) -> None:
    """Make every transaction on this engine read-only, time-limited and UTC, per dialect."""
    dialect = engine.dialect.name
    _GUARDED[engine] = timeout_seconds

    @event.listens_for(engine, "begin")
    def _begin(conn: Connection) -> None:
        raw = conn.connection.dbapi_connection

        def run(statement: str) -> None:  # a plain cursor, not the server-side one meant for the query
            cursor = raw.cursor()
            try:
                cursor.execute(statement)
            finally:
                cursor.close()

        if dialect == "postgresql":
            run("SET TRANSACTION READ ONLY")
            run(f"SET LOCAL statement_timeout = {int(timeout_seconds) * 1000}")
            run("SET LOCAL TIME ZONE 'UTC'")
        elif dialect in ("mysql", "mariadb"):
            # pymysql opens transactions implicitly; open it explicitly, read-only.
            run("SET time_zone = '+00:00'")
            if conn.dialect._is_mariadb:  # type: ignore[attr-defined]
                run(f"SET SESSION max_statement_time = {int(timeout_seconds)}")
            else:
                run(f"SET SESSION max_execution_time = {int(timeout_seconds) * 1000}")
            run("START TRANSACTION READ ONLY")
        elif dialect == "sqlite":
            raw.execute("PRAGMA query_only = ON")
            deadline = time.monotonic() + timeout_seconds
            raw.set_progress_handler(lambda: 1 if time.monotonic() > deadline else 0, 10_000)


@contextmanager
def own_statements(target: Engine | Connection) -> Iterator[Any]:
    """A driver cursor for reconcile's own statements on its own temporary tables, committed
    at once: the one way past the read-only guard.

    PostgreSQL refuses ``CREATE TEMP TABLE`` in a read-only transaction and SQLite's
    ``query_only`` refuses every write, so these statements run on the driver connection with
    no SQLAlchemy transaction on it (SQLite's ``query_only`` lifted for their duration). What
    goes through here is reconcile's own DDL and its own rows, with one exception: on SQLite the
    checks copy the events query into a temporary table with ``CREATE TEMPORARY TABLE ... AS
    SELECT``, because ``query_only`` refuses even that; a SELECT cannot write on SQLite (it has no
    data-changing functions), so the guard is not weakened.
    ``target`` is a Connection whose temporary tables must outlive the call, or an Engine
    (its connection is returned to the pool afterwards)."""
    owned = isinstance(target, Engine)
    raw = target.raw_connection() if owned else target.connection.dbapi_connection
    cursor = raw.cursor()
    guarded = target.dialect.name == "sqlite" and cursor.execute("PRAGMA query_only").fetchone()[0]
    try:
        if guarded:
            cursor.execute("PRAGMA query_only = OFF")
        yield cursor
        raw.commit()
    except BaseException:
        raw.rollback()
        raise
    finally:
        if guarded:
            cursor.execute("PRAGMA query_only = ON")
        cursor.close()
        if owned:
            raw.close()


def stream_rows(engine: Engine, sql: str, window: Window, partition_rows: int = PARTITION_ROWS
                ) -> Iterator[tuple[list[str], list[tuple]]]:
    """Yield ``(column names, rows)`` partitions from a read-only, rolled-back transaction."""
    statement, values = bind_window(sql, engine.dialect.name, window)
    with engine.connect() as conn:
        conn = conn.execution_options(stream_results=True, yield_per=partition_rows)
        with conn.begin() as transaction:
            result = conn.execute(statement, values)
            columns = list(result.keys())
            # The first partition through SQLAlchemy (it holds a prefetched row), the rest as the
            # driver's own tuples: text() has no result types to process, and a Row per row
            # would be most of the time spent here.
            rows = [tuple(row) for row in result.fetchmany(partition_rows)]
            cursor = result.cursor if len(rows) == partition_rows else None
            while rows:
                yield columns, rows
                rows = cursor.fetchmany(partition_rows) if cursor is not None else []
                if rows and type(rows[0]) is not tuple:
                    rows = [tuple(row) for row in rows]
            result.close()
            transaction.rollback()


def find_column(columns: Iterable[str], name: str) -> str | None:
    """The column named ``name``, exactly, else ignoring case; None when there is none."""
    columns = list(columns)
    if name in columns:
        return name
    return next((column for column in columns if isinstance(column, str) and column.lower() == name.lower()), None)


def describe_database_error(exc: DBAPIError, engine: Engine, what: str = "the truth SQL") -> str:
    """One line for a driver error: what went wrong and what to check, without the password."""
    where = engine.url.render_as_string(hide_password=True)
    original = exc.orig
    message = str(original).strip().splitlines()[0] if original is not None and str(original).strip() \
        else exc.__class__.__name__
    lowered = message.lower()
    if exc.connection_invalidated or isinstance(exc.orig, (ConnectionError,)) or any(
            s in lowered for s in ("could not connect", "connection refused", "can't connect", "unable to open",
                                   "could not translate host", "name or service not known", "timeout expired")):
        return f"cannot connect to {where} ({message}); check database.url and that the server is up"
    if any(s in lowered for s in ("password authentication failed", "access denied", "authentication failed")):
        return f"the database refused the credentials for {where} ({message}); check the user and password"
    if any(s in lowered for s in ("read-only", "read only", "readonly", "query_only", "attempt to write",
                                  "data-modifying")):
        return f"{what} tried to write, and reconcile only reads ({message}); make it a SELECT"
    if any(s in lowered for s in ("statement timeout", "canceling statement", "max_statement_time",
                                  "max_execution_time", "interrupted")):
        return f"{what} ran past database.statement_timeout_seconds ({message}); speed it up or raise the limit"
    return f"{what} failed: {message}; fix the SQL and try again"


__all__ = ["Window", "PARTITION_ROWS", "WINDOW_PARAMETERS", "bind_window", "naive_datetimes", "open_engine",
           "guard_like", "own_statements", "stream_rows", "find_column", "describe_database_error"]
