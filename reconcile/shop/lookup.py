"""What the shop knows about given people: the diagnosis' ``lookup_sql``, read-only.

The differing people are asked for by ``:ids`` (and ``:emails``, trimmed and lower-cased), both
expanding parameters, in chunks of :data:`LOOKUP_CHUNK` so that no database meets an ``IN``
list longer than it accepts. The query may use the window's parameters like the truth SQL.
"""

from __future__ import annotations

from typing import Any

from sqlalchemy.engine import Engine
from sqlalchemy.exc import SQLAlchemyError

from ..errors import ConfigError, DatabaseError, first_line
from .database import Window, bind_window

LOOKUP_CHUNK = 1000
NOBODY = "\x00"   # an empty IN list is not portable; this value matches nobody


def lookup_people(engine: Engine, sql: str, ids: list[str], emails: list[str], window: Window
                  ) -> list[dict[str, Any]]:
    """The lookup query's rows for these ids and emails, read-only, in chunks."""
    try:
        clause, values = bind_window(sql, engine.dialect.name, window, lists=("ids", "emails"))
    except ConfigError as exc:
        raise DatabaseError(f"the diagnosis lookup_sql {exc}; fix it and try again") from None
    used = set(clause._bindparams)
    if "ids" not in used:
        raise DatabaseError("lookup_sql must use :ids (the discrepant people's ids, an expanding parameter)")
    ids, emails = ids or [NOBODY], emails or [NOBODY]
    chunks = max(-(-len(ids) // LOOKUP_CHUNK), -(-len(emails) // LOOKUP_CHUNK))
    rows: list[dict[str, Any]] = []
    try:
        with engine.connect() as conn, conn.begin() as transaction:
            for n in range(chunks):
                part = {"ids": ids[n * LOOKUP_CHUNK:(n + 1) * LOOKUP_CHUNK] or [NOBODY]}
                if "emails" in used:
                    part["emails"] = emails[n * LOOKUP_CHUNK:(n + 1) * LOOKUP_CHUNK] or [NOBODY]
                result = conn.execute(clause, {**values, **part})
                columns = list(result.keys())
                rows.extend(dict(zip(columns, row)) for row in result)
            transaction.rollback()
    except SQLAlchemyError as exc:
        raise DatabaseError(f"the diagnosis lookup_sql failed: {first_line(exc)}; fix it and try again") from None
    return rows


__all__ = ["lookup_people", "LOOKUP_CHUNK"]
