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

import math
import os
import re
import tomllib
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Callable

from sqlalchemy.engine import make_url
from sqlalchemy.exc import ArgumentError

from .errors import ConfigError

_VAR = re.compile(r"\$\{([A-Za-z_][A-Za-z0-9_]*)\}")
_SEGMENT_NAME = re.compile(r"^[A-Za-z0-9_.-]+$")
MAX_REQUESTS_PER_SECOND = 10.0  # Customer.io's documented App API limit
MAX_WINDOW_DAYS = 36_600         # a century: further back, a window's start is not a date any more
DIFF_MODES = ("memory", "database")
MEMBERSHIP_MODES = ("pages", "export", "auto")


@dataclass(frozen=True)
class DatabaseConfig:
    url: str = field(repr=False)
    statement_timeout_seconds: int = 300

    @property
    def masked_url(self) -> str:
        """The URL with its password replaced by ``***``: the only form we ever print."""
        return make_url(self.url).render_as_string(hide_password=True)


@dataclass(frozen=True)
class CustomerIOConfig:
    app_api_key: str = field(repr=False)
    region: str = "us"
    base_url: str | None = None
    timeout_seconds: float = 30.0
    max_retries: int = 5
    requests_per_second: float = MAX_REQUESTS_PER_SECOND
    membership: str = "pages"        # "pages", "export" (Exports API) or "auto" (export above export_above)
    export_above: int = 1_000_000    # with "auto": segments whose customer_count exceeds this are exported


@dataclass(frozen=True)
class SegmentConfig:
    name: str
    customerio_segment_id: int
    sql: str
    title: str = ""
    window_days: float = 30
    tolerance: float = 0.01
    compare: tuple[tuple[str, str], ...] = ()    # [segments.compare]: truth column -> Customer.io attribute
    window_column: str | None = None             # the truth column holding the qualifying timestamp
    lookup_sql: str | None = None                # the shop lookup for extra people (else diagnosis.lookup_sql)
    diff: str | None = None                      # "memory" or "database"; None: the config's top-level diff
    membership: str | None = None                # "pages", "export" or "auto"; None: customerio.membership

    @property
    def label(self) -> str:
        return self.title or self.name


@dataclass(frozen=True)
class HistoryConfig:
    keep_runs: int = 52     # runs of this config kept beside each other in reports/; 0 keeps every run
    trend_runs: int = 12    # how many runs the report's trend chart shows


@dataclass(frozen=True)
class EmailConfig:
    """``[email]``: where ``reconcile run --email`` sends the report.

    The password is kept as the name of an environment variable and read only when a message
    is sent, so a run without ``--email`` never needs it.
    """

    smtp_host: str
    sender: str                                  # the TOML key is ``from``
    to: tuple[str, ...]
    smtp_port: int = 587
    starttls: bool = True
    ssl: bool = False
    username: str | None = None
    password_variable: str | None = None         # from ``password = "${VAR}"``
    subject_prefix: str = "[reconcile]"
    send: str = "always"                         # or "on_failure"
    mask_emails: bool = False                    # mask customers' emails in the emailed body
    timeout_seconds: float = 30.0
    source: str = "config.toml"                  # the file, for error messages

    def password(self) -> str | None:
        """The SMTP password from the environment; a missing variable is a ConfigError."""
        if self.password_variable is None:
            return None
        if self.password_variable not in os.environ:
            raise ConfigError(f"{self.source}: email.password: environment variable {self.password_variable} "
                              "is not set; export it or drop --email")
        return os.environ[self.password_variable]


@dataclass(frozen=True)
class ChecksConfig:
    """``[checks]``: data-quality suites (``checks/*.toml``) run on the events that feed Customer.io."""

    suites: Path                         # folder of suite files; default "checks" beside the config file
    events_sql: str | None = None        # query on the shop database returning the events (outbox) table
    events_jsonl: Path | None = None     # or: a JSON Lines export of the events (relative to the config file)
    people_sql: str | None = None        # query returning the people the "people" suite checks
    window_days: float = 30              # defines :window_start for events_sql and people_sql
    max_event_ids: int = 100             # offending event ids kept per expectation in results.json
    sample_size: int = 5                 # unexpected values shown per expectation
    engine: str = "database"             # events_sql: "database" runs GX's expectations in the database
                                         # (GX's SQL data source); "pandas" reads every event into memory
    source: str = "config.toml"          # the file, for error messages


@dataclass(frozen=True)
class DiagnosisConfig:
    """``[diagnosis]``: why each discrepant person differs (see :mod:`reconcile.diagnose`)."""

    enabled: bool = True
    max_people: int = 2000               # per segment; more are sampled evenly
    boundary_grace_seconds: float = 3600  # a qualifying timestamp this close to a window edge is window_edge
    window_edge_counts: bool = False     # false: window_edge people are left out of the tolerance
    lookup_sql: str | None = None        # shop lookup for people outside the truth; binds :ids (and :emails)


@dataclass(frozen=True)
class Config:
    path: Path
    database: DatabaseConfig
    customerio: CustomerIOConfig
    identity_key: str
    segments: tuple[SegmentConfig, ...]
    history: HistoryConfig = HistoryConfig()
    email: EmailConfig | None = None
    checks: ChecksConfig | None = None   # None: no [checks] section, no checks run
    diagnosis: DiagnosisConfig = DiagnosisConfig()
    diff: str = "memory"                 # top-level ``diff``: "memory", or "database" (pushdown, README "Scale")

    def diff_for(self, segment: SegmentConfig) -> str:
        return segment.diff or self.diff

    def membership_for(self, segment: SegmentConfig) -> str:
        return segment.membership or self.customerio.membership

    def segment(self, name: str) -> SegmentConfig:
        for segment in self.segments:
            if segment.name == name:
                return segment
        raise KeyError(name)

    def secrets(self) -> list[str]:
        """Every secret value this config holds, for scrubbing and for leak tests."""
        found = [self.customerio.app_api_key]
        password = make_url(self.database.url).password
        if password:
            found.append(str(password))
        if self.email is not None and self.email.password_variable in os.environ:
            found.append(os.environ[self.email.password_variable])
        return [s for s in found if s]


# --------------------------------------------------------------------------- validation


class _Section:
    """Reads one TOML table, remembering its key path so every error can name it."""

    def __init__(self, file: Path, path: str, table: Any):
        self.file, self.path = file, path
        if not isinstance(table, dict):
            self.fail(f"expected a table, got {_show(table)}")
        self.table = table
        self.seen: set[str] = set()

    def fail(self, message: str, key: str | None = None) -> None:
        where = f"{self.path}.{key}" if key and self.path else (key or self.path)
        raise ConfigError(f"{self.file.name}: {where}: {message}")

    def get(self, key: str, kind: Callable[["_Section", str, Any], Any], default: Any = ...) -> Any:
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


def _show(value: Any) -> str:
    if isinstance(value, str):
        return '"' + (value if len(value) <= 40 else value[:37] + "...") + '"'
    if isinstance(value, dict):
        return "a table"
    if isinstance(value, list):
        return "a list"
    return repr(value).lower() if isinstance(value, bool) else repr(value)


def _string(section: _Section, key: str, value: Any) -> str:
    if not isinstance(value, str):
        section.fail(f"expected a string, got {_show(value)}", key)
    def substitute(match: re.Match) -> str:
        name = match.group(1)
        if name not in os.environ:
            section.fail(f"environment variable {name} is not set; export it or write the value", key)
        return os.environ[name]
    return _VAR.sub(substitute, value)


def _nonempty(section: _Section, key: str, value: Any) -> str:
    text = _string(section, key, value)
    if not text.strip():
        section.fail("must not be empty", key)
    return text


def _integer(section: _Section, key: str, value: Any) -> int:
    if isinstance(value, bool) or not isinstance(value, int):
        section.fail(f"expected an integer, got {_show(value)}", key)
    return value


def _positive_integer(section: _Section, key: str, value: Any) -> int:
    number = _integer(section, key, value)
    if number <= 0:
        section.fail(f"expected a positive integer, got {number}", key)
    return number


def _number(section: _Section, key: str, value: Any) -> float:
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        section.fail(f"expected a number, got {_show(value)}", key)
    if not math.isfinite(value):
        section.fail(f"expected a finite number, got {_show(value)}", key)
    if value < 0:
        section.fail(f"must not be negative, got {value}", key)
    return float(value)


def _days(section: _Section, key: str, value: Any) -> float:
    days = _number(section, key, value)
    if days > MAX_WINDOW_DAYS:
        section.fail(f"expected at most {MAX_WINDOW_DAYS:,} days, got {value:g}", key)
    return days


def _boolean(section: _Section, key: str, value: Any) -> bool:
    if not isinstance(value, bool):
        section.fail(f"expected true or false, got {_show(value)}", key)
    return value


def _one_of(*choices: str) -> Callable[[_Section, str, Any], str]:
    def check(section: _Section, key: str, value: Any) -> str:
        text = _string(section, key, value)
        if text not in choices:
            section.fail(f"expected one of {', '.join(map(repr, choices))}, got {_show(text)}", key)
        return text
    return check


# --------------------------------------------------------------------------- sections


def _database(file: Path, table: Any) -> DatabaseConfig:
    section = _Section(file, "database", table)
    url = section.get("url", _nonempty)
    timeout = section.get("statement_timeout_seconds", _positive_integer, 300)
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
    section = _Section(file, "customerio", table)
    region = section.get("region", _one_of("us", "eu"), "us")
    base_url = section.get("base_url", _nonempty, None)
    if base_url is not None and not base_url.startswith(("http://", "https://")):
        section.fail(f"expected an http:// or https:// URL, got {_show(base_url)}", "base_url")
    key = section.get("app_api_key", _nonempty)
    timeout = section.get("timeout_seconds", _number, 30.0)
    retries = section.get("max_retries", _integer, 5)
    rate = section.get("requests_per_second", _number, MAX_REQUESTS_PER_SECOND)
    if not 0 < rate <= MAX_REQUESTS_PER_SECOND:
        section.fail(f"must be above 0 and at most {MAX_REQUESTS_PER_SECOND:g} (the App API limit)", "requests_per_second")
    membership = section.get("membership", _one_of(*MEMBERSHIP_MODES), "pages")
    export_above = section.get("export_above", _positive_integer, 1_000_000)
    section.finish()
    return CustomerIOConfig(app_api_key=key, region=region, base_url=base_url.rstrip("/") if base_url else None,
                            timeout_seconds=timeout or 30.0, max_retries=retries, requests_per_second=rate,
                            membership=membership, export_above=export_above)


def _identity(file: Path, table: Any) -> str:
    section = _Section(file, "identity", table)
    key = section.get("key", _one_of("id", "email"), "id")
    section.finish()
    return key


def _segment(file: Path, index: int, table: Any) -> SegmentConfig:
    section = _Section(file, f"segments[{index}]", table)
    name = section.get("name", _nonempty)
    if not _SEGMENT_NAME.match(name):
        section.fail(f"use letters, digits, '_', '-' or '.', got {_show(name)}", "name")
    segment = SegmentConfig(
        name=name,
        title=section.get("title", _string, ""),
        customerio_segment_id=section.get("customerio_segment_id", _positive_integer),
        window_days=section.get("window_days", _days, 30),
        tolerance=section.get("tolerance", _number, 0.01),
        sql=section.get("sql", _nonempty),
        compare=section.get("compare", _compare, ()),
        window_column=section.get("window_column", _nonempty, None),
        lookup_sql=section.get("lookup_sql", _nonempty, None),
        diff=section.get("diff", _one_of(*DIFF_MODES), None),
        membership=section.get("membership", _one_of(*MEMBERSHIP_MODES), None),
    )
    if segment.tolerance > 1:
        section.fail(f"is a share between 0 and 1, got {segment.tolerance:g}", "tolerance")
    section.finish()
    return segment


def _compare(section: _Section, key: str, value: Any) -> tuple[tuple[str, str], ...]:
    table = _Section(section.file, f"{section.path}.{key}", value)
    pairs = tuple((column, table.get(column, _nonempty).strip()) for column in list(table.table))
    table.finish()
    return pairs


def _diagnosis(file: Path, table: Any) -> DiagnosisConfig:
    section = _Section(file, "diagnosis", table)
    diagnosis = DiagnosisConfig(
        enabled=section.get("enabled", _boolean, True),
        max_people=section.get("max_people", _positive_integer, 2000),
        boundary_grace_seconds=section.get("boundary_grace_seconds", _number, 3600),
        window_edge_counts=section.get("window_edge_counts", _boolean, False),
        lookup_sql=section.get("lookup_sql", _nonempty, None))
    section.finish()
    return diagnosis


def _history(file: Path, table: Any) -> HistoryConfig:
    section = _Section(file, "history", table)
    keep = section.get("keep_runs", _integer, 52)
    if keep < 0:
        section.fail(f"expected 0 (keep every run) or a positive integer, got {keep}", "keep_runs")
    trend = section.get("trend_runs", _positive_integer, 12)
    section.finish()
    return HistoryConfig(keep_runs=keep, trend_runs=trend)


def _address(section: _Section, key: str, value: Any) -> str:
    text = _nonempty(section, key, value).strip()
    if "@" not in text or any(c.isspace() or c in ",;<>" for c in text):
        section.fail(f"expected an email address like team@example.com, got {_show(text)}", key)
    return text


def _addresses(section: _Section, key: str, value: Any) -> tuple[str, ...]:
    if not isinstance(value, list) or not value:
        section.fail(f"expected a non-empty list of addresses, got {_show(value)}", key)
    return tuple(_address(section, f"{key}[{i}]", item) for i, item in enumerate(value))


def _email(file: Path, table: Any) -> EmailConfig:
    section = _Section(file, "email", table)
    host = section.get("smtp_host", _nonempty).strip()
    sender = section.get("from", _address)
    to = section.get("to", _addresses)
    use_ssl = section.get("ssl", _boolean, False)
    starttls = section.get("starttls", _boolean, not use_ssl)
    if use_ssl and starttls:
        section.fail("ssl and starttls exclude each other: ssl is TLS from the start (port 465), "
                     "starttls upgrades a plain connection (port 587)", "starttls")
    port = section.get("smtp_port", _positive_integer, 465 if use_ssl else 587)
    username = section.get("username", _nonempty, None)
    section.seen.add("password")
    password_variable = None
    if "password" in section.table:
        raw = section.table["password"]
        match = _VAR.fullmatch(raw) if isinstance(raw, str) else None
        if match is None:
            section.fail('write it as "${VAR}" and export VAR: a password is never kept in the file', "password")
        password_variable = match.group(1)
        if username is None:
            section.fail("a password needs a username", "password")
    prefix = section.get("subject_prefix", _string, "[reconcile]")
    send = section.get("send", _one_of("always", "on_failure"), "always")
    mask = section.get("mask_emails", _boolean, False)
    timeout = section.get("timeout_seconds", _number, 30.0)
    section.finish()
    return EmailConfig(smtp_host=host, sender=sender, to=to, smtp_port=port, starttls=starttls, ssl=use_ssl,
                       username=username, password_variable=password_variable, subject_prefix=prefix,
                       send=send, mask_emails=mask, timeout_seconds=timeout or 30.0, source=file.name)


def _checks(file: Path, table: Any) -> ChecksConfig:
    section = _Section(file, "checks", table)
    suites = file.parent / section.get("suites", _nonempty, "checks")
    events_sql = section.get("events_sql", _nonempty, None)
    events_jsonl = section.get("events_jsonl", _nonempty, None)
    if events_sql is not None and events_jsonl is not None:
        section.fail("give events_sql or events_jsonl, not both", "events_jsonl")
    checks = ChecksConfig(
        suites=suites, events_sql=events_sql, events_jsonl=file.parent / events_jsonl if events_jsonl else None,
        people_sql=section.get("people_sql", _nonempty, None), window_days=section.get("window_days", _days, 30),
        max_event_ids=section.get("max_event_ids", _positive_integer, 100),
        sample_size=section.get("sample_size", _positive_integer, 5),
        engine=section.get("engine", _one_of("database", "pandas"), "database"), source=file.name)
    section.finish()
    return checks


def parse_config(text: str, path: str | Path = "config.toml") -> Config:
    """Validate TOML text; ``path`` names the file in errors and anchors relative paths."""
    file = Path(path).absolute()
    try:
        data = tomllib.loads(text)
    except tomllib.TOMLDecodeError as exc:
        raise ConfigError(f"{file.name}: not valid TOML: {' '.join(str(exc).split())}; fix the file there") from None
    root = _Section(file, "", data)
    database = root.get("database", lambda s, k, v: _database(file, v))
    customerio = root.get("customerio", lambda s, k, v: _customerio(file, v))
    identity_key = root.get("identity", lambda s, k, v: _identity(file, v), "id")
    history = root.get("history", lambda s, k, v: _history(file, v), HistoryConfig())
    email = root.get("email", lambda s, k, v: _email(file, v), None)
    checks = root.get("checks", lambda s, k, v: _checks(file, v), None)
    diagnosis = root.get("diagnosis", lambda s, k, v: _diagnosis(file, v), DiagnosisConfig())
    diff = root.get("diff", _one_of(*DIFF_MODES), "memory")
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
                  checks=checks, diagnosis=diagnosis, diff=diff)


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
