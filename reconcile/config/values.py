"""Reading one TOML value: its type, its range, ``${VAR}`` from the environment, and the key
path every error names (``config.toml: segments[2].customerio_segment_id: ...``)."""

from __future__ import annotations

import math
import os
import re
from pathlib import Path
from typing import Any, Callable

from ..errors import ConfigError
from .model import MAX_WINDOW_DAYS

VAR = re.compile(r"\$\{([A-Za-z_][A-Za-z0-9_]*)\}")


class Section:
    """Reads one TOML table, remembering its key path so every error can name it."""

    def __init__(self, file: Path, path: str, table: Any):
        self.file, self.path = file, path
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

    def finish(self) -> None:
        unknown = sorted(set(self.table) - self.seen)
        if unknown:
            self.fail(f"unknown key (allowed: {', '.join(sorted(self.seen))})", unknown[0])


def show(value: Any) -> str:
    if isinstance(value, str):
        return '"' + (value if len(value) <= 40 else value[:37] + "...") + '"'
    if isinstance(value, dict):
        return "a table"
    if isinstance(value, list):
        return "a list"
    return repr(value).lower() if isinstance(value, bool) else repr(value)


def string(section: Section, key: str, value: Any) -> str:
    if not isinstance(value, str):
        section.fail(f"expected a string, got {show(value)}", key)
    def substitute(match: re.Match) -> str:
        name = match.group(1)
        if name not in os.environ:
            section.fail(f"environment variable {name} is not set; export it or write the value", key)
        return os.environ[name]
    return VAR.sub(substitute, value)


def nonempty(section: Section, key: str, value: Any) -> str:
    text = string(section, key, value)
    if not text.strip():
        section.fail("must not be empty", key)
    return text


def integer(section: Section, key: str, value: Any) -> int:
    if isinstance(value, bool) or not isinstance(value, int):
        section.fail(f"expected an integer, got {show(value)}", key)
    return value


def positive_integer(section: Section, key: str, value: Any) -> int:
    number = integer(section, key, value)
    if number <= 0:
        section.fail(f"expected a positive integer, got {number}", key)
    return number


def number(section: Section, key: str, value: Any) -> float:
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        section.fail(f"expected a number, got {show(value)}", key)
    if not math.isfinite(value):
        section.fail(f"expected a finite number, got {show(value)}", key)
    if value < 0:
        section.fail(f"must not be negative, got {value}", key)
    return float(value)


def days(section: Section, key: str, value: Any) -> float:
    days = number(section, key, value)
    if days > MAX_WINDOW_DAYS:
        section.fail(f"expected at most {MAX_WINDOW_DAYS:,} days, got {value:g}", key)
    return days


def boolean(section: Section, key: str, value: Any) -> bool:
    if not isinstance(value, bool):
        section.fail(f"expected true or false, got {show(value)}", key)
    return value


def one_of(*choices: str) -> Callable[[Section, str, Any], str]:
    def check(section: Section, key: str, value: Any) -> str:
        text = string(section, key, value)
        if text not in choices:
            section.fail(f"expected one of {', '.join(map(repr, choices))}, got {show(text)}", key)
        return text
    return check
