"""Load and validate ``config.toml`` up front, so a run never starts on a bad config.

Every mistake is reported as one line that names the file and the key path::

    config.toml: segments[2].customerio_segment_id: expected an integer, got "abc"

Rules, all from the design contract:

* ``${VAR}`` in any string is replaced from the environment; an unset variable is an error
  that names the key and the variable (the value itself is never echoed: it may be a secret).
* Unknown keys are errors (a typo must not silently fall back to a default).
* Every key has a documented default (see README "Configuration") unless it is required.
* A relative SQLite path in ``database.url`` is resolved against the config file's folder, so
  a cron job that runs from ``$HOME`` reads the same shop as you did.

Example::

    >>> cfg = load_config("config.toml")          # doctest: +SKIP
    >>> cfg.segments[0].name
    'purchased_30d_email_consent'
"""

from __future__ import annotations

import re
import tomllib
from pathlib import Path
from typing import Any

from sqlalchemy.engine import make_url
from sqlalchemy.exc import ArgumentError

from ..errors import ConfigError
from .model import (DIFF_MODES, MAX_REQUESTS_PER_SECOND, MEMBERSHIP_MODES, ChecksConfig, Config, CustomerIOConfig,
                    DatabaseConfig, DiagnosisConfig, EmailConfig, HistoryConfig, PurchasesConfig, SegmentConfig)
from .values import (VAR, Section, boolean, days, integer, nonempty, number, one_of, positive_integer, show,
                     string)

_SEGMENT_NAME = re.compile(r"^[A-Za-z0-9_.-]+$")


def _database(file: Path, table: Any) -> DatabaseConfig:
    section = Section(file, "database", table)
    url = section.get("url", nonempty)
    timeout = section.get("statement_timeout_seconds", positive_integer, 300)
    section.finish()
    try:
        parsed = make_url(url)
    except ArgumentError:
        section.fail("is not a SQLAlchemy URL (e.g. postgresql+psycopg://user@host/db)", "url")
    if parsed.get_backend_name() == "sqlite" and parsed.database not in (None, "", ":memory:"):
        db_path = Path(parsed.database)
        if not db_path.is_absolute():
            url = parsed.set(database=str((file.parent / db_path).resolve())).render_as_string(hide_password=False)
    return DatabaseConfig(url=url, statement_timeout_seconds=timeout)


def _customerio(file: Path, table: Any) -> CustomerIOConfig:
    section = Section(file, "customerio", table)
    region = section.get("region", one_of("us", "eu"), "us")
    base_url = section.get("base_url", nonempty, None)
    if base_url is not None and not base_url.startswith(("http://", "https://")):
        section.fail(f"expected an http:// or https:// URL, got {show(base_url)}", "base_url")
    key = section.get("app_api_key", nonempty)
    timeout = section.get("timeout_seconds", number, 30.0)
    retries = section.get("max_retries", integer, 5)
    rate = section.get("requests_per_second", number, MAX_REQUESTS_PER_SECOND)
    if not 0 < rate <= MAX_REQUESTS_PER_SECOND:
        section.fail(f"must be above 0 and at most {MAX_REQUESTS_PER_SECOND:g} (the App API limit)", "requests_per_second")
    membership = section.get("membership", one_of(*MEMBERSHIP_MODES), "pages")
    export_above = section.get("export_above", positive_integer, 1_000_000)
    section.finish()
    return CustomerIOConfig(app_api_key=key, region=region, base_url=base_url.rstrip("/") if base_url else None,
                            timeout_seconds=timeout or 30.0, max_retries=retries, requests_per_second=rate,
                            membership=membership, export_above=export_above)


def _identity(file: Path, table: Any) -> str:
    section = Section(file, "identity", table)
    key = section.get("key", one_of("id", "email"), "id")
    section.finish()
    return key


def _segment(file: Path, index: int, table: Any) -> SegmentConfig:
    section = Section(file, f"segments[{index}]", table)
    name = section.get("name", nonempty)
    if not _SEGMENT_NAME.match(name):
        section.fail(f"use letters, digits, '_', '-' or '.', got {show(name)}", "name")
    segment = SegmentConfig(
        name=name,
        title=section.get("title", string, ""),
        customerio_segment_id=section.get("customerio_segment_id", positive_integer),
        window_days=section.get("window_days", days, 30),
        tolerance=section.get("tolerance", number, 0.01),
        sql=section.get("sql", nonempty),
        compare=section.get("compare", _compare, ()),
        window_column=section.get("window_column", nonempty, None),
        lookup_sql=section.get("lookup_sql", nonempty, None),
        diff=section.get("diff", one_of(*DIFF_MODES), None),
        membership=section.get("membership", one_of(*MEMBERSHIP_MODES), None),
    )
    if segment.tolerance > 1:
        section.fail(f"is a share between 0 and 1, got {segment.tolerance:g}", "tolerance")
    section.finish()
    return segment


def _compare(section: Section, key: str, value: Any) -> tuple[tuple[str, str], ...]:
    table = Section(section.file, f"{section.path}.{key}", value)
    pairs = tuple((column, table.get(column, nonempty).strip()) for column in list(table.table))
    table.finish()
    return pairs


def _diagnosis(file: Path, table: Any) -> DiagnosisConfig:
    section = Section(file, "diagnosis", table)
    diagnosis = DiagnosisConfig(
        enabled=section.get("enabled", boolean, True),
        max_people=section.get("max_people", positive_integer, 2000),
        boundary_grace_seconds=section.get("boundary_grace_seconds", number, 3600),
        window_edge_counts=section.get("window_edge_counts", boolean, False),
        lookup_sql=section.get("lookup_sql", nonempty, None))
    section.finish()
    return diagnosis


def _history(file: Path, table: Any) -> HistoryConfig:
    section = Section(file, "history", table)
    keep = section.get("keep_runs", integer, 52)
    if keep < 0:
        section.fail(f"expected 0 (keep every run) or a positive integer, got {keep}", "keep_runs")
    trend = section.get("trend_runs", positive_integer, 12)
    section.finish()
    return HistoryConfig(keep_runs=keep, trend_runs=trend)


def _address(section: Section, key: str, value: Any) -> str:
    text = nonempty(section, key, value).strip()
    if "@" not in text or any(c.isspace() or c in ",;<>" for c in text):
        section.fail(f"expected an email address like team@example.com, got {show(text)}", key)
    return text


def _addresses(section: Section, key: str, value: Any) -> tuple[str, ...]:
    if not isinstance(value, list) or not value:
        section.fail(f"expected a non-empty list of addresses, got {show(value)}", key)
    return tuple(_address(section, f"{key}[{i}]", item) for i, item in enumerate(value))


def _email(file: Path, table: Any) -> EmailConfig:
    section = Section(file, "email", table)
    host = section.get("smtp_host", nonempty).strip()
    sender = section.get("from", _address)
    to = section.get("to", _addresses)
    use_ssl = section.get("ssl", boolean, False)
    starttls = section.get("starttls", boolean, not use_ssl)
    if use_ssl and starttls:
        section.fail("ssl and starttls exclude each other: ssl is TLS from the start (port 465), "
                     "starttls upgrades a plain connection (port 587)", "starttls")
    port = section.get("smtp_port", positive_integer, 465 if use_ssl else 587)
    username = section.get("username", nonempty, None)
    section.seen.add("password")
    password_variable = None
    if "password" in section.table:
        raw = section.table["password"]
        match = VAR.fullmatch(raw) if isinstance(raw, str) else None
        if match is None:
            section.fail('write it as "${VAR}" and export VAR: a password is never kept in the file', "password")
        password_variable = match.group(1)
        if username is None:
            section.fail("a password needs a username", "password")
    prefix = section.get("subject_prefix", string, "[reconcile]")
    send = section.get("send", one_of("always", "on_failure"), "always")
    mask = section.get("mask_emails", boolean, False)
    timeout = section.get("timeout_seconds", number, 30.0)
    section.finish()
    return EmailConfig(smtp_host=host, sender=sender, to=to, smtp_port=port, starttls=starttls, ssl=use_ssl,
                       username=username, password_variable=password_variable, subject_prefix=prefix,
                       send=send, mask_emails=mask, timeout_seconds=timeout or 30.0, source=file.name)


def _checks(file: Path, table: Any) -> ChecksConfig:
    section = Section(file, "checks", table)
    suites = file.parent / section.get("suites", nonempty, "checks")
    events_sql = section.get("events_sql", nonempty, None)
    events_jsonl = section.get("events_jsonl", nonempty, None)
    if events_sql is not None and events_jsonl is not None:
        section.fail("give events_sql or events_jsonl, not both", "events_jsonl")
    checks = ChecksConfig(
        suites=suites, events_sql=events_sql, events_jsonl=file.parent / events_jsonl if events_jsonl else None,
        people_sql=section.get("people_sql", nonempty, None), window_days=section.get("window_days", days, 30),
        max_event_ids=section.get("max_event_ids", positive_integer, 100),
        sample_size=section.get("sample_size", positive_integer, 5),
        engine=section.get("engine", one_of("database", "pandas"), "database"), source=file.name,
        max_age_hours=section.get("max_age_hours", number, 24), volume_drop=section.get("volume_drop", share, 0.5))
    section.finish()
    return checks


def _purchases(file: Path, table: Any, checks: ChecksConfig | None) -> PurchasesConfig:
    section = Section(file, "purchases", table)
    purchases = PurchasesConfig(
        orders_sql=section.get("orders_sql", nonempty), event=section.get("event", nonempty, "order_completed"),
        window_days=section.get("window_days", days, 7),
        max_latency_seconds=section.get("max_latency_seconds", number, 300),
        revenue_tolerance=section.get("revenue_tolerance", number, 0.01),
        tolerance=section.get("tolerance", share, 0.005),
        activity_sample=section.get("activity_sample", integer, 200))
    if purchases.activity_sample < 0:
        section.fail(f"expected 0 (off) or a positive number of orders, got {purchases.activity_sample}",
                     "activity_sample")
    section.finish()
    if checks is None or (checks.events_sql is None and checks.events_jsonl is None):
        section.fail("compares the orders with the events of [checks]: set checks.events_sql "
                     "(or checks.events_jsonl) too")
    return purchases


def share(section: Section, key: str, value: Any) -> float:
    """A share between 0 and 1 (tolerances, volume_drop)."""
    fraction = number(section, key, value)
    if fraction > 1:
        section.fail(f"is a share between 0 and 1, got {fraction:g}", key)
    return fraction


def parse_config(text: str, path: str | Path = "config.toml") -> Config:
    """Validate TOML text; ``path`` names the file in errors and anchors relative paths."""
    file = Path(path).absolute()
    try:
        data = tomllib.loads(text)
    except tomllib.TOMLDecodeError as exc:
        raise ConfigError(f"{file.name}: not valid TOML: {' '.join(str(exc).split())}; fix the file there") from None
    root = Section(file, "", data)
    database = root.get("database", lambda s, k, v: _database(file, v))
    customerio = root.get("customerio", lambda s, k, v: _customerio(file, v))
    identity_key = root.get("identity", lambda s, k, v: _identity(file, v), "id")
    history = root.get("history", lambda s, k, v: _history(file, v), HistoryConfig())
    email = root.get("email", lambda s, k, v: _email(file, v), None)
    checks = root.get("checks", lambda s, k, v: _checks(file, v), None)
    diagnosis = root.get("diagnosis", lambda s, k, v: _diagnosis(file, v), DiagnosisConfig())
    purchases = root.get("purchases", lambda s, k, v: _purchases(file, v, checks), None)
    diff = root.get("diff", one_of(*DIFF_MODES), "memory")
    raw_segments = root.get("segments", lambda s, k, v: v)
    root.finish()
    if not isinstance(raw_segments, list) or not raw_segments:
        raise ConfigError(f"{file.name}: segments: expected at least one [[segments]] table")
    segments = tuple(_segment(file, i, table) for i, table in enumerate(raw_segments))
    seen: dict[str, int] = {}
    for i, segment in enumerate(segments):
        if segment.name in seen:
            raise ConfigError(f"{file.name}: segments[{i}].name: \"{segment.name}\" is already used by "
                              f"segments[{seen[segment.name]}]; segment names must be unique")
        seen[segment.name] = i
    return Config(path=file, database=database, customerio=customerio,
                  identity_key=identity_key, segments=segments, history=history, email=email,
                  checks=checks, diagnosis=diagnosis, diff=diff, purchases=purchases)


def load_config(path: str | Path) -> Config:
    """Read and validate a config file; every problem is a one-line :class:`ConfigError`."""
    file = Path(path)
    try:
        text = file.read_text(encoding="utf-8")
    except FileNotFoundError:
        raise ConfigError(f"{file}: no such file; pass --config PATH to your config.toml") from None
    except (OSError, UnicodeDecodeError) as exc:
        raise ConfigError(f"{file}: cannot be read ({exc.__class__.__name__}); check the path and its permissions") from None
    return parse_config(text, file)
