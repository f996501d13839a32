"""The configuration as typed, frozen values: what every part of reconcile reads.

The keys of ``config.toml`` that fill these are declared once, in :mod:`.keys` (with their
readers, defaults and the words the JSON Schema shows); the loader (:mod:`.load`) is the only
place that builds these from a file, and a default left out of :mod:`.keys` is the one here.
"""

from __future__ import annotations

import os
from dataclasses import dataclass, field
from pathlib import Path

from sqlalchemy.engine import make_url

from ..errors import ConfigError
from .values import MAX_REQUESTS_PER_SECOND, MAX_WINDOW_DAYS  # noqa: F401  (part of the model's vocabulary)

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
    # the Track API, for `reconcile plan` and `apply` only: the key is read from its variable when used,
    # so an audit never needs the write key in its environment
    site_id: str | None = None
    track_api_key_variable: str | None = None    # from ``track_api_key = "${VAR}"``
    max_plan_age_hours: float = 24.0             # an older repair plan is refused

    def track_api_key(self) -> str:
        """The Track API key from its environment variable; a missing one is a ConfigError."""
        if self.track_api_key_variable is None:
            raise ConfigError('customerio.track_api_key is not set: add track_api_key = "${VAR}" to [customerio] '
                              "and export VAR with the workspace's Track API key")
        if self.track_api_key_variable not in os.environ:
            raise ConfigError(f"customerio.track_api_key: environment variable {self.track_api_key_variable} "
                              "is not set; export it with the workspace's Track API key")
        return os.environ[self.track_api_key_variable]


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
    checks: tuple[str, ...] = ()                 # the suites that feed it: `reconcile check` gates on these only

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
class SlackConfig:
    """``[slack]``: where ``reconcile run --slack`` posts the verdict (an incoming webhook).

    The webhook URL is a secret (whoever holds it may post to the channel), so it is kept as the
    name of an environment variable and read only when a message is posted.
    """

    webhook_variable: str                        # from ``webhook_url = "${VAR}"``
    send: str = "always"                         # or "on_failure"
    timeout_seconds: float = 10.0
    source: str = "config.toml"

    def webhook_url(self) -> str:
        return _variable(self.webhook_variable, self.source, "slack.webhook_url", "--slack")


@dataclass(frozen=True)
class WebhookConfig:
    """``[webhook]``: where ``reconcile run --webhook`` posts the run's JSON summary."""

    url: str = field(repr=False)                 # may hold a token: never printed, only its host
    send: str = "always"                         # or "on_failure"
    timeout_seconds: float = 10.0
    source: str = "config.toml"


def _variable(name: str, source: str, key: str, flag: str) -> str:
    if not os.environ.get(name):
        raise ConfigError(f"{source}: {key}: environment variable {name} is not set; export it or drop {flag}")
    return os.environ[name]


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
    max_age_hours: float = 24            # a suite's event whose newest is older than this stopped flowing
    volume_drop: float = 0.5             # a day's count below this share of the usual (or above 2x) is off


@dataclass(frozen=True)
class PurchasesConfig:
    """``[purchases]``: every shop order held against its purchase event (``reconcile.purchases``)."""

    orders_sql: str                      # the window's orders: order_id, the identity key, completed_at (+ email, revenue)
    event: str = "order_completed"       # the purchase event's name in the [checks] events
    window_days: float = 7
    max_latency_seconds: float = 300     # an event later than this after its order is late
    revenue_tolerance: float = 0.01      # relative difference before the revenues disagree
    tolerance: float = 0.005             # share of orders with a problem before the verdict fails
    activity_sample: int = 200           # orders whose Customer.io activity log is read (0: off)


@dataclass(frozen=True)
class DiagnosisConfig:
    """``[diagnosis]``: why each discrepant person differs (see :mod:`reconcile.diagnose`)."""

    enabled: bool = True
    max_people: int = 2000               # per segment; more are sampled evenly
    boundary_grace_seconds: float = 3600  # timing noise: an edge this close, and both sides this close
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
    slack: SlackConfig | None = None
    webhook: WebhookConfig | None = None
    checks: ChecksConfig | None = None   # None: no [checks] section, no checks run
    diagnosis: DiagnosisConfig = DiagnosisConfig()
    diff: str = "memory"                 # top-level ``diff``: "memory", or "database" (pushdown, README "Scale")
    purchases: PurchasesConfig | None = None   # None: no [purchases] section, orders are not compared

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
        found = [self.customerio.app_api_key, os.environ.get(self.customerio.track_api_key_variable or "", "")]
        password = make_url(self.database.url).password
        if password:
            found.append(str(password))
        if self.email is not None and self.email.password_variable and self.email.password_variable in os.environ:
            found.append(os.environ[self.email.password_variable])
        if self.slack is not None and self.slack.webhook_variable in os.environ:
            found.append(os.environ[self.slack.webhook_variable])
        if self.webhook is not None:
            found.append(self.webhook.url)
        return [s for s in found if s]
