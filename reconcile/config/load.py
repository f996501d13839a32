"""Load and validate ``config.toml`` up front, so a run never starts on a bad one.

Every mistake is reported as one line that names the file and the key path::

    config.toml: segments[2].customerio_segment_id: expected an integer, got "abc"

Rules, all from the design contract:

* ``${VAR}`` in any string is replaced from the environment; an unset variable is an error
  that names the key and the variable (the value itself is never echoed: it may be a secret).
* Unknown keys are errors (a typo must not silently fall back to a default).
* Every key has a documented default (see README "Configuration") unless it is required.
* A relative SQLite path in ``database.url`` is resolved against the config file's folder, so
  a cron job that runs from ``$HOME`` reads the same shop as you did.

The file is read by the tables of :mod:`.keys`. A run stops at the first mistake
(:func:`load_config`); ``reconcile validate`` gets them all (:func:`config_problems`).

Example::

    >>> cfg = load_config("config.toml")          # doctest: +SKIP
    >>> cfg.segments[0].name
    'purchased_30d_email_consent'
"""

from __future__ import annotations

import tomllib
from pathlib import Path
from typing import Any, Sequence

from ..errors import ConfigError
from .keys import REQUIRED, ROOT, Key, Table
from .model import Config
from .values import Problems, Section

FAILED = object()       # a table or key that had a mistake (only seen while collecting them all)


def read_table(file: Path, path: str, raw: Any, table: Table, problems: Problems,
               optional: Sequence[str] = ()) -> Any:
    """Build ``table``'s value from ``raw``; every mistake goes to ``problems``.

    ``optional`` names keys that may be left out here although the table requires them.
    """
    try:
        section = Section(file, path, raw, problems)
    except ConfigError as exc:
        problems.add(exc)
        return FAILED
    values, failed = {}, False
    for key in table.keys:
        default = table.default_of(key)
        if key.name in optional and default is REQUIRED:
            default = ()
        try:
            value = section.get(key.name, _reader(key), default)
        except ConfigError as exc:
            problems.add(exc)
            value = FAILED
        failed = failed or value is FAILED
        values[key.field or key.name] = value
    for error in section.unknown():
        problems.add(error)
        failed = True
    if failed:
        return FAILED
    for rule in table.rules:
        broken = rule.check(values)
        if broken is not None:
            try:
                section.fail(broken[1], broken[0])
            except ConfigError as exc:
                problems.add(exc)
                return FAILED
    return table.build(values, file) if table.build else table.model(**values)


def _reader(key: Key):
    """The reader of a key: a value's own, or one that reads a table or a list of tables."""
    if isinstance(key.read, Table):
        return lambda section, name, raw: read_table(section.file, _join(section.path, name), raw, key.read,
                                                     section.problems)
    if isinstance(key.read, list):
        return lambda section, name, raw: _read_segments(section, name, raw, key.read[0])
    return key.read


def _join(path: str, name: str) -> str:
    return f"{path}.{name}" if path else name


def _read_segments(section: Section, name: str, raw: Any, table: Table) -> Any:
    if not isinstance(raw, list) or not raw:
        section.fail("expected at least one [[segments]] table", name)
    segments = [read_table(section.file, f"{name}[{i}]", item, table, section.problems) for i, item in enumerate(raw)]
    if FAILED in segments:
        return FAILED
    seen: dict[str, int] = {}
    for i, segment in enumerate(segments):
        if segment.name in seen:
            section.fail(f"\"{segment.name}\" is already used by segments[{seen[segment.name]}]; "
                         "segment names must be unique", f"{name}[{i}].name")
        seen[segment.name] = i
    return tuple(segments)


def _toml(text: str, file: Path) -> dict:
    try:
        return tomllib.loads(text)
    except tomllib.TOMLDecodeError as exc:
        raise ConfigError(f"{file.name}: not valid TOML: {' '.join(str(exc).split())}; fix the file there") from None


def parse_config(text: str, path: str | Path = "config.toml", *, require_segments: bool = True) -> Config:
    """Validate TOML text; ``path`` names the file in errors and anchors relative paths.

    ``require_segments=False`` accepts a config without ``[[segments]]`` (``reconcile segments``
    lists a workspace's segments to find their ids, before any is configured).
    """
    file = Path(path).absolute()
    optional = () if require_segments else ("segments",)
    return read_table(file, "", _toml(text, file), ROOT, Problems(), optional)


def config_problems(path: str | Path) -> tuple[Config | None, list[ConfigError]]:
    """The config and every mistake in it (not only the first): what ``reconcile validate`` shows."""
    file = Path(path)
    problems = Problems(collect=True)
    try:
        data = _toml(_read(file), file.absolute())
    except ConfigError as exc:
        return None, [exc]
    config = read_table(file.absolute(), "", data, ROOT, problems)
    return (None if config is FAILED else config), problems.found


def load_section(path: str | Path, name: str) -> Any:
    """One top-level table of a config (its default when absent), the rest unread: a command that
    needs only ``[history]`` works without the variables the other sections name."""
    file = Path(path)
    data = _toml(_read(file), file.absolute())
    key = next(key for key in ROOT.keys if key.name == name)
    value = data.get(name, ...)
    if value is ...:
        return ROOT.default_of(key)
    return read_table(file.absolute(), name, value, key.read, Problems())


def load_config(path: str | Path, *, require_segments: bool = True) -> Config:
    """Read and validate a config file; every problem is a one-line :class:`ConfigError`."""
    file = Path(path)
    return parse_config(_read(file), file, require_segments=require_segments)


def _read(file: Path) -> str:
    try:
        return file.read_text(encoding="utf-8")
    except FileNotFoundError:
        raise ConfigError(f"{file}: no such file; pass --config PATH to your config.toml") from None
    except (OSError, UnicodeDecodeError) as exc:
        raise ConfigError(f"{file}: cannot be read ({exc.__class__.__name__}); check the path and its permissions") from None
