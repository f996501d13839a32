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
* **Stoppable.** Every connection reconcile opens is remembered while it lives, so a signal
  can cancel what runs on it on the server (:func:`cancel_running_queries`) instead of leaving
  the query running until its statement timeout.
* **Streamed.** :func:`stream_rows` hands rows over in partitions through server-side cursors
  where the driver has them, as the driver's own tuples.
"""

from __future__ import annotations

import logging
import threading
import time
from concurrent.futures import Future, wait
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import datetime, timedelta, timezone
from typing import Any, Iterable, Iterator, Sequence
from weakref import WeakKeyDictionary

from sqlalchemy import BigInteger, DateTime, String, bindparam, create_engine, event, text
from sqlalchemy.engine import Connection, Engine
from sqlalchemy.exc import DBAPIError, NoSuchModuleError, SQLAlchemyError
from sqlalchemy.sql.elements import TextClause
from sqlalchemy.pool import NullPool

from ..config import DatabaseConfig
from ..errors import ConfigError, UsageError

log = logging.getLogger(__name__)

PARTITION_ROWS = 50_000
WINDOW_PARAMETERS = ("as_of", "window_start", "as_of_epoch", "window_start_epoch")


@dataclass(frozen=True)
class Window:
    """The instants a segment's SQL is bound to: ``:as_of`` and ``:window_start`` (+ epochs)."""

    as_of: datetime
    window_start: datetime

    @classmethod
    def ending(cls, as_of: datetime, window_days: float) -> "Window":
        """The window of ``window_days`` ending at ``as_of``; a UsageError when it starts before year 1."""
        as_of = as_of.astimezone(timezone.utc)
        try:
            return cls(as_of=as_of, window_start=as_of - timedelta(days=window_days))
        except OverflowError:
            raise UsageError(f"--as-of {as_of.isoformat()} minus window_days = {window_days:g} is before year 1; "
                             "choose a later --as-of") from None

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
             "as_of_epoch": BigInteger(), "window_start_epoch": BigInteger()}   # 64-bit: past 2038
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
    _track_connections(engine)

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


@dataclass(eq=False)
class _Open:
    """A driver connection reconcile has checked out, and the engine that can reach its server again."""

    connection: Any
    engine: Engine

    def cancel(self) -> None:
        """Cancel what runs on the connection, on the server; nothing when it is idle or closed."""
        dialect = self.engine.dialect.name
        if dialect == "postgresql":
            if not self.connection.closed:
                getattr(self.connection, "cancel_safe", self.connection.cancel)()
        elif dialect in ("mysql", "mariadb"):
            if self.connection.open:
                killer = self.engine.raw_connection()      # a new connection: the busy one cannot speak
                try:
                    killer.cursor().execute(f"KILL QUERY {int(self.connection.thread_id())}")
                finally:
                    killer.close()
        elif dialect == "sqlite":
            self.connection.interrupt()


_OPEN: dict[int, _Open] = {}             # pool record → the connection checked out through it
_OPEN_LOCK = threading.RLock()      # re-entrant: the signal handler may interrupt a holder


def _track_connections(engine: Engine) -> None:
    """Remember each connection of ``engine`` from checkout to checkin (with no pool: its whole life)."""
    @event.listens_for(engine, "checkout")
    def _checkout(dbapi_connection, record, _proxy) -> None:
        with _OPEN_LOCK:
            _OPEN[id(record)] = _Open(dbapi_connection, engine)

    @event.listens_for(engine, "checkin")
    def _checkin(_dbapi_connection, record) -> None:
        with _OPEN_LOCK:
            _OPEN.pop(id(record), None)


def cancel_running_queries() -> int:
    """Cancel, on the server, whatever runs on every connection reconcile has open (a signal's
    handler calls this); return how many connections were asked. Errors are ignored: a
    connection that closed meanwhile has nothing left to cancel."""
    with _OPEN_LOCK:
        entries = list(_OPEN.values())
    for entry in entries:
        try:
            entry.cancel()
        except Exception as exc:                      # the stop goes on whatever one cancel does
            log.debug("cancelling a query failed: %s", exc)
    return len(entries)


def settle(futures: Iterable[Future]) -> None:
    """After a stop (Ctrl-C, SIGTERM), wait for the workers still querying: cancel reconcile's
    queries again and again until each future is done. A cancel that lands between two statements
    misses the next one, so one cancel is not enough; a future not started yet never starts."""
    pending = {future for future in futures if not future.cancel()}
    while pending:
        cancel_running_queries()
        _, pending = wait(pending, timeout=0.05)


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


_CAUSES = (   # (cause, what the driver's first line says), first match wins
    ("connect", ("could not connect", "connection refused", "can't connect", "unable to open",
                 "could not translate host", "name or service not known", "timeout expired")),
    ("credentials", ("password authentication failed", "access denied", "authentication failed")),
    ("lost", ("terminating connection", "server closed the connection", "lost connection", "server has gone away",
              "connection was killed", "consuming input failed", "connection already closed",
              "the connection is closed", "connection reset", "broken pipe")),
    ("write", ("read-only", "read only", "readonly", "query_only", "attempt to write", "data-modifying")),
    ("timeout", ("statement timeout", "max_statement_time", "max_execution_time",
                 "maximum statement execution time")),
    ("cancelled", ("due to user request", "query execution was interrupted")),   # MariaDB's KILL QUERY: 1317
    ("timeout", ("interrupted",)),         # SQLite's progress handler, which only the time limit sets off
    ("nul", ("nul (0x00)", "0x00", "nul character", "null character")),
    ("too_long", ("data too long", "value too long")),
)


def database_cause(message: str) -> str | None:
    """Which of the known causes a driver's message names (``"cancelled"``, ``"lost"``, …), if any."""
    lowered = message.lower()
    return next((cause for cause, marks in _CAUSES if any(mark in lowered for mark in marks)), None)


def describe_database_error(exc: DBAPIError, engine: Engine, what: str = "the truth SQL") -> str:
    """One line for a driver error: what went wrong and what to check, without the password."""
    where = engine.url.render_as_string(hide_password=True)
    original = exc.orig
    message = str(original).strip().splitlines()[0] if original is not None and str(original).strip() \
        else exc.__class__.__name__
    cause = database_cause(message) or ("lost" if exc.connection_invalidated else None)
    if cause is None and isinstance(original, ConnectionError):
        cause = "connect"
    lines = {
        "connect": f"cannot connect to {where} ({message}); check database.url and that the server is up",
        "credentials": f"the database refused the credentials for {where} ({message}); check the user and password",
        "lost": f"the connection to {where} was lost while {what} ran ({message}); the server restarted or an "
                "operator ended the session: check the server's log, then re-run",
        "write": f"{what} tried to write, and reconcile only reads ({message}); make it a SELECT",
        "timeout": f"{what} ran past database.statement_timeout_seconds ({message}); speed it up or raise the limit",
        "cancelled": f"{what} was cancelled on the server ({message}): an operator or a tool stopped it "
                     "(pg_cancel_backend, KILL QUERY); re-run, and find who cancels reconcile's queries if it repeats",
    }
    return lines.get(cause, f"{what} failed: {message}; fix the SQL and try again")


__all__ = ["Window", "PARTITION_ROWS", "WINDOW_PARAMETERS", "bind_window", "naive_datetimes", "open_engine",
           "guard_like", "own_statements", "stream_rows", "find_column", "describe_database_error",
           "database_cause", "cancel_running_queries", "settle"]
