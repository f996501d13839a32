"""The truth's keys normalised in the shop database exactly as :mod:`reconcile.identity` does in Python.

``diff = "database"`` must find the people ``diff = "memory"`` finds, on every identifier.
Python's rule (an id kept as it is unless it is only blanks, an email trimmed and lower-cased)
uses Unicode's whitespace and case mappings, which no database reproduces exactly (SQLite
lower-cases ASCII only; PostgreSQL and MariaDB follow their own locale or collation, and Python
lowers ``İ`` to two characters). So the work is split where it can be exact:

* **ASCII keys, in SQL.** For text that is plain ASCII the rule is a fixed set of blanks
  (:data:`~reconcile.identity.ASCII_BLANKS`) and the letters A-Z, which every database spells
  the same way; integers are their decimal text on both sides.
* **Every other key, in Python.** SQLite calls Python's own rule as a function registered on
  the connection. PostgreSQL and MariaDB hand the distinct non-ASCII keys to Python once, and
  the normalised keys come back in a temporary table (``<table>_u``: raw → key) that the
  comparison joins; where the truth has no such key, nothing extra is read.
* **Key columns whose text differs from Python's**: a float or decimal id renders ``417.0``
  or ``417.00`` in SQL and ``417`` in Python, a PostgreSQL ``char(n)`` loses its padding in
  SQL but not in Python. Such a column is refused with a message that says to cast it in the
  SQL or to diff in memory, never compared differently (:func:`check_key_type`).
"""

from __future__ import annotations

from typing import Any, Callable

from sqlalchemy import text

from ..errors import DatabaseError
from ..identity import ASCII_BLANKS, normalizer
from ..shop.database import Window, bind_window

BLANKS = tuple(map(ord, ASCII_BLANKS))   # what str.strip() removes among ASCII characters
UPPER, LOWER = "ABCDEFGHIJKLMNOPQRSTUVWXYZ", "abcdefghijklmnopqrstuvwxyz"

#: key column types whose text is the same in the database and in Python, by the driver's type code
_PG_TYPES = {20: "bigint", 21: "smallint", 23: "integer", 25: "text", 1043: "varchar", 2950: "uuid", 19: "name"}
_MYSQL_TYPES = {1: "TINYINT", 2: "SMALLINT", 3: "INT", 8: "BIGINT", 9: "MEDIUMINT", 6: "NULL", 15: "VARCHAR",
                253: "VARCHAR", 254: "CHAR", 249: "TINYTEXT", 250: "MEDIUMTEXT", 251: "LONGTEXT", 252: "TEXT"}


def check_key_type(conn, dialect: str, sql: str, key: str, window: Window, segment: str) -> None:
    """Refuse a key column whose text the database would spell differently from Python."""
    allowed = {"postgresql": _PG_TYPES, "mysql": _MYSQL_TYPES, "mariadb": _MYSQL_TYPES}.get(dialect)
    if allowed is None:      # SQLite: each value has its own type, and Python normalises the others
        return
    result = conn.execute(*bind_window(f"SELECT t.{key} FROM ({sql}) t LIMIT 0", dialect, window))
    code = result.cursor.description[0][1]
    name = _type_name(result.cursor, dialect, code) if code not in allowed else ""
    result.close()
    if code not in allowed:
        raise DatabaseError(
            f"segment {segment}: diff = \"database\" compares the {key} as text, and the truth SQL's {key} column "
            f"is {name}, which the database spells differently from Python (417.0 or 417.00 for 417, char padding); "
            f"cast it in the SQL (CAST({key} AS BIGINT), or to text) or set diff = \"memory\" for this segment")


def _type_name(cursor, dialect: str, code: Any) -> str:
    if dialect == "postgresql":
        info = cursor.connection.adapters.types.get(code)
        return info.name if info is not None else f"of type {code}"
    from pymysql.constants import FIELD_TYPE

    return next((name for name, value in vars(FIELD_TYPE).items() if value == code and name.isupper()), f"type {code}")


def key_relation(dialect: str, key: str, sql: str, table: str, mapped: bool = False, utf8: bool = True,
                 numbered: bool = False) -> str:
    """The truth SQL as the derived table ``tr`` with ``reconcile_key`` (the normalised key, NULL
    where there is none), ``reconcile_raw`` (the key's text where Python must normalise it,
    PostgreSQL and MariaDB) and ``reconcile_row``, then the truth's own columns.

    ``mapped``: join ``<table>_u`` for the keys Python normalised (without it they have no key
    yet: the first pass, which finds them, need not pay for the join). ``utf8``: PostgreSQL's
    server encoding is UTF8, where a byte count tells ASCII apart faster than a pattern.
    ``numbered``: ``reconcile_row`` (first of the truth's columns) is the row's position in the
    truth SQL's output, numbered before any join, so the pass that reads the missing people's
    rows keeps the first row of each person, as in memory, whatever order its joins return."""
    rows = f"({_numbered(dialect, sql)})" if numbered else f"({sql})"
    if dialect == "sqlite":
        value, column = f"CAST(t.{key} AS TEXT)", f"t.{key}"
        chars = " || ".join(f"char({c})" for c in BLANKS)
        ascii_key = _ascii_rule(key, value, f"trim({value}, {chars})", f"lower(trim({value}, {chars}))")
        normalised = (f"CASE WHEN typeof({column}) = 'integer' THEN {value} "
                      f"WHEN typeof({column}) = 'text' AND length({column}) = length(CAST({column} AS BLOB)) "
                      f"THEN {ascii_key} ELSE {python_function(key)}({column}) END")
        return f"(SELECT {normalised} AS reconcile_key, NULL AS reconcile_raw, t.* FROM {rows} t) tr"
    if dialect == "postgresql":
        value = f"CAST(t.{key} AS text)"
        trimmed = f"btrim({value}, {' || '.join(f'chr({c})' for c in BLANKS)})"
        ascii_key = _ascii_rule(key, value, trimmed, f'lower({trimmed} COLLATE "C")')     # "C": A-Z only
        beyond_ascii = f"octet_length({value}) <> length({value})" if utf8 else f"{value} ~ '[^\\x01-\\x7f]'"
    else:
        value = f"CAST(t.{key} AS CHAR CHARACTER SET utf8mb4) COLLATE utf8mb4_nopad_bin"
        trimmed = f"REGEXP_REPLACE({value}, '^[[:space:]\\\\x1c-\\\\x1f]+|[[:space:]\\\\x1c-\\\\x1f]+$', '')"
        ascii_key = _ascii_rule(key, value, trimmed, f"LOWER({trimmed})")
        beyond_ascii = f"LENGTH({value}) <> CHAR_LENGTH({value})"
    python_key, join = ("u.k", f" LEFT JOIN {table}_u u ON u.raw = {value}") if mapped else ("NULL", "")
    return (f"(SELECT CASE WHEN {beyond_ascii} THEN {python_key} ELSE {ascii_key} END AS reconcile_key, "
            f"CASE WHEN {beyond_ascii} THEN {value} END AS reconcile_raw, t.* FROM {rows} t{join}) tr")


def _numbered(dialect: str, sql: str) -> str:
    """The truth SQL's rows with their position in its output as ``reconcile_row``.

    MariaDB and MySQL number through a session variable as the rows stream: their
    ``ROW_NUMBER() OVER ()`` passes the rows through a sort first, which may reorder rows
    without a sort key, so the first row of a person could differ from the one memory keeps."""
    if dialect in ("mysql", "mariadb"):
        return (f"SELECT (@reconcile_row := @reconcile_row + 1) AS reconcile_row, t0.* "
                f"FROM ({sql}) t0 CROSS JOIN (SELECT @reconcile_row := 0) reconcile_start")
    return f"SELECT ROW_NUMBER() OVER () AS reconcile_row, t0.* FROM ({sql}) t0"


def _ascii_rule(key: str, value: str, trimmed: str, lowered: str) -> str:
    """Python's rule for ASCII text: an email trimmed and lower-cased, an id as it is unless blank."""
    return f"NULLIF({lowered}, '')" if key == "email" else f"CASE WHEN {trimmed} = '' THEN NULL ELSE {value} END"


def python_function(key: str) -> str:
    return f"reconcile_normalize_{key}"


def register_python_rule(connection, key: str) -> None:
    """SQLite: :func:`reconcile.identity.normalizer` as a function of the connection."""
    raw = connection.connection.dbapi_connection
    raw.create_function(python_function(key), 1, normalizer(key), deterministic=True)


def map_python_keys(run: Callable[..., Any], table: str, key: str, raws: list[str]) -> None:
    """The normalised key of each raw key Python must normalise, into ``<table>_u``."""
    normalize = normalizer(key)
    rows = [{"raw": raw, "k": normalize(raw)} for raw in raws]
    for start in range(0, len(rows), 10_000):
        run(text(f"INSERT INTO {table}_u (raw, k) VALUES (:raw, :k)"), rows[start:start + 10_000])


__all__ = ["check_key_type", "key_relation", "register_python_rule", "map_python_keys", "python_function"]
