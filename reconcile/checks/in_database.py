"""Great Expectations where the events live: GX's SQL data source on the events query.

With ``checks.events_sql`` (and ``checks.engine = "database"``, the default), each event suite's
column expectations run in the shop database instead of on a pandas frame: one GX query asset
per event name selects the events of that name from ``events_sql`` and extracts the properties
the suite names from the JSON ``properties`` text, per dialect (SQLite ``json_extract``,
PostgreSQL ``jsonb``, MariaDB/MySQL ``JSON_EXTRACT``). GX then computes its metrics as SQL
aggregates, so no event is held in Python for them.

Each expectation is planned once (:func:`plan`): it runs in the database when its meaning there
is the same as on the flattened frame, and stays in memory otherwise. In the database:

* ``not_be_null``, ``be_null``, ``match_regex``, ``not_match_regex``: on the value as pandas
  prints it (JSON null and a missing key are NULL; true/false are ``True``/``False``; text
  compares case-sensitively, also on MariaDB);
* ``be_unique``, and ``be_in_set``/``not_be_in_set`` with text values: on the value as text,
  with a mark before anything that is not a JSON string, so ``5`` and ``"5"`` stay different
  as they are in pandas;
* ``be_between`` with numeric bounds: on the value if it is a JSON number; as in pandas (where
  GX refuses to compare mixed types), a column that also holds other values fails with
  "could not be evaluated";
* ``be_in_type_list``/``be_of_type``: GX's ``be_in_set`` on the value's JSON type, named as
  Python names it (``int``, ``float``, ``str``, ``bool``, ``list``, ``dict``), with pandas'
  per-value meaning (``int`` admits true/false; ``int64`` names a dtype and admits no value).
  Where pandas sees a column of numbers only, it checks the dtype instead; the shipped suites
  list both spellings (``["int", "float", "int64", "float64"]``) so the two agree;
* ``expect_column_to_exist``: a property exists when at least one event carries its key.

Line-item expectations (``on = "items"``) run the same way on the items exploded in SQL
(:meth:`EventsQuery.items`: ``json_each``, ``jsonb_array_elements``, ``JSON_TABLE``), and
reconcile's rules run as SQL too (:mod:`.rules_in_database`). What stays in memory (a lean pass
over the events, :mod:`.runner`): columns whose names are not plain identifiers, and any other GX
expectation. Results are the same either way; tests hold the two engines equal on SQLite,
PostgreSQL and MariaDB.

The data source is GX's own (it takes a connection string); its engine gets the same read-only,
time-limited guard as reconcile's (:func:`reconcile.shop.database.guard_like`), so GX cannot write to
the shop either.
"""

from __future__ import annotations

import logging
import re
from dataclasses import dataclass, field, replace
from functools import cached_property
from itertools import count
from typing import Any

from sqlalchemy import String, text
from sqlalchemy.engine import Engine
from sqlalchemy.exc import SQLAlchemyError

from ..errors import first_line
from ..shop.database import Window, bind_window
from .flatten import BASE_COLUMNS, ITEM_BASE, ITEMS, ITEMS_TYPE, items_in_text
from .model import EVENTS, Expectation
from .rules import JSON_NUMBER
from .sources import CANONICAL, SourceError, column_positions

log = logging.getLogger(__name__)

TEXT, TYPED, NUMBER, TYPE = "text", "typed", "number", "type"
DIALECTS = ("sqlite", "postgresql", "mysql", "mariadb")
_PLAIN = re.compile(r"^[A-Za-z_][A-Za-z0-9_]*$")

_ON_TEXT = {"expect_column_values_to_not_be_null", "expect_column_values_to_be_null",
            "expect_column_values_to_match_regex", "expect_column_values_to_not_match_regex",
            "expect_column_values_to_match_regex_list", "expect_column_values_to_not_match_regex_list"}
_ON_TYPED = {"expect_column_values_to_be_unique", "expect_column_values_to_be_in_set",
             "expect_column_values_to_not_be_in_set"}
# GX on a pandas object column tests each value with isinstance against the named Python type
# (so True is an int); numpy names (int64, float64) match no Python value there, only a dtype.
_TYPE_NAMES = {"int": ("int", "bool"), "float": ("float",), "str": ("str",), "bool": ("bool",), "list": ("list",),
               "dict": ("dict",), "int64": (), "int32": (), "Int64": (), "float64": (), "float32": ()}
# The value column of each kind; a property used as text and as a number gets both.
_SUFFIX = {TEXT: "", TYPED: "__typed", NUMBER: "__number", TYPE: "__type"}
MARK = "\x1f"   # before the text of a value that is not a JSON string: 5 and "5" stay different


@dataclass(frozen=True)
class Routed:
    """An expectation run in the database: what GX runs, on which extracted column."""

    expectation: Expectation          # as the suite wrote it (results are reported under it)
    gx_form: Expectation              # what GX validates: same index, column renamed, maybe retyped
    column: str | None                # the property or base column it reads
    kind: str | None                  # TEXT, NUMBER, TYPE; None for expect_column_to_exist


def _number(value: Any) -> bool:
    return isinstance(value, (int, float)) and not isinstance(value, bool)


def plan(expectation: Expectation) -> Routed | None:
    """How ``expectation`` runs in the database, or None when it must run in memory."""
    kwargs, kind = dict(expectation.kwargs), expectation.type
    column = kwargs.get("column")
    if expectation.rule or not isinstance(column, str) or not _PLAIN.match(column) \
            or (expectation.on == EVENTS and column in (ITEMS, ITEMS_TYPE)):   # derived while flattening
        return None
    base = column in (BASE_COLUMNS if expectation.on == EVENTS else ITEM_BASE)
    if kind == "expect_column_to_exist":
        return None if set(kwargs) - {"column"} else Routed(expectation, expectation, column, None)
    if kind in _ON_TEXT:
        if base and kind != "expect_column_values_to_not_be_null":
            return None
        return _routed(expectation, column, TEXT, kind, kwargs, base)
    if kind in _ON_TYPED:
        values = kwargs.get("value_set")
        if kind != "expect_column_values_to_be_unique" and not (values and all(isinstance(v, str) for v in values)):
            return None   # numbers or mixed sets compare typed values: in memory
        return _routed(expectation, column, TYPED, kind, kwargs, base)
    if kind == "expect_column_values_to_be_between":
        bounds = [kwargs.get("min_value"), kwargs.get("max_value")]
        if not all(b is None or _number(b) for b in bounds) or kwargs.get("parse_strings_as_datetimes"):
            return None
        return _routed(expectation, column, NUMBER, kind, kwargs, base)
    if kind in ("expect_column_values_to_be_in_type_list", "expect_column_values_to_be_of_type") and not base:
        names = kwargs.pop("type_list", None) or [kwargs.pop("type_", None)]
        kwargs.pop("type_", None)
        if not names or any(n not in _TYPE_NAMES for n in names):
            return None
        kwargs["value_set"] = sorted({t for n in names for t in _TYPE_NAMES[n]}) or ["none"]
        return _routed(expectation, column, TYPE, "expect_column_values_to_be_in_set", kwargs, base)
    return None


def _routed(expectation: Expectation, column: str, kind: str, gx_type: str, kwargs: dict, base: bool) -> Routed:
    kind = TEXT if base else kind     # base columns are read as the query returns them
    kwargs["column"] = column + ("" if base else _SUFFIX[kind])
    return Routed(expectation, replace(expectation, type=gx_type, kwargs=kwargs), column, kind)


# ------------------------------------------------------------------ per-dialect JSON extraction


class _Json:
    """SQL fragments over the properties expression ``p`` (a column of the inner query)."""

    def __init__(self, engine: Engine):
        self.quote = engine.dialect.identifier_preparer.quote
        self.literal = String().literal_processor(dialect=engine.dialect)

    def properties(self, column: str) -> str:
        return column

    def as_string(self, expression: str) -> str:
        return f"CAST({expression} AS TEXT)"

    #: ends the inner query so the database computes its columns once per row rather than
    #: inlining them into every use (PostgreSQL would cast the properties to jsonb each time)
    fence = ""

    #: column types of the scratch tables, per kind (ids and property text are text)
    text_type, number_type, properties_type = "TEXT", "DOUBLE PRECISION", "TEXT"

    def is_object(self, p: str) -> str:
        raise NotImplementedError

    def json_type(self, p: str, key: str) -> str:
        """The key's JSON type as Python names it: int, float, str, bool, list, dict, none; NULL if absent."""
        raise NotImplementedError

    def as_text(self, p: str, key: str) -> str:
        raise NotImplementedError

    def as_number(self, p: str, key: str) -> str:
        raise NotImplementedError

    def is_string(self, p: str, key: str) -> str:
        raise NotImplementedError

    def as_typed(self, p: str, key: str) -> str:
        text_value = self.as_text(p, key)
        return f"CASE WHEN {self.is_string(p, key)} THEN {text_value} ELSE {self.literal(MARK)} || {text_value} END"

    def column(self, p: str, key: str, kind: str) -> str:
        inner = {TEXT: self.as_text, TYPED: self.as_typed, NUMBER: self.as_number,
                 TYPE: self._type_or_null}[kind](p, key)
        return f"CASE WHEN {self.is_object(p)} THEN {inner} END"

    def not_number(self, p: str, key: str) -> str:
        """1 for a value that is neither a number nor null (GX cannot compare it with numeric bounds)."""
        return (f"CASE WHEN {self.is_object(p)} AND {self.json_type(p, key)} NOT IN ('int', 'float', 'none') "
                "THEN 1 ELSE 0 END")

    def present(self, p: str, key: str) -> str:
        return f"CASE WHEN {self.is_object(p)} AND {self.json_type(p, key)} IS NOT NULL THEN 1 ELSE 0 END"

    def not_object(self, p: str) -> str:
        return f"CASE WHEN {p} IS NOT NULL AND NOT COALESCE({self.is_object(p)}, FALSE) THEN 1 ELSE 0 END"

    # ---- what reconcile's rules read (:mod:`.rules_in_database`)

    def concat(self, *parts: str) -> str:
        return "(" + " || ".join(parts) + ")"

    def binary(self, expression: str) -> str:
        """``expression`` compared and ordered by code point, as Python compares text."""
        return expression

    regex = "~"

    def number_in_text(self, t: str) -> str:
        """Text that is a JSON number (:data:`.rules.JSON_NUMBER`) as a number, else NULL."""
        return (f"CASE WHEN {t} {self.regex} {self.literal('^' + JSON_NUMBER + '$')} "
                f"THEN CAST({t} AS {self.number_type}) END")

    def base_number(self, column: str, numeric: bool) -> str:
        """A column of the events query as a number; ``numeric``: its SQL type is a number type."""
        return f"CAST({column} AS {self.number_type})" if numeric else self.number_in_text(self.as_string(column))

    def key_number(self, p: str, key: str) -> str:
        """A property as a number: a JSON number, or a string holding one (as :func:`.rules.numbers`)."""
        return (f"CASE WHEN {self.is_string(p, key)} THEN {self.number_in_text(self.as_text(p, key))} "
                f"ELSE {self.as_number(p, key)} END")

    def sent(self, p: str, key: str) -> str:
        """The key is there with a value other than JSON null (pandas: not missing)."""
        return f"COALESCE({self.json_type(p, key)}, 'none') <> 'none'"

    def items_kind(self, p: str) -> str:
        """How ``items`` arrived, as :func:`.flatten._items` names it: array, string, other,
        missing (JSON null); NULL without the key. PostgreSQL says "text" for a string that may
        hold an array: it has no test for valid JSON that does not fail the query."""
        raise NotImplementedError

    def explode_items(self, p: str, unparsable: list[str]) -> tuple[str, str, str]:
        """(a FROM-clause addition with one row per line item of ``p``, the item's index, the item
        where it is an object), for items sent as an array or as a JSON string holding one;
        ``unparsable``: the strings that look like an array and are not (PostgreSQL only)."""
        raise NotImplementedError

    def array_strings(self, p: str) -> tuple[str, str] | None:
        """(the items string, the condition) of the strings Python must parse before
        :meth:`explode_items` can (PostgreSQL); None where the database tests JSON itself."""
        return None

    def keys(self, p: str) -> tuple[str, str, str]:
        """(a FROM-clause addition naming each key of the object ``p`` as ``k``, the key, "its value is JSON null")."""
        raise NotImplementedError

    @staticmethod
    def unit(n: str) -> str:
        """A number's unit by its magnitude, as :func:`.rules.timestamp_units`; 'nan' for NULL."""
        return (f"CASE WHEN {n} IS NULL THEN 'nan' WHEN ABS({n}) < 1e11 THEN 's' WHEN ABS({n}) < 1e14 THEN 'ms' "
                f"WHEN ABS({n}) < 1e17 THEN 'us' ELSE 'ns' END")

    @staticmethod
    def seconds(n: str) -> str:
        return (f"{n} / CASE WHEN ABS({n}) < 1e11 THEN 1.0 WHEN ABS({n}) < 1e14 THEN 1e3 "
                f"WHEN ABS({n}) < 1e17 THEN 1e6 ELSE 1e9 END")

    def _type_or_null(self, p: str, key: str) -> str:
        return f"NULLIF({self.json_type(p, key)}, 'none')"

    def _types(self, value: str, names: dict[str, str]) -> str:
        whens = " ".join(f"WHEN {self.literal(k)} THEN {self.literal(v)}" for k, v in names.items())
        return f"CASE {value} {whens} END"


class _SQLite(_Json):
    def is_object(self, p):
        return f"(CASE WHEN json_valid({p}) THEN json_type({p}) = 'object' ELSE 0 END)"   # AND evaluates both sides

    def _path(self, key):
        return self.literal(_path(key))

    def number_in_text(self, t):   # SQLite has no REGEXP; its JSON parser tells a JSON number
        return f"CASE WHEN json_valid({t}) AND json_type({t}) IN ('integer', 'real') THEN CAST({t} AS REAL) END"

    def base_number(self, column, numeric):   # each value has its own type
        return (f"CASE WHEN typeof({column}) IN ('integer', 'real') THEN {column} "
                f"ELSE {self.number_in_text(self.as_string(column))} END")

    def sent(self, p, key):
        return f"COALESCE(json_type({p}, {self._path(key)}), 'null') <> 'null'"

    def items_kind(self, p):
        kind, value = f"json_type({p}, '$.items')", f"json_extract({p}, '$.items')"
        return (f"CASE WHEN {kind} IS NULL THEN NULL WHEN {kind} = 'array' THEN 'array' "
                f"WHEN {kind} = 'null' THEN 'missing' WHEN {kind} = 'text' AND json_valid({value}) "
                f"AND json_type({value}) = 'array' THEN 'string' ELSE 'other' END")

    def keys(self, p):
        return f", json_each(CASE WHEN {self.is_object(p)} THEN {p} ELSE '{{}}' END) AS k", "k.key", "k.type = 'null'"

    def explode_items(self, p, unparsable):
        kind, value = f"json_type({p}, '$.items')", f"json_extract({p}, '$.items')"
        doc = (f"CASE WHEN {self.is_object(p)} THEN CASE WHEN {kind} = 'array' OR ({kind} = 'text' "
               f"AND json_valid({value}) AND json_type({value}) = 'array') THEN {value} END END")
        return f", json_each({doc}) AS j", "j.key", "CASE WHEN j.type = 'object' THEN j.value END"

    def json_type(self, p, key):
        return self._types(f"json_type({p}, {self._path(key)})",
                           {"integer": "int", "real": "float", "text": "str", "true": "bool", "false": "bool",
                            "array": "list", "object": "dict", "null": "none"})

    def as_text(self, p, key):
        kind, value = f"json_type({p}, {self._path(key)})", f"json_extract({p}, {self._path(key)})"
        return (f"CASE {kind} WHEN 'null' THEN NULL WHEN 'true' THEN 'True' WHEN 'false' THEN 'False' "
                f"ELSE CAST({value} AS TEXT) END")

    def is_string(self, p, key):
        return f"json_type({p}, {self._path(key)}) = 'text'"

    def as_number(self, p, key):
        return (f"CASE WHEN json_type({p}, {self._path(key)}) IN ('integer', 'real') "
                f"THEN json_extract({p}, {self._path(key)}) END")


class _PostgreSQL(_Json):
    """Properties are cast to jsonb once, in the inner query (text, json and jsonb columns alike)."""

    fence = " OFFSET 0"
    properties_type = "jsonb"
    _ARRAY_TEXT = "'^[ \\t\\n\\r]*\\['"     # a string that may hold an array

    def properties(self, column):
        return f"CAST({column} AS jsonb)"

    def is_object(self, p):
        return f"(jsonb_typeof({p}) = 'object')"

    def json_type(self, p, key):
        value, raw = f"{p} -> {self.literal(key)}", f"{p} ->> {self.literal(key)}"
        return (f"CASE jsonb_typeof({value}) WHEN 'number' THEN CASE WHEN {raw} ~ '^-?[0-9]+$' THEN 'int' "
                "ELSE 'float' END WHEN 'string' THEN 'str' WHEN 'boolean' THEN 'bool' WHEN 'array' THEN 'list' "
                "WHEN 'object' THEN 'dict' WHEN 'null' THEN 'none' END")

    def as_text(self, p, key):
        value, raw = f"{p} -> {self.literal(key)}", f"{p} ->> {self.literal(key)}"
        return (f"CASE jsonb_typeof({value}) WHEN 'boolean' THEN CASE WHEN {raw} = 'true' THEN 'True' "
                f"ELSE 'False' END ELSE {raw} END")

    def is_string(self, p, key):
        return f"jsonb_typeof({p} -> {self.literal(key)}) = 'string'"

    def as_number(self, p, key):
        return (f"CASE WHEN jsonb_typeof({p} -> {self.literal(key)}) = 'number' "
                f"THEN CAST({p} ->> {self.literal(key)} AS double precision) END")

    def binary(self, expression):
        return f'({expression}) COLLATE "C"'

    def sent(self, p, key):
        return f"COALESCE(jsonb_typeof({p} -> {self.literal(key)}), 'null') <> 'null'"

    def items_kind(self, p):
        kind, value = f"jsonb_typeof({p} -> 'items')", f"{p} ->> 'items'"
        return (f"CASE WHEN {kind} IS NULL THEN NULL WHEN {kind} = 'array' THEN 'array' "
                f"WHEN {kind} = 'null' THEN 'missing' WHEN {kind} = 'string' AND {value} ~ {self._ARRAY_TEXT} "
                "THEN 'text' ELSE 'other' END")

    def keys(self, p):
        return (f" CROSS JOIN LATERAL jsonb_each(CASE WHEN {self.is_object(p)} THEN {p} "
                "ELSE CAST('{}' AS jsonb) END) AS k", "k.key", "jsonb_typeof(k.value) = 'null'")

    def array_strings(self, p):
        value = f"{p} ->> 'items'"
        return value, f"jsonb_typeof({p} -> 'items') = 'string' AND {value} ~ {self._ARRAY_TEXT}"

    def explode_items(self, p, unparsable):
        kind, value = f"jsonb_typeof({p} -> 'items')", f"{p} ->> 'items'"
        excluded = f" AND {value} NOT IN ({', '.join(map(self.literal, unparsable))})" if unparsable else ""
        doc = (f"CASE WHEN {kind} = 'array' THEN {p} -> 'items' WHEN {kind} = 'string' "
               f"AND {value} ~ {self._ARRAY_TEXT}{excluded} THEN CAST({value} AS jsonb) END")
        return (f" CROSS JOIN LATERAL jsonb_array_elements(CASE WHEN jsonb_typeof({doc}) = 'array' THEN {doc} END) "
                "WITH ORDINALITY AS j(item, n)", "j.n - 1", "j.item")


class _MySQL(_Json):
    """MariaDB and MySQL: JSON_UNQUOTE's text is utf8mb4_bin, so comparisons and REGEXP are case-sensitive."""

    text_type, number_type = "LONGTEXT CHARACTER SET utf8mb4 COLLATE utf8mb4_bin", "DOUBLE"
    properties_type = text_type

    def as_string(self, expression):
        return f"CAST({expression} AS CHAR)"

    def is_object(self, p):
        return f"(CASE WHEN JSON_VALID({p}) THEN JSON_TYPE({p}) = 'OBJECT' ELSE 0 END)"

    regex = "REGEXP"

    def _value(self, p, key):
        return f"JSON_EXTRACT({p}, {self.literal(_path(key))})"

    def concat(self, *parts):
        return f"CONCAT({', '.join(parts)})"

    def binary(self, expression):
        return f"CAST({expression} AS CHAR CHARACTER SET utf8mb4) COLLATE utf8mb4_bin"

    def sent(self, p, key):
        return f"COALESCE(JSON_TYPE({self._value(p, key)}), 'NULL') <> 'NULL'"

    def items_kind(self, p):
        kind, raw = f"JSON_TYPE(JSON_EXTRACT({p}, '$.items'))", f"JSON_UNQUOTE(JSON_EXTRACT({p}, '$.items'))"
        return (f"CASE WHEN {kind} IS NULL THEN NULL WHEN {kind} = 'ARRAY' THEN 'array' "
                f"WHEN {kind} = 'NULL' THEN 'missing' WHEN {kind} = 'STRING' THEN "
                f"CASE WHEN JSON_VALID({raw}) THEN CASE WHEN JSON_TYPE({raw}) = 'ARRAY' THEN 'string' ELSE 'other' END "
                "ELSE 'other' END ELSE 'other' END")

    def keys(self, p):
        keys = f"JSON_KEYS(CASE WHEN {self.is_object(p)} THEN {p} ELSE '{{}}' END)"
        value = f"JSON_EXTRACT({p}, CONCAT('$.\"', REPLACE(k.name, '\"', '\\\\\"'), '\"'))"
        return (f", JSON_TABLE({keys}, '$[*]' COLUMNS (name VARCHAR(1024) PATH '$')) AS k",
                self.binary("k.name"), f"JSON_TYPE({value}) = 'NULL'")

    def explode_items(self, p, unparsable):
        kind, raw = f"JSON_TYPE(JSON_EXTRACT({p}, '$.items'))", f"JSON_UNQUOTE(JSON_EXTRACT({p}, '$.items'))"
        doc = (f"CASE WHEN {self.is_object(p)} THEN CASE WHEN {kind} = 'ARRAY' THEN JSON_EXTRACT({p}, '$.items') "
               f"WHEN {kind} = 'STRING' THEN CASE WHEN JSON_VALID({raw}) THEN CASE WHEN JSON_TYPE({raw}) = 'ARRAY' "
               f"THEN {raw} END END END END")
        return (f", JSON_TABLE({doc}, '$[*]' COLUMNS (n FOR ORDINALITY)) AS j", "j.n - 1",
                f"JSON_EXTRACT({doc}, CONCAT('$[', j.n - 1, ']'))")

    def json_type(self, p, key):
        return self._types(f"JSON_TYPE({self._value(p, key)})",
                           {"INTEGER": "int", "UNSIGNED INTEGER": "int", "DOUBLE": "float", "DECIMAL": "float",
                            "STRING": "str", "BOOLEAN": "bool", "ARRAY": "list", "OBJECT": "dict", "NULL": "none"})

    def as_text(self, p, key):
        value = self._value(p, key)
        return (f"CASE JSON_TYPE({value}) WHEN 'NULL' THEN NULL WHEN 'BOOLEAN' THEN "
                f"CASE WHEN {value} = 'true' THEN 'True' ELSE 'False' END ELSE JSON_UNQUOTE({value}) END")

    def is_string(self, p, key):
        return f"JSON_TYPE({self._value(p, key)}) = 'STRING'"

    def as_typed(self, p, key):
        text_value = self.as_text(p, key)
        return (f"CASE WHEN {self.is_string(p, key)} THEN {text_value} "
                f"ELSE CONCAT(CHAR(31 USING utf8mb4), {text_value}) END COLLATE utf8mb4_bin")

    def as_number(self, p, key):
        value = self._value(p, key)
        return (f"CASE WHEN JSON_TYPE({value}) IN ('INTEGER', 'UNSIGNED INTEGER', 'DOUBLE', 'DECIMAL') "
                f"THEN CAST(JSON_UNQUOTE({value}) AS DOUBLE) END")


_TABLE_NAMES = count(1)


def _path(key: str) -> str:
    """A JSON path to the key, quoted so that any key works (``$."product id"``)."""
    return '$."' + key.replace("\\", "\\\\").replace('"', '\\"') + '"'


def _json_for(engine: Engine) -> _Json:
    return {"sqlite": _SQLite, "postgresql": _PostgreSQL, "mysql": _MySQL, "mariadb": _MySQL}[engine.dialect.name](engine)


def supported(engine: Engine | None) -> bool:
    return engine is not None and engine.dialect.name in DIALECTS


# ------------------------------------------------------------------ the events query, per event name


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

    @cached_property
    def json(self) -> _Json:
        return _json_for(self.engine)

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
            json, select = self.json, self._live(event)
            types = {} if self.engine.dialect.name == "sqlite" else {
                "event_id": json.text_type, "customer_id": json.text_type, "anonymous_id": json.text_type,
                "timestamp": self.timestamp_type, "reconcile_properties": json.properties_type}
            self._fill(self.scratch, table, select, types)
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
    def timestamp_type(self) -> str | None:
        """The timestamp column's type (None on SQLite, where each value has its own)."""
        if self.engine.dialect.name == "sqlite":
            return None
        return self._timestamp_type(self.scratch or self.engine, f"SELECT {self._pick('timestamp')} AS "
                                    f"{self.json.quote('timestamp')} FROM ({self.sql}) AS q")

    def timestamp_number(self, column: str) -> str:
        """The timestamp as a number (:func:`.rules.numbers`): cast where its type is numeric,
        read from its text otherwise."""
        numeric = (self.timestamp_type or "").split("(")[0].strip().lower() in _NUMERIC_TYPES
        return self.json.base_number(column, numeric)

    def _live(self, event: str) -> str:
        json = self.json
        q = json.quote
        pick = self._pick
        picks = dict(zip(CANONICAL, self.positions))
        ids = {c: "NULL" if picks[c] is None else json.as_string(pick(c))
               for c in ("event_id", "customer_id", "anonymous_id")}   # text, as the flattened frame has them
        return (f"SELECT {ids['event_id']} AS event_id, {ids['customer_id']} AS customer_id, "
                f"{ids['anonymous_id']} AS anonymous_id, {pick('timestamp')} AS {q('timestamp')}, "
                f"{json.properties(pick('properties'))} AS reconcile_properties "
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
                parts.append(f"{json.column(p, column, kind)} AS {q(column + _SUFFIX[kind])}")
        return f"SELECT {', '.join(parts)} FROM ({self.relation(event, on)}) AS e"

    def materialize(self, scratch: Engine, event: str, columns: dict[str, set[str]], table: str,
                    on: str = EVENTS) -> str:
        """Fill the temporary table ``table`` on ``scratch`` (GX's one-connection engine) with
        :meth:`select`, and return the query GX validates on it.

        GX asks a dozen queries per event name; on the live query each one would pull every
        property out of the JSON again (a million events: about 3 s per query on SQLite). The
        table is created by reconcile's own DDL in a short transaction of its own (no shop SQL in
        it); the rows are inserted inside the read-only, time-limited transaction (PostgreSQL and
        MariaDB allow writing temporary tables there). SQLite refuses any write under
        ``query_only``, temporary tables included: the guard is lifted for the one INSERT, whose
        SELECT cannot write (SQLite has no data-changing functions).
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
                    types.update({column + _SUFFIX[kind]: json.number_type if kind == NUMBER else json.text_type
                                  for kind in sorted(columns[column])})
        self._fill(scratch, table, select, types)
        return f"SELECT * FROM {table}"

    def _fill(self, scratch: Engine, table: str, select: str, types: dict[str, str]) -> None:
        """Create the temporary table (columns ``types``; SQLite takes them from ``select``) and
        insert ``select``'s rows, as :meth:`materialize` says."""
        if self.engine.dialect.name == "sqlite":
            _sqlite_temporary(scratch, f"CREATE TEMPORARY TABLE {table} AS {select}")
            return
        json = self.json
        ddl = ", ".join(f"{json.quote(c)} {t}" for c, t in types.items())
        _own_statement(scratch, f"CREATE TEMPORARY TABLE {table} ({ddl})")
        with scratch.connect() as conn:
            with conn.begin():
                conn.execute(text(_for_text(f"INSERT INTO {table} ({', '.join(json.quote(c) for c in types)}) "
                                            f"{select}")))

    def _timestamp_type(self, scratch: Engine, select: str) -> str:
        """The events query's timestamp type, read in a read-only transaction."""
        quoted = self.json.quote("timestamp")
        with scratch.connect() as conn:
            with conn.begin():
                if self.engine.dialect.name == "postgresql":
                    found = conn.execute(text(_for_text(
                        f"SELECT pg_typeof(s.{quoted})::text FROM ({select}) AS s LIMIT 1"))).scalar()
                    return found or "bigint"
                result = conn.execute(text(_for_text(f"SELECT s.{quoted} FROM ({select}) AS s LIMIT 0")))
                code = result.cursor.description[0][1]
                result.close()
        if code not in _MYSQL_TYPES:
            raise NotImplementedError(f"no column type for the timestamp's type code {code}")
        return _MYSQL_TYPES[code]

    def drop(self, scratch: Engine, table: str) -> None:
        if self.engine.dialect.name == "sqlite":
            _sqlite_temporary(scratch, f"DROP TABLE IF EXISTS temp.{table}")
        else:   # MariaDB's TEMPORARY keeps a mistake from ever dropping a real table
            temporary = "" if self.engine.dialect.name == "postgresql" else "TEMPORARY "
            _own_statement(scratch, f"DROP {temporary}TABLE IF EXISTS {table}")

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

# pymysql's field type codes (pymysql.constants.FIELD_TYPE) → a column type that holds the value
_MYSQL_TYPES = {1: "BIGINT", 2: "BIGINT", 3: "BIGINT", 8: "BIGINT", 9: "BIGINT", 4: "DOUBLE", 5: "DOUBLE",
                246: "DECIMAL(65, 10)", 0: "DECIMAL(65, 10)", 7: "TIMESTAMP(6)", 12: "DATETIME(6)", 10: "DATE",
                253: "LONGTEXT", 254: "LONGTEXT", 252: "LONGTEXT", 15: "LONGTEXT"}


def _sqlite_temporary(scratch: Engine, statement: str) -> None:
    """One statement on SQLite's temporary database, with ``query_only`` lifted just for it."""
    raw = scratch.raw_connection()
    try:
        raw.execute("PRAGMA query_only = OFF")
        try:
            raw.execute(statement)
        finally:
            raw.execute("PRAGMA query_only = ON")
        raw.commit()
    finally:
        raw.close()


def _own_statement(scratch: Engine, statement: str) -> None:
    """reconcile's own DDL on the scratch connection, committed at once (no shop SQL in it)."""
    raw = scratch.raw_connection()
    try:
        cursor = raw.cursor()
        try:
            cursor.execute(statement)
        finally:
            cursor.close()
        raw.commit()
    finally:
        raw.close()


def _for_text(sql: str) -> str:
    """``sql`` as text() reads it: a colon that is not a bind parameter escaped."""
    return re.sub(r"(?<![:\w\\]):(?=\w)", r"\\:", sql)


__all__ = ["plan", "Routed", "EventsQuery", "render", "supported", "DIALECTS", "TEXT", "TYPED", "NUMBER", "TYPE"]
