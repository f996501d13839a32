"""Load the suite files (``checks/*.toml``) and validate every expectation before anything runs.

A suite file checks one event name (its file name by default) or the people::

    # checks/order_completed.toml
    description = "Purchases: one event per order, line items, revenue, seconds"
    # event = "order_completed"      # default: the file's name
    # source = "events"              # "events" (default) or "people" (the default for people.toml)

    [[expectations]]
    type = "expect_column_values_to_be_unique"   # Great Expectations' own name ...
    column = "order_id"                          # ... and its own arguments
    mostly = 1.0
    severity = "critical"                        # "critical" (default: fails the run) or "warning"

    [[expectations]]
    type = "expect_column_values_to_not_be_null"
    column = "product_id"
    on = "items"                                 # one row per line item instead of one per event

Besides GX's expectations, a suite may name reconcile's rules for what GX has no expectation
for (see :mod:`reconcile.checks.rules`). Every mistake is one line that names the file and the
expectation, for example
``checks/order_completed.toml: expectations[2] (expect_column_values_to_be_uniq): unknown expectation type``.
Arguments are checked by instantiating GX's own expectation class, so a wrong argument is
caught here, not half-way through a run.
"""

from __future__ import annotations

import os
import tomllib
from pathlib import Path
from typing import Any

from ..errors import ConfigError
from .gx import expectation_class
from .model import CRITICAL, EVENTS, ITEMS, PEOPLE, WARNING, Expectation, Suite
from .rules import RULES, validate_rule

_SUITE_KEYS = {"description", "event", "source", "expectations"}
_OWN_KEYS = {"type", "severity", "on"}


def suites_for(checks, base: Path | None = None) -> list[Suite]:
    """The suites of a ``[checks]`` section, each with the source it needs configured."""
    suites = load_suites(checks.suites, base)
    for suite in suites:
        if suite.event is not None and checks.events_sql is None and checks.events_jsonl is None:
            raise ConfigError(f"{checks.source}: checks: {_relative(suite.path, base)} checks events; "
                              "set checks.events_sql or checks.events_jsonl")
        if suite.event is None and checks.people_sql is None:
            raise ConfigError(f"{checks.source}: checks: {_relative(suite.path, base)} checks people; "
                              "set checks.people_sql")
    return suites


def load_suites(folder: Path, base: Path | None = None) -> list[Suite]:
    """Every ``*.toml`` in ``folder``, validated, sorted by file name; paths in errors relative to ``base``."""
    shown = _relative(folder, base)
    if not folder.is_dir():
        raise ConfigError(f"checks.suites: {shown} is not a folder; create it or point checks.suites at your suites")
    files = sorted(folder.glob("*.toml"))
    if not files:
        raise ConfigError(f"checks.suites: {shown} holds no suite files (*.toml)")
    suites = [load_suite(path, base) for path in files]
    seen: dict[str, Suite] = {}
    for suite in suites:
        key = suite.event or PEOPLE
        if key in seen:
            raise ConfigError(f"{_relative(suite.path, base)}: checks {key!r} like {_relative(seen[key].path, base)}; "
                              "keep one suite per event name")
        seen[key] = suite
    return suites


def load_suite(path: Path, base: Path | None = None) -> Suite:
    """One suite file, validated; a :class:`ConfigError` naming the file and the expectation otherwise."""
    shown = _relative(path, base)
    try:
        data = tomllib.loads(path.read_text(encoding="utf-8"))
    except tomllib.TOMLDecodeError as exc:
        raise ConfigError(f"{shown}: not valid TOML: {' '.join(str(exc).split())}; fix the file there") from None
    except (OSError, UnicodeDecodeError) as exc:
        raise ConfigError(f"{shown}: cannot be read ({exc.__class__.__name__})") from None
    unknown = sorted(set(data) - _SUITE_KEYS)
    if unknown:
        raise ConfigError(f"{shown}: {unknown[0]}: unknown key (allowed: {', '.join(sorted(_SUITE_KEYS))})")
    source = data.get("source", PEOPLE if path.stem == PEOPLE else EVENTS)
    if source not in (EVENTS, PEOPLE):
        raise ConfigError(f"{shown}: source: expected \"events\" or \"people\", got {source!r}")
    event = data.get("event", path.stem) if source == EVENTS else None
    if source == EVENTS and (not isinstance(event, str) or not event.strip()):
        raise ConfigError(f"{shown}: event: expected the event name as a string, got {event!r}")
    description = data.get("description", "")
    if not isinstance(description, str):
        raise ConfigError(f"{shown}: description: expected a string")
    raw = data.get("expectations")
    if not isinstance(raw, list) or not raw:
        raise ConfigError(f"{shown}: expectations: expected at least one [[expectations]] table")
    expectations = tuple(_expectation(shown, path.stem, source, i, entry) for i, entry in enumerate(raw))
    return Suite(name=path.stem, path=path, expectations=expectations, event=event, description=description)


def _expectation(shown: str, suite: str, source: str, index: int, entry: Any) -> Expectation:
    kind = entry.get("type") if isinstance(entry, dict) else None
    where = f"{shown}: expectations[{index}]" + (f" ({kind})" if isinstance(kind, str) else "")

    def fail(message: str) -> None:
        raise ConfigError(f"{where}: {message}")

    if not isinstance(entry, dict):
        fail("expected a table ([[expectations]])")
    if not isinstance(kind, str) or not kind:
        fail("type: is required, e.g. type = \"expect_column_values_to_not_be_null\"")
    severity = entry.get("severity", CRITICAL)
    if severity not in (CRITICAL, WARNING):
        fail(f"severity: expected \"critical\" or \"warning\", got {severity!r}")
    on = entry.get("on", PEOPLE if source == PEOPLE else EVENTS)
    allowed_on = (PEOPLE,) if source == PEOPLE else (EVENTS, ITEMS)
    if on not in allowed_on:
        fail(f"on: expected {' or '.join(map(repr, allowed_on))}, got {on!r}")
    kwargs = {k: v for k, v in entry.items() if k not in _OWN_KEYS}
    if kind in RULES:
        if source == PEOPLE:
            fail("is a rule on events; it cannot run in a people suite")
        problem = validate_rule(kind, kwargs)
        if problem:
            fail(problem)
        return Expectation(suite=suite, index=index, type=kind, kwargs=kwargs, severity=severity, on=on, rule=True)
    cls = expectation_class(kind)
    if cls is None:
        fail("unknown expectation type")
    problem = _check_kwargs(cls, kwargs, severity)
    if problem:
        fail(problem)
    return Expectation(suite=suite, index=index, type=kind, kwargs=kwargs, severity=severity, on=on)


def _check_kwargs(cls, kwargs: dict[str, Any], severity: str) -> str | None:
    """Instantiate GX's pydantic model; its first validation error as one short phrase."""
    if "meta" in kwargs or "id" in kwargs:
        return "meta and id are set by reconcile; remove them"
    try:
        cls(**kwargs, severity=severity)
    except Exception as exc:  # pydantic's ValidationError (v1 API inside GX), or GX's own checks
        return describe_validation_error(exc)
    return None


def describe_validation_error(exc: Exception) -> str:
    errors = getattr(exc, "errors", None)
    if not callable(errors):
        return f"invalid arguments: {str(exc).splitlines()[0] if str(exc) else exc.__class__.__name__}"
    first = errors()[0]
    loc = ".".join(str(part) for part in first.get("loc", ()) if part != "__root__")
    kind, message = first.get("type", ""), first.get("msg", "invalid")
    if kind in ("value_error.extra", "extra_forbidden"):
        return f"{loc}: unknown argument"
    if kind in ("value_error.missing", "missing"):
        return f"{loc}: is required"
    return f"{loc}: {message}" if loc else message


def _relative(path: Path, base: Path | None) -> str:
    if base is None:
        return str(path)
    try:
        return os.path.relpath(path, base) if Path(path).resolve().is_relative_to(Path(base).resolve()) else str(path)
    except ValueError:
        return str(path)


__all__ = ["suites_for", "load_suites", "load_suite", "describe_validation_error"]
