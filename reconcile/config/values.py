"""Reading one TOML value: its type, its range, ``${VAR}`` from the environment, and the key
path every error names (``config.toml: segments[2].customerio_segment_id: ...``).

Each reader is ``reader(section, key, value) -> value`` and carries, as ``reader.schema``, the
JSON Schema of the values it accepts, so the config's JSON Schema (:mod:`.schema`) is made from
the very readers the loader runs. A string reader's schema also accepts any text holding a
``${VAR}``: what the variable holds is only known when the config is loaded.
"""

from __future__ import annotations

import math
import os
import re
from pathlib import Path
from typing import Any, Callable

from sqlalchemy.engine import make_url
from sqlalchemy.exc import ArgumentError

from ..errors import ConfigError

VAR = re.compile(r"\$\{([A-Za-z_][A-Za-z0-9_]*)\}")
MAX_WINDOW_DAYS = 36_600         # a century: further back, a window's start is not a date any more
MAX_REQUESTS_PER_SECOND = 10.0   # Customer.io's documented App API limit
SEGMENT_NAME = r"^[A-Za-z0-9_.-]+$"
HAS_VARIABLE = {"pattern": r"\$\{[A-Za-z_][A-Za-z0-9_]*\}"}
LARGEST_NUMBER = 1.7976931348623157e308   # so the schema, like the loader, refuses inf


class Section:
    """Reads one TOML table, remembering its key path so every error can name it.

    ``problems`` is shared by every section of one load: :meth:`Problems.add` raises the first
    problem (a run) or keeps them all (``reconcile validate``).
    """

    def __init__(self, file: Path, path: str, table: Any, problems: "Problems | None" = None):
        self.file, self.path = file, path
        self.problems = problems or Problems()
        if not isinstance(table, dict):
            self.fail(f"expected a table, got {show(table)}")
        self.table = table
        self.seen: set[str] = set()

    def fail(self, message: str, key: str | None = None) -> None:
        where = f"{self.path}.{key}" if key and self.path else (key or self.path)
        raise ConfigError(f"{self.file.name}: {where}: {message}")

    def get(self, key: str, kind: Callable[["Section", str, Any], Any], default: Any = ...) -> Any:
        self.seen.add(key)
        if key not in self.table:
            if default is ...:
                self.fail("is required", key)
            return default
        return kind(self, key, self.table[key])

    def unknown(self) -> list[ConfigError]:
        """One error per key that was never asked for (a typo never falls back to a default)."""
        allowed = ", ".join(sorted(self.seen))
        errors = []
        for key in sorted(set(self.table) - self.seen):
            try:
                self.fail(f"unknown key (allowed: {allowed})", key)
            except ConfigError as exc:
                errors.append(exc)
        return errors

    def finish(self) -> None:
        for error in self.unknown()[:1]:
            raise error


class Problems:
    """Where a load's mistakes go: raised at the first (``collect=False``) or all kept."""

    def __init__(self, collect: bool = False):
        self.collect = collect
        self.found: list[ConfigError] = []

    def add(self, error: ConfigError) -> None:
        if not self.collect:
            raise error
        self.found.append(error)


def reader(schema: dict) -> Callable[[Callable], Callable]:
    """Attach the JSON Schema of what a reader accepts."""
    def attach(function: Callable) -> Callable:
        function.schema = schema
        return function
    return attach


def text_schema(**constraints: Any) -> dict:
    """A string with these constraints, or any string naming a ``${VAR}``."""
    return {"type": "string", "anyOf": [constraints, HAS_VARIABLE]} if constraints else {"type": "string"}


def show(value: Any) -> str:
    """A value as an error line shows it: short, and on one line (control characters escaped)."""
    if isinstance(value, str):
        shown = value if len(value) <= 40 else value[:37] + "..."
        return '"' + "".join(c if c.isprintable() else repr(c)[1:-1] for c in shown) + '"'
    if isinstance(value, dict):
        return "a table"
    if isinstance(value, list):
        return "a list"
    return repr(value).lower() if isinstance(value, bool) else repr(value)


@reader(text_schema())
def string(section: Section, key: str, value: Any) -> str:
    if not isinstance(value, str):
        section.fail(f"expected a string, got {show(value)}", key)
    def substitute(match: re.Match) -> str:
        name = match.group(1)
        if name not in os.environ:
            section.fail(f"environment variable {name} is not set; export it or write the value", key)
        return os.environ[name]
    return VAR.sub(substitute, value)


@reader(text_schema(pattern=r"\S"))
def nonempty(section: Section, key: str, value: Any) -> str:
    text = string(section, key, value)
    if not text.strip():
        section.fail("must not be empty", key)
    return text


@reader({"type": "integer"})
def integer(section: Section, key: str, value: Any) -> int:
    if isinstance(value, bool) or not isinstance(value, int):
        section.fail(f"expected an integer, got {show(value)}", key)
    return value


@reader({"type": "integer", "minimum": 1})
def positive_integer(section: Section, key: str, value: Any) -> int:
    number = integer(section, key, value)
    if number <= 0:
        section.fail(f"expected a positive integer, got {number}", key)
    return number


def zero_or_more(zero: str, positive: str = "a positive integer") -> Callable[[Section, str, Any], int]:
    """An integer of 0 or more, where 0 means ``zero`` (said in the message a negative one gets)."""
    @reader({"type": "integer", "minimum": 0})
    def check(section: Section, key: str, value: Any) -> int:
        number = integer(section, key, value)
        if number < 0:
            section.fail(f"expected 0 ({zero}) or {positive}, got {number}", key)
        return number
    return check


runs_to_keep = zero_or_more("keep every run")
orders_to_sample = zero_or_more("off", "a positive number of orders")


@reader({"type": "number", "minimum": 0, "maximum": LARGEST_NUMBER})
def number(section: Section, key: str, value: Any) -> float:
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        section.fail(f"expected a number, got {show(value)}", key)
    if not math.isfinite(value):
        section.fail(f"expected a finite number, got {show(value)}", key)
    if value < 0:
        section.fail(f"must not be negative, got {value}", key)
    return float(value)


@reader({"type": "number", "minimum": 0, "maximum": MAX_WINDOW_DAYS})
def days(section: Section, key: str, value: Any) -> float:
    days = number(section, key, value)
    if days > MAX_WINDOW_DAYS:
        section.fail(f"expected at most {MAX_WINDOW_DAYS:,} days, got {value:g}", key)
    return days


@reader({"type": "number", "minimum": 0, "maximum": 1})
def share(section: Section, key: str, value: Any) -> float:
    fraction = number(section, key, value)
    if fraction > 1:
        section.fail(f"is a share between 0 and 1, got {fraction:g}", key)
    return fraction


@reader({"type": "number", "exclusiveMinimum": 0, "maximum": MAX_REQUESTS_PER_SECOND})
def request_rate(section: Section, key: str, value: Any) -> float:
    rate = number(section, key, value)
    if not 0 < rate <= MAX_REQUESTS_PER_SECOND:
        section.fail(f"must be above 0 and at most {MAX_REQUESTS_PER_SECOND:g} (the App API limit)", key)
    return rate


@reader({"type": "number", "exclusiveMinimum": 0, "maximum": LARGEST_NUMBER})
def hours(section: Section, key: str, value: Any) -> float:
    """A positive number of hours (``max_plan_age_hours``)."""
    count = number(section, key, value)
    if not count > 0:
        section.fail(f"must be above 0 hours, got {count:g}", key)
    return count


@reader({"type": "boolean"})
def boolean(section: Section, key: str, value: Any) -> bool:
    if not isinstance(value, bool):
        section.fail(f"expected true or false, got {show(value)}", key)
    return value


def one_of(*choices: str) -> Callable[[Section, str, Any], str]:
    @reader(text_schema(enum=list(choices)))
    def check(section: Section, key: str, value: Any) -> str:
        text = string(section, key, value)
        if text not in choices:
            section.fail(f"expected one of {', '.join(map(repr, choices))}, got {show(text)}", key)
        return text
    return check


@reader(text_schema(pattern=r"^https?://"))
def http_url(section: Section, key: str, value: Any) -> str:
    text = nonempty(section, key, value)
    if not text.startswith(("http://", "https://")):
        section.fail(f"expected an http:// or https:// URL, got {show(text)}", key)
    return text.rstrip("/")


@reader(text_schema(pattern=SEGMENT_NAME))
def segment_name(section: Section, key: str, value: Any) -> str:
    name = nonempty(section, key, value)
    if not re.match(SEGMENT_NAME, name):
        section.fail(f"use letters, digits, '_', '-' or '.', got {show(name)}", key)
    return name


@reader(text_schema(pattern=r"^[\w+]+://"))
def database_url(section: Section, key: str, value: Any) -> str:
    """A SQLAlchemy URL; a relative SQLite path is anchored at the config file's folder."""
    url = nonempty(section, key, value)
    try:
        parsed = make_url(url)
    except ArgumentError:
        section.fail("is not a SQLAlchemy URL (e.g. postgresql+psycopg://user@host/db)", key)
    if parsed.get_backend_name() == "sqlite" and parsed.database not in (None, "", ":memory:"):
        db_path = Path(parsed.database)
        if not db_path.is_absolute():
            url = parsed.set(database=str((section.file.parent / db_path).resolve())).render_as_string(hide_password=False)
    return url


_ADDRESS = r"^\s*[^\s,;<>]*@[^\s,;<>]*\s*$"


@reader(text_schema(pattern=_ADDRESS))
def address(section: Section, key: str, value: Any) -> str:
    text = nonempty(section, key, value).strip()
    if "@" not in text or any(c.isspace() or c in ",;<>" for c in text):
        section.fail(f"expected an email address like team@example.com, got {show(text)}", key)
    return text


@reader({"type": "array", "minItems": 1, "items": address.schema})
def addresses(section: Section, key: str, value: Any) -> tuple[str, ...]:
    if not isinstance(value, list) or not value:
        section.fail(f"expected a non-empty list of addresses, got {show(value)}", key)
    return tuple(address(section, f"{key}[{i}]", item) for i, item in enumerate(value))


@reader({"type": "string", "pattern": r"^\$\{[A-Za-z_][A-Za-z0-9_]*\}$"})
def secret_variable(section: Section, key: str, value: Any) -> str:
    """A secret is named, never written: ``"${VAR}"`` gives ``VAR``, read from the environment when used."""
    match = VAR.fullmatch(value) if isinstance(value, str) else None
    if match is None:
        noun = "a password" if key == "password" else "a secret"
        section.fail(f'write it as "${{VAR}}" and export VAR: {noun} is never kept in the file', key)
    return match.group(1)


@reader({"type": "array", "items": nonempty.schema})
def names(section: Section, key: str, value: Any) -> tuple[str, ...]:
    """A list of names, each non-empty (``checks = ["order_completed", "added_to_cart"]``)."""
    if not isinstance(value, list):
        section.fail(f"expected a list of names, got {show(value)}", key)
    return tuple(nonempty(section, f"{key}[{i}]", item).strip() for i, item in enumerate(value))


@reader({"type": "object", "additionalProperties": nonempty.schema})
def column_map(section: Section, key: str, value: Any) -> tuple[tuple[str, str], ...]:
    """``[segments.compare]``: truth (or lookup) column = Customer.io attribute, in the file's order."""
    table = Section(section.file, f"{section.path}.{key}", value, section.problems)
    pairs = tuple((column, table.get(column, nonempty).strip()) for column in list(table.table))
    table.finish()
    return pairs
