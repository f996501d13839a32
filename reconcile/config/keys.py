"""Every key of ``config.toml``, declared once: the loader reads the file by these tables, and
the JSON Schema (``reconcile schema``, :mod:`.schema`) is made from them.

A key is one line: its TOML name, its reader (:mod:`.values`: type, range, and the schema of
what it accepts), its default and what it means. A key the loader should know is added here
and as a field of its dataclass in :mod:`.model` (whose default it takes unless it names its
own); the schema and ``reconcile validate`` follow by themselves::

    Key("export_above", positive_integer, doc="with membership = \\"auto\\": export above this count"),

Checks that span keys (``ssl`` and ``starttls``) are :class:`Rule`\\ s, each with the JSON
Schema that says the same.
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Callable

from .model import (DIFF_MODES, MEMBERSHIP_MODES, ChecksConfig, Config, CustomerIOConfig, DatabaseConfig,
                    DiagnosisConfig, EmailConfig, HistoryConfig, PurchasesConfig, SegmentConfig, SlackConfig,
                    WebhookConfig)
from .values import (addresses, address, boolean, column_map, database_url, days, hours, http_url, integer, names,
                     nonempty, number, one_of, orders_to_sample, positive_integer, request_rate, runs_to_keep,
                     secret_variable, segment_name, share, string)

REQUIRED = ...                 # no default: the key must be given
FROM_MODEL = object()          # the default of the dataclass field the key fills


@dataclass(frozen=True)
class Key:
    name: str                                    # as written in config.toml
    read: Callable                               # a reader of .values (or a table's, see Table.reader)
    default: Any = FROM_MODEL
    doc: str = ""
    field: str | None = None                     # the dataclass field, when it is not named like the key


@dataclass(frozen=True)
class Rule:
    """A check across the keys of one table: ``check(values)`` gives ``(key, message)`` when broken."""

    check: Callable[[dict[str, Any]], tuple[str, str] | None]
    schema: dict


@dataclass(frozen=True)
class Table:
    model: type | None                           # the dataclass built from the keys (None: see build)
    keys: tuple[Key, ...]
    doc: str = ""
    rules: tuple[Rule, ...] = ()
    build: Callable[[dict[str, Any], Path], Any] | None = None   # default: model(**values)

    def default_of(self, key: Key) -> Any:
        if key.default is not FROM_MODEL:
            return key.default
        field = {f.name: f for f in dataclasses.fields(self.model)}[key.field or key.name]
        if field.default is not dataclasses.MISSING:
            return field.default
        if field.default_factory is not dataclasses.MISSING:
            return field.default_factory()
        return REQUIRED


def _ssl_or_starttls(values: dict[str, Any]) -> tuple[str, str] | None:
    if values["ssl"] and values["starttls"]:
        return "starttls", ("ssl and starttls exclude each other: ssl is TLS from the start (port 465), "
                            "starttls upgrades a plain connection (port 587)")
    return None


def _password_needs_username(values: dict[str, Any]) -> tuple[str, str] | None:
    if values["password_variable"] is not None and values["username"] is None:
        return "password", "a password needs a username"
    return None


def _one_event_source(values: dict[str, Any]) -> tuple[str, str] | None:
    if values["events_sql"] is not None and values["events_jsonl"] is not None:
        return "events_jsonl", "give events_sql or events_jsonl, not both"
    return None


def _listed_suites_need_checks(values: dict[str, Any]) -> tuple[str, str] | None:
    listing = next((i for i, segment in enumerate(values["segments"] or ()) if segment.checks), None)
    if listing is not None and values["checks"] is None:
        return f"segments[{listing}].checks", "names suites, but there is no [checks] section"
    return None


def _email(values: dict[str, Any], file: Path) -> EmailConfig:
    ssl = values["ssl"]
    starttls = not ssl if values["starttls"] is None else values["starttls"]
    port = values["smtp_port"] or (465 if ssl else 587)
    return EmailConfig(**{**values, "starttls": starttls, "smtp_port": port, "source": file.name,
                          "smtp_host": values["smtp_host"].strip(), "timeout_seconds": values["timeout_seconds"] or 30.0})


def _checks(values: dict[str, Any], file: Path) -> ChecksConfig:
    jsonl = values["events_jsonl"]
    return ChecksConfig(**{**values, "suites": file.parent / values["suites"], "source": file.name,
                           "events_jsonl": file.parent / jsonl if jsonl else None})


SEND = one_of("always", "on_failure")

DATABASE = Table(DatabaseConfig, (
    Key("url", database_url, doc="any SQLAlchemy URL; a relative SQLite path is relative to this file"),
    Key("statement_timeout_seconds", positive_integer, doc="each query's limit"),
), doc="the shop database, read only")

CUSTOMERIO = Table(CustomerIOConfig, (
    Key("region", one_of("us", "eu"), doc="the workspace's region"),
    Key("base_url", http_url, doc="overrides region (the sandbox, tests)"),
    Key("app_api_key", nonempty, doc='the App API key; write "${CUSTOMERIO_APP_API_KEY}"'),
    Key("timeout_seconds", number, doc="per request (0: the default)"),
    Key("max_retries", integer, doc="for 429, 5xx, timeouts, resets, bodies that are not JSON"),
    Key("requests_per_second", request_rate, doc="the client-side limiter; at most the API's 10"),
    Key("membership", one_of(*MEMBERSHIP_MODES), doc="how segments are read: pages, the Exports API, or auto"),
    Key("export_above", positive_integer, doc='with membership = "auto": export above this customer_count'),
    Key("site_id", nonempty, doc="the Track API's Site ID, for reconcile plan and apply"),
    Key("track_api_key", secret_variable, field="track_api_key_variable",
        doc='the Track API key, only as "${VAR}"; read when plan or apply runs, never by an audit'),
    Key("max_plan_age_hours", hours, doc="apply refuses a plan resting on data older than this"),
), doc="the Customer.io App API (and the Track API, for repairs)",
   build=lambda v, file: CustomerIOConfig(**{**v, "timeout_seconds": v["timeout_seconds"] or 30.0,
                                             "site_id": v["site_id"].strip() if v["site_id"] else None}))

IDENTITY = Table(None, (
    Key("key", one_of("id", "email"), "id", doc="how truth rows match Customer.io people"),
), doc="the workspace's identifier", build=lambda v, file: v["key"])

SEGMENT = Table(SegmentConfig, (
    Key("name", segment_name, doc="unique; used in outputs and on the command line"),
    Key("title", string, doc="for people; default: the name"),
    Key("customerio_segment_id", positive_integer, doc="the segment's id in Customer.io"),
    Key("window_days", days, doc="defines :window_start = as_of - window_days"),
    Key("tolerance", share, doc="share of truth_count that may differ before the verdict is fail"),
    Key("sql", nonempty, doc="the truth segment: a SELECT returning a column named like identity.key"),
    Key("compare", column_map, doc="truth (or lookup) column = Customer.io attribute, for the diagnosis"),
    Key("window_column", nonempty, doc="the truth column holding the qualifying timestamp"),
    Key("lookup_sql", nonempty, doc="this segment's own lookup (else diagnosis.lookup_sql)"),
    Key("diff", one_of(*DIFF_MODES), doc="default: the top-level diff"),
    Key("membership", one_of(*MEMBERSHIP_MODES), doc="default: customerio.membership"),
    Key("checks", names, doc="the suites that feed it: reconcile check gates on these only"),
), doc="a truth segment and the Customer.io segment it is compared with")

DIAGNOSIS = Table(DiagnosisConfig, (
    Key("enabled", boolean, doc="diagnose why each differing person differs"),
    Key("max_people", positive_integer, doc="per segment; more are sampled evenly"),
    Key("boundary_grace_seconds", number, doc="a qualifying timestamp this close to a window edge is window_edge"),
    Key("window_edge_counts", boolean, doc="false: window_edge people are left out of the tolerance"),
    Key("lookup_sql", nonempty, doc="what the shop knows about people outside the truth; binds :ids, :emails"),
), doc="why each differing person differs")

HISTORY = Table(HistoryConfig, (
    Key("keep_runs", runs_to_keep, doc="runs of this config kept in reports/; 0 keeps every run"),
    Key("trend_runs", positive_integer, doc="runs in the report's trend and in reconcile history"),
), doc="the runs kept under reports/")

EMAIL = Table(EmailConfig, (
    Key("smtp_host", nonempty),
    Key("from", address, field="sender"),
    Key("to", addresses, doc="a list of addresses"),
    Key("ssl", boolean, doc="TLS from the first byte (port 465)"),
    Key("starttls", boolean, None, doc="default true unless ssl = true"),
    Key("smtp_port", positive_integer, None, doc="default 587, or 465 with ssl = true"),
    Key("username", nonempty, doc="log in as"),
    Key("password", secret_variable, field="password_variable", doc='only as "${VAR}"; read when a message is sent'),
    Key("subject_prefix", string),
    Key("send", SEND, doc='"always", or "on_failure": only when the run did not pass'),
    Key("mask_emails", boolean, doc="customers' emails masked in the body and the attached report"),
    Key("timeout_seconds", number),
), doc="where reconcile run --email sends the report", build=_email,
   rules=(Rule(_ssl_or_starttls, {"not": {"properties": {"ssl": {"const": True}, "starttls": {"const": True}},
                                           "required": ["ssl", "starttls"]}}),
          Rule(_password_needs_username, {"dependentRequired": {"password": ["username"]}})))

SLACK = Table(SlackConfig, (
    Key("webhook_url", secret_variable, field="webhook_variable",
        doc='an incoming webhook, only as "${VAR}" (it is a secret); read when a message is posted'),
    Key("send", SEND, doc='"always", or "on_failure": only when the run did not pass'),
    Key("timeout_seconds", number),
), doc="where reconcile run --slack posts the verdict",
   build=lambda v, file: SlackConfig(**v, source=file.name))

WEBHOOK = Table(WebhookConfig, (
    Key("url", http_url, doc="receives a POST of the run's JSON summary (reconcile schema webhook)"),
    Key("send", SEND, doc='"always", or "on_failure": only when the run did not pass'),
    Key("timeout_seconds", number),
), doc="where reconcile run --webhook posts the run's JSON summary",
   build=lambda v, file: WebhookConfig(**v, source=file.name))

CHECKS = Table(ChecksConfig, (
    Key("suites", nonempty, "checks", doc="the folder of suite files, relative to this file"),
    Key("events_sql", nonempty, doc="the events (outbox) that feed Customer.io, on the shop database"),
    Key("events_jsonl", nonempty, doc="or a JSON Lines export of the events, relative to this file"),
    Key("people_sql", nonempty, doc="the people people.toml checks"),
    Key("window_days", days, doc="defines :window_start in the SQL"),
    Key("max_event_ids", positive_integer, doc="offending event ids kept per expectation"),
    Key("sample_size", positive_integer, doc="unexpected values shown per expectation"),
    Key("engine", one_of("database", "pandas"), doc="where events_sql's events are checked"),
    Key("max_age_hours", number, doc="a suite's event whose newest event is older has stopped flowing"),
    Key("volume_drop", share, doc="a day's count below this share of the usual (or above twice it) is off"),
), doc="data-quality expectations on the events", build=_checks,
   rules=(Rule(_one_event_source, {"not": {"required": ["events_sql", "events_jsonl"]}}),))

PURCHASES = Table(PurchasesConfig, (
    Key("orders_sql", nonempty, doc="the window's orders: order_id, the identity key, completed_at (+ email, revenue)"),
    Key("event", nonempty, doc="the purchase event's name in the [checks] events"),
    Key("window_days", days, doc="defines :window_start = as_of - window_days"),
    Key("max_latency_seconds", number, doc="an event later than this after its order is late"),
    Key("revenue_tolerance", number, doc="relative difference before the revenues disagree"),
    Key("tolerance", share, doc="share of orders with a problem before the verdict is fail"),
    Key("activity_sample", orders_to_sample, doc="orders whose Customer.io activity log is read (0: off)"),
), doc="every shop order against its purchase event in the [checks] events")


def _purchases_need_events(values: dict[str, Any]) -> tuple[str, str] | None:
    checks = values["checks"]
    if values["purchases"] is not None and (checks is None or (checks.events_sql is None
                                                               and checks.events_jsonl is None)):
        return "purchases", ("compares the orders with the events of [checks]: set checks.events_sql "
                             "(or checks.events_jsonl) too")
    return None


#: The file itself; each section is a key whose reader reads a table. ``segments`` is the one
#: list of tables.
ROOT = Table(Config, (
    Key("database", DATABASE),
    Key("customerio", CUSTOMERIO),
    Key("identity", IDENTITY, "id", field="identity_key"),
    Key("history", HISTORY),
    Key("email", EMAIL),
    Key("slack", SLACK),
    Key("webhook", WEBHOOK),
    Key("checks", CHECKS),
    Key("diagnosis", DIAGNOSIS),
    Key("purchases", PURCHASES),
    Key("diff", one_of(*DIFF_MODES), doc='"memory", or "database": the diff in the shop database'),
    Key("segments", [SEGMENT], doc="at least one [[segments]] table"),
), doc="reconcile's config.toml", build=lambda v, file: Config(path=file, **v),
   rules=(Rule(_purchases_need_events, {"dependentSchemas": {"purchases": {
       "required": ["checks"],
       "properties": {"checks": {"anyOf": [{"required": ["events_sql"]}, {"required": ["events_jsonl"]}]}}}}}),
          Rule(_listed_suites_need_checks, {"if": {"required": ["segments"], "properties": {"segments": {
              "contains": {"required": ["checks"], "properties": {"checks": {"minItems": 1}}}}}},
              "then": {"required": ["checks"]}})))

__all__ = ["Key", "Rule", "Table", "ROOT", "REQUIRED", "FROM_MODEL"]
