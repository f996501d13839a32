"""An instant of any type as whole unix seconds: the one rule, in Python and in each database's SQL.

Shops store an order's time as a native timestamp, the outbox an event's as a number (seconds,
or milliseconds by mistake) or as text; the comparison needs both as the same number. The rule:

* a number (or text holding a JSON number) is a unix timestamp whose unit follows from its
  magnitude (below 1e11 seconds, then milliseconds, microseconds, nanoseconds), as the checks
  read timestamps (:meth:`reconcile.checks.sql.dialects.JsonDialect.unit`);
* text in the ISO form ``YYYY-MM-DD[T ]HH:MM:SS[.ffffff][Z|±HH:MM]`` (:data:`ISO`) is that
  instant, UTC when it names no offset; any other text has no time;
* a native timestamp is that instant, UTC when it has no zone (the shop database's session runs
  in UTC, see :mod:`reconcile.shop.database`);
* the fraction of a second is dropped (toward zero), so both sides compare whole numbers and
  the SQL equals Python exactly.

:func:`epoch_seconds` is the rule in Python; :class:`SqlTimes` spells it per database for a
column of a known kind (:func:`column_kinds` reads the kinds from the query's result
description: number, time, text; SQLite decides per value).
"""

from __future__ import annotations

import math
import re
from datetime import date, datetime, timezone
from decimal import Decimal
from typing import Any

from sqlalchemy.engine import Engine

from ..checks.rules import JSON_NUMBER
from ..checks.sql import JsonDialect
from ..shop.database import Window, bind_window

EPOCH = datetime(1970, 1, 1, tzinfo=timezone.utc)
ISO = r"[0-9]{4}-[0-9]{2}-[0-9]{2}[T ][0-9]{2}:[0-9]{2}:[0-9]{2}(\.[0-9]{1,6})?(Z|[+-][0-9]{2}:[0-9]{2})?"
_ISO, _NUMBER = re.compile(ISO), re.compile(JSON_NUMBER)
NUMBER, TIME, TEXT, ANY = "number", "time", "text", "any"     # column kinds

# result-description type codes: PostgreSQL type OIDs (psycopg), MySQL field types (pymysql)
_POSTGRES = {NUMBER: {20, 21, 23, 700, 701, 1700}, TIME: {1082, 1114, 1184}}
_MYSQL = {NUMBER: {0, 1, 2, 3, 4, 5, 8, 9, 13, 246}, TIME: {7, 10, 12, 14}}


def from_number(value: float) -> int | None:
    """A unix timestamp in seconds from a number in any unit, by its magnitude."""
    if not math.isfinite(value):
        return None
    size = abs(value)
    divisor = 1 if size < 1e11 else 1_000 if size < 1e14 else 1_000_000 if size < 1e17 else 1_000_000_000
    return int(value / divisor)


def epoch_seconds(value: Any) -> int | None:
    """Whole unix seconds of an instant of any type (see the module docstring); None when it has none."""
    if value is None or isinstance(value, bool):
        return None
    if isinstance(value, datetime):
        delta = (value if value.tzinfo else value.replace(tzinfo=timezone.utc)) - EPOCH
        return delta.days * 86_400 + delta.seconds
    if isinstance(value, date):
        return (value - EPOCH.date()).days * 86_400
    if isinstance(value, int):
        return from_number(value)
    if isinstance(value, (float, Decimal)):
        return from_number(float(value))
    if isinstance(value, bytes):
        value = value.decode("utf-8", "replace")
    if isinstance(value, str):
        if _NUMBER.fullmatch(value):
            return from_number(float(value))
        if _ISO.fullmatch(value):
            try:
                return epoch_seconds(datetime.fromisoformat(value.replace("Z", "+00:00")))
            except ValueError:   # the form, but no such day (2026-02-30)
                return None
    return None


def as_number(value: Any) -> float | None:
    """A money amount: a number, or text holding a JSON number (as the checks read numbers)."""
    if value is None or isinstance(value, bool):
        return None
    if isinstance(value, (int, float, Decimal)):
        number = float(value)
        return number if math.isfinite(number) else None
    if isinstance(value, str) and _NUMBER.fullmatch(value):
        return float(value)
    return None


def ours(sql: str) -> str:
    """reconcile's own SQL fragment as text() must read it: every colon escaped, so a regex's
    ``(?:0|...)`` is not taken for a bind parameter (the team's queries keep theirs)."""
    return sql.replace(":", "\\:")


def column_kinds(engine: Engine, sql: str, window: Window) -> dict[str, str]:
    """The kind (number, time, text; any on SQLite) of each column of ``sql``, from an empty
    result's description, read in a read-only transaction."""
    statement, values = bind_window(f"SELECT * FROM ({sql}) AS q WHERE 1 = 0", engine.dialect.name, window)
    with engine.connect() as conn:
        with conn.begin():
            result = conn.execute(statement, values)
            description = result.cursor.description
            result.close()
    codes = {"postgresql": _POSTGRES, "mysql": _MYSQL, "mariadb": _MYSQL}.get(engine.dialect.name)
    if codes is None:
        return {entry[0]: ANY for entry in description}
    return {entry[0]: next((kind for kind, found in codes.items() if entry[1] in found), TEXT)
            for entry in description}


class SqlTimes:
    """:func:`epoch_seconds` and :func:`as_number` spelled in one database's SQL."""

    def __init__(self, json: JsonDialect, dialect: str):
        self.json, self.dialect = json, "mysql" if dialect == "mariadb" else dialect

    def seconds(self, column: str, kind: str) -> str:
        """``column`` (of ``kind``) as whole unix seconds, NULL when it holds no instant."""
        if kind == NUMBER:
            return self._from_number(column)
        if kind == TIME:
            return (f"TRUNC(EXTRACT(EPOCH FROM {column}))" if self.dialect == "postgresql"
                    else f"TIMESTAMPDIFF(SECOND, '1970-01-01 00:00:00', {column})")
        if self.dialect == "sqlite":
            return (f"CASE typeof({column}) WHEN 'integer' THEN {self._from_number(column)} "
                    f"WHEN 'real' THEN {self._from_number(column)} WHEN 'text' THEN {self._from_text(column)} END")
        return self._from_text(self.json.as_string(column))

    def number(self, column: str, kind: str) -> str:
        """``column`` as a double: a number, or text holding a JSON number."""
        if kind == NUMBER:
            return f"CAST({column} AS {self.json.number_type})"
        return self.json.base_number(column, False)

    def _from_number(self, n: str) -> str:
        divided = (f"{n} / CASE WHEN ABS({n}) < 1e11 THEN 1.0 WHEN ABS({n}) < 1e14 THEN 1000.0 "
                   f"WHEN ABS({n}) < 1e17 THEN 1000000.0 ELSE 1000000000.0 END")
        if self.dialect == "postgresql":
            return f"TRUNC({divided})"
        if self.dialect == "mysql":
            return f"TRUNCATE({divided}, 0)"
        return f"CAST({divided} AS INTEGER)"

    def _from_text(self, t: str) -> str:
        number = self._from_number(self.json.number_in_text(t))
        literal = self.json.literal
        if self.dialect == "postgresql":
            iso = f"TRUNC(EXTRACT(EPOCH FROM CAST({t} AS timestamptz)))"
            return f"CASE WHEN {t} ~ {literal('^' + ISO + '$')} THEN {iso} ELSE {number} END"
        if self.dialect == "mysql":
            exact = self.json.binary(t)
            offset = (f"CASE WHEN {exact} REGEXP '[+-][0-9]{{2}}:[0-9]{{2}}$' THEN "
                      f"(CASE WHEN SUBSTRING({t}, -6, 1) = '-' THEN -1 ELSE 1 END) * "
                      f"(CAST(SUBSTRING({t}, -5, 2) AS SIGNED) * 3600 + CAST(SUBSTRING({t}, -2, 2) AS SIGNED) * 60) "
                      "ELSE 0 END")
            iso = (f"TIMESTAMPDIFF(SECOND, '1970-01-01 00:00:00', CAST(REPLACE(LEFT({t}, 19), 'T', ' ') AS DATETIME))"
                   f" - {offset}")
            return f"CASE WHEN {exact} REGEXP {literal('^' + ISO + '$')} THEN {iso} ELSE {number} END"
        # SQLite keeps milliseconds and would round .9995 up: the seconds are read without the
        # fraction, with the zone the text names (once SQLite has accepted the whole text)
        prefix = "[0-9][0-9][0-9][0-9]-[0-9][0-9]-[0-9][0-9][T ][0-9][0-9]:[0-9][0-9]:[0-9][0-9]*"
        zone = (f"CASE WHEN substr({t}, -1) = 'Z' THEN 'Z' WHEN substr({t}, -6, 1) IN ('+', '-') "
                f"AND substr({t}, -3, 1) = ':' THEN substr({t}, -6) ELSE '' END")
        whole = f"CAST(strftime('%s', substr({t}, 1, 19) || {zone}) AS INTEGER)"
        return f"CASE WHEN {t} GLOB '{prefix}' AND strftime('%s', {t}) IS NOT NULL THEN {whole} ELSE {number} END"


__all__ = ["epoch_seconds", "from_number", "as_number", "column_kinds", "ours", "SqlTimes", "ISO", "NUMBER", "TIME", "TEXT",
           "ANY"]
