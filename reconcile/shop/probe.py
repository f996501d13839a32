"""A query's columns without its rows: the team's SQL wrapped so the database compiles and plans
it but returns nothing (``reconcile validate``).

The wrapped query runs in the same read-only, time-limited transaction as a run's, with the
window's parameters bound and every list parameter (the lookup's ``:ids``, ``:emails``) given
one value that matches nobody, so a table, a column or a parameter that is wrong fails here
exactly as it would in a run, and nothing is read.
"""

from __future__ import annotations

from sqlalchemy.engine import Engine

from .database import Window, bind_window

NOBODY = "\x00"


def query_columns(engine: Engine, sql: str, window: Window, lists: tuple[str, ...] = ()) -> list[str]:
    """The column names ``sql`` returns; raises what SQLAlchemy raises (DBAPIError, ConfigError)."""
    wrapped = f"SELECT * FROM (\n{sql.strip().rstrip(';')}\n) AS reconcile_probe WHERE 1 = 0"
    statement, values = bind_window(wrapped, engine.dialect.name, window, lists=lists)
    values.update({name: [NOBODY] for name in lists if name in statement._bindparams})
    with engine.connect() as conn, conn.begin() as transaction:
        columns = list(conn.execute(statement, values).keys())
        transaction.rollback()
    return columns


__all__ = ["query_columns"]
