"""The JSON SQL of each database: one class per dialect over one base class.

The events' ``properties`` arrive as JSON text (or json/jsonb); every check that runs in the
database reads them through these fragments. :class:`JsonDialect` says what each fragment
means, in terms pandas would agree with (a key's value as pandas prints it, its JSON type as
Python names it, a number as :func:`reconcile.checks.rules.pandas.numbers` reads it, line
items as :mod:`reconcile.checks.flatten` explodes them), and spells what SQL shares; each
subclass spells the rest in its database's JSON functions: SQLite ``json_extract``/``json_each``,
PostgreSQL ``jsonb``, MariaDB/MySQL ``JSON_EXTRACT``/``JSON_TABLE``. Keeping every dialect's
spelling here, apart from the queries that use them (:mod:`.events`,
:mod:`reconcile.checks.rules.sql`), lets a new database be added as one class (and its entry
in :data:`DIALECTS`), and lets the queries be read without any dialect's syntax in the way.

Each fragment takes ``p``, the properties expression of the inner query, and returns SQL text;
keys and literals are quoted by the engine's own dialect, so any key works.
"""

from __future__ import annotations

from sqlalchemy import String
from sqlalchemy.engine import Engine

from ..flatten import MAX_DEPTH
from ..values import ISO_INSTANT, JSON_NUMBER
from .plan import NUMBER, TEXT, TYPE, TYPED

MARK = "\x1f"   # before the text of a value that is not a JSON string: 5 and "5" stay different


class JsonDialect:
    """SQL fragments over the properties expression ``p`` (a column of the inner query)."""

    def __init__(self, engine: Engine):
        self.quote = engine.dialect.identifier_preparer.quote
        self.literal = String().literal_processor(dialect=engine.dialect)

    def properties(self, column: str, tolerant: bool = False) -> str:
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

    # what reconcile's rules read (:mod:`reconcile.checks.rules.sql`)

    def concat(self, *parts: str) -> str:
        return "(" + " || ".join(parts) + ")"

    def binary(self, expression: str) -> str:
        """``expression`` compared and ordered by code point, as Python compares text."""
        return expression

    regex = "~"

    def number_in_text(self, t: str) -> str:
        """Text that is a JSON number (:data:`reconcile.checks.rules.JSON_NUMBER`) as a number, else NULL."""
        return (f"CASE WHEN {t} {self.regex} {self.literal('^' + JSON_NUMBER + '$')} "
                f"THEN CAST({t} AS {self.number_type}) END")

    def base_number(self, column: str, numeric: bool) -> str:
        """A column of the events query as a number; ``numeric``: its SQL type is a number type."""
        return f"CAST({column} AS {self.number_type})" if numeric else self.number_in_text(self.as_string(column))

    # the events' timestamp (:func:`reconcile.checks.values.event_timestamps`)

    def event_timestamp(self, column: str, kind: str) -> str:
        """The timestamp as every check reads it: a number as sent, an instant as unix seconds to
        the millisecond, anything else NULL. ``kind``, from the column's type: "number",
        "instant" (a native timestamp or date) or "text"."""
        if kind == "number":
            return column
        if kind == "instant":
            return self.instant_seconds(column)
        t = self.as_string(column)
        return f"COALESCE({self.number_in_text(t)}, {self.iso_seconds(t)})"

    def instant_seconds(self, instant: str) -> str:
        """A native timestamp or date as unix seconds, rounded to the millisecond."""
        raise NotImplementedError

    def iso_seconds(self, t: str) -> str:
        """Text of the shape :data:`reconcile.checks.values.ISO_INSTANT` as unix seconds; NULL for
        other text and for impossible dates (checked before any cast, which would fail)."""
        raise NotImplementedError

    def key_number(self, p: str, key: str) -> str:
        """A property as a number: a JSON number, or a string holding one (as :func:`reconcile.checks.rules.pandas.numbers`)."""
        return (f"CASE WHEN {self.is_string(p, key)} THEN {self.number_in_text(self.as_text(p, key))} "
                f"ELSE {self.as_number(p, key)} END")

    def sent(self, p: str, key: str) -> str:
        """The key is there with a value other than JSON null (pandas: not missing)."""
        return f"COALESCE({self.json_type(p, key)}, 'none') <> 'none'"

    def items_kind(self, p: str) -> str:
        """How ``items`` arrived, as :func:`reconcile.checks.flatten._items` names it: array, string, other,
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
        """A number's unit by its magnitude, as :func:`reconcile.checks.rules.pandas.timestamp_units`; 'nan' for NULL."""
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


class SQLiteJson(JsonDialect):
    def event_timestamp(self, column, kind):   # each value has its own type
        return (f"CASE WHEN typeof({column}) IN ('integer', 'real') THEN {column} WHEN typeof({column}) = 'text' "
                f"THEN COALESCE({self.number_in_text(column)}, {self.iso_seconds(column)}) END")

    def iso_seconds(self, t):
        """GLOB for the shape (SQLite has no REGEXP); date() for the calendar (it moves February 30)."""
        shape = " OR ".join(f"{t} GLOB '{pattern}'" for pattern in _iso_globs())
        valid = (f"substr({t}, 1, 4) <> '0000' AND substr({t}, 6, 2) BETWEEN '01' AND '12' "
                 f"AND date(substr({t}, 1, 10)) = substr({t}, 1, 10) AND (length({t}) = 10 OR "
                 f"(substr({t}, 12, 2) < '24' AND ({t} NOT GLOB '*[+-][0-9][0-9]:[0-9][0-9]' "
                 f"OR substr({t}, -5, 2) < '15')))")
        return (f"CASE WHEN {shape} THEN CASE WHEN {valid} THEN "
                f"round((julianday({t}) - 2440587.5) * 86400000) / 1000.0 END END")

    def properties(self, column, tolerant: bool = False):
        """The text, or a JSON string (so not an object: malformed) where it nests deeper than
        MAX_DEPTH. Judged once per row as the events are read, in nested CASEs: SQLite may
        evaluate both sides of an AND, and json_tree fails on text that is not JSON."""
        deepest = (f"EXISTS (SELECT 1 FROM json_tree({column}) AS d WHERE d.type IN ('object', 'array') AND "
                   f"length(d.fullkey) - length(replace(replace(d.fullkey, '.', ''), '[', '')) >= {MAX_DEPTH})")
        return (f"CASE WHEN {_containers(column)} > {MAX_DEPTH} THEN CASE WHEN json_valid({column}) THEN "
                f"CASE WHEN {deepest} THEN json_quote('reconcile: nested too deep') ELSE {column} END "
                f"ELSE {column} END ELSE {column} END")

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


class PostgresJson(JsonDialect):
    """Properties are cast to jsonb once, in the inner query (text, json and jsonb columns alike)."""

    fence = " OFFSET 0"
    properties_type = "jsonb"
    _ARRAY_TEXT = "'^[ \\t\\n\\r]*\\['"     # a string that may hold an array

    #: the function :meth:`properties` uses once the staging met properties jsonb refuses
    TOLERANT = "pg_temp.reconcile_properties"
    CREATE_TOLERANT = (f"CREATE OR REPLACE FUNCTION {TOLERANT}(t text) RETURNS jsonb LANGUAGE plpgsql IMMUTABLE AS $f$ "
                       "BEGIN RETURN t::jsonb; EXCEPTION WHEN others THEN RETURN to_jsonb('reconcile: not JSON'::text); "
                       "END $f$")

    def properties(self, column, tolerant: bool = False):
        """jsonb, once per row; a JSON string (not an object, so malformed) where the properties nest
        deeper than MAX_DEPTH, and with ``tolerant`` where they are no JSON at all."""
        parsed = f"{self.TOLERANT}(CAST({column} AS text))" if tolerant else f"CAST({column} AS jsonb)"
        deep = f"jsonb_path_exists({parsed}, 'strict $.**{{{MAX_DEPTH}}} ? (@.type() == \"object\" || @.type() == \"array\")')"
        return (f"CASE WHEN {_containers(f'CAST({column} AS text)')} > {MAX_DEPTH} AND {deep} "
                f"THEN to_jsonb('reconcile: nested too deep'::text) ELSE {parsed} END")

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

    def instant_seconds(self, instant):
        return f"CAST(round(EXTRACT(EPOCH FROM {instant}) * 1000) AS double precision) / 1000"

    def iso_seconds(self, t):
        number = "CAST(substr({0}, {1}, {2}) AS integer)".format
        month = number(t, 6, 2)
        day_exists = (f"EXTRACT(MONTH FROM make_date({number(t, 1, 4)}, {month}, 1) + ({number(t, 9, 2)} - 1)) "
                      f"= {month}")
        return (f"CASE WHEN {t} ~ {self.literal('^' + ISO_INSTANT + '$')} THEN CASE WHEN {day_exists} "
                f"THEN {self.instant_seconds(f'CAST({t} AS timestamptz)')} END END")

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


class MySQLJson(JsonDialect):
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

    def instant_seconds(self, instant):
        return f"CAST(ROUND(TIMESTAMPDIFF(MICROSECOND, '1970-01-01 00:00:00', {instant}) / 1000) AS DOUBLE) / 1000"

    def iso_seconds(self, t):
        """The local part cast to DATETIME (MariaDB reads no zone), the zone's offset subtracted."""
        t = self.binary(t)                              # case-sensitive: T and Z as written
        zone = f"{t} REGEXP '[+-][0-9]{{2}}:[0-9]{{2}}$'"
        offset = (f"CASE WHEN {zone} THEN (CASE WHEN SUBSTRING({t}, -6, 1) = '-' THEN -1 ELSE 1 END) * "
                  f"(CAST(SUBSTRING({t}, -5, 2) AS SIGNED) * 3600 + CAST(SUBSTRING({t}, -2) AS SIGNED) * 60) ELSE 0 END")
        local = f"CAST(REGEXP_REPLACE({t}, '(Z|[+-][0-9]{{2}}:[0-9]{{2}})$', '') AS DATETIME(6))"
        day_exists = f"CAST(SUBSTRING({t}, 9, 2) AS SIGNED) <= DAY(LAST_DAY(CONCAT(SUBSTRING({t}, 1, 7), '-01')))"
        return (f"CASE WHEN {t} REGEXP {self.literal('^' + ISO_INSTANT + '$')} THEN CASE WHEN {day_exists} "
                f"THEN {self.instant_seconds(local)} - {offset} END END")

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


def _iso_globs() -> list[str]:
    """The shapes of :data:`reconcile.checks.values.ISO_INSTANT` as GLOB patterns (the ranges of
    month, day, hour and zone are checked apart, as :meth:`SQLiteJson.iso_seconds` does)."""
    day, minutes = "[0-9][0-9][0-9][0-9]-[01][0-9]-[0-3][0-9]", "[T ][0-2][0-9]:[0-5][0-9]"
    times = [minutes, minutes + ":[0-5][0-9]"] + [minutes + ":[0-5][0-9]." + "[0-9]" * n for n in range(1, 7)]
    zones = ["", "Z", "[+-][01][0-9]:[0-5][0-9]"]
    return [day] + [day + time + zone for time in times for zone in zones]


def _path(key: str) -> str:
    """A JSON path to the key, quoted so that any key works (``$."product id"``)."""
    return '$."' + key.replace("\\", "\\\\").replace('"', '\\"') + '"'


#: the dialect of each database reconcile checks in place, by SQLAlchemy's dialect name
DIALECTS: dict[str, type[JsonDialect]] = {"sqlite": SQLiteJson, "postgresql": PostgresJson, "mysql": MySQLJson,
                                          "mariadb": MySQLJson}


def dialect_for(engine: Engine) -> JsonDialect:
    """The JSON SQL for ``engine``'s database (one of :data:`DIALECTS`)."""
    return DIALECTS[engine.dialect.name](engine)




def _containers(text_expression: str) -> str:
    """How many ``{`` and ``[`` a text holds: a cheap bound on its nesting, so only the rare
    document that could nest deeper than MAX_DEPTH is walked."""
    return (f"(length({text_expression}) - length(replace(replace({text_expression}, '{{', ''), '[', '')))")


__all__ = ["JsonDialect", "SQLiteJson", "PostgresJson", "MySQLJson", "DIALECTS", "dialect_for", "MARK"]
