"""What a run found, as values: statuses, severities, results, and the one rule that decides.

Every renderer (results.json, discrepancies.csv, the report, the email, the terminal) reads
these and decides nothing: pass or fail is settled here, by :func:`decide` for a segment and
:func:`run_status` for the run.

* A segment is ``pass`` (within tolerance), ``fail`` (out of tolerance) or ``error`` (could not
  be compared: never a verdict).
* The run is ``error`` if any segment is (or a check's source could not be read, or the
  purchases or a core event's flow could not be read, or no segment ran), else ``fail`` if any
  segment failed, a critical data-quality expectation failed, the purchases are out of
  tolerance or a critical core event stopped flowing, else ``pass``: an error always wins, so a
  run that could not compare something is never reported as passing.
* Purchases (:class:`PurchaseResult`, :func:`decide_purchases`) fail when the share of orders
  with a problem, or of sampled orders whose activity log is wrong, is above the tolerance; a
  core event's flow (:class:`FlowResult`, :func:`decide_flow`) is a warning when it is stale or
  its day's volume is off, and fails the run only for the purchase event.

Statuses and severities are ``StrEnum``s: they compare equal to, print as and serialise to the
plain strings results.json has always held.
"""

from __future__ import annotations

from dataclasses import dataclass, field, fields
from datetime import datetime
from enum import StrEnum
from typing import TYPE_CHECKING, Any, Iterable

if TYPE_CHECKING:   # pandas is imported by whoever builds the frames; --help never needs it
    import pandas as pd


class Status(StrEnum):
    PASS = "pass"
    FAIL = "fail"
    ERROR = "error"


class Severity(StrEnum):
    """How much harm a difference does, worst first (the order is the ranking)."""

    CRITICAL = "critical"    # messages would reach people who withdrew consent
    HIGH = "high"            # buyers in cart or winback flows, or double sends
    MEDIUM = "medium"        # stale data in Customer.io
    LOW = "low"              # timing noise at the window's edge

    @property
    def rank(self) -> int:
        return list(Severity).index(self)

    @classmethod
    def of(cls, value: Any) -> "Severity | None":
        """The severity a value names (any case, surrounding blanks), or None."""
        try:
            return cls(str(value).strip().lower()) if value is not None else None
        except ValueError:
            return None


def worst(severities: Iterable[Any]) -> Severity | None:
    """The most severe of the given severities (None when none is known)."""
    known = [s for s in map(Severity.of, severities) if s is not None]
    return min(known, key=lambda s: s.rank) if known else None


class CheckSeverity(StrEnum):
    """A data-quality expectation's severity: a failed critical one fails the run."""

    CRITICAL = "critical"
    WARNING = "warning"


SIDES = ("missing_in_customerio", "extra_in_customerio")
DISCREPANCY_COLUMNS = ["segment", "side", "id", "email", "cio_id"]   # who a differing person is


def stack_rows(frames: "list[pd.DataFrame]", columns: list[str]) -> "pd.DataFrame":
    """The rows of several frames as one frame, with ``columns`` when there are none.

    Empty frames and all-empty columns are left out of the concatenation and the columns put
    back after it: they add no values, and pandas 2 warns on standard error (which cron mails)
    that it will stop ignoring them when it chooses the columns' types."""
    import pandas as pd

    kept = [frame.reset_index(drop=True) for frame in frames if len(frame)]
    if len(kept) <= 1:
        return kept[0] if kept else pd.DataFrame(columns=columns)
    order = list(dict.fromkeys(column for frame in kept for column in frame.columns))
    valued = [frame.loc[:, frame.notna().any()] for frame in kept]
    return pd.concat(valued, ignore_index=True).reindex(columns=order)


#: values from the data that outputs show (samples, ids) are cut to this many characters
SHOWN_CHARACTERS = 200


def shown_value(value: Any, limit: int = SHOWN_CHARACTERS) -> Any:
    """A value from the data as outputs show it: text longer than ``limit`` is cut, with a marker
    that says how long it was; lists are cut item by item; anything else is unchanged."""
    if isinstance(value, str) and len(value) > limit:
        return f"{value[:limit]}… (cut: {len(value):,} characters)"
    if isinstance(value, list):
        return [shown_value(item, limit) for item in value]
    return value


@dataclass
class CheckResult:
    """The outcome of one expectation on one source, ready for results.json and the report.

    ``success`` is False for a failed expectation and for one that could not be evaluated;
    ``error`` is set only when the source itself could not be read (never a pass, exit 3).
    """

    suite: str
    expectation: str
    severity: str = CheckSeverity.CRITICAL
    column: str | None = None
    on: str = "events"
    success: bool = False
    element_count: int | None = None
    unexpected_count: int | None = None
    unexpected_percent: float | None = None
    sample_values: list[Any] = field(default_factory=list)
    event_ids: list[str] = field(default_factory=list)       # offending events (rows' ids for people)
    message: str = ""
    error: str | None = None
    details: dict[str, Any] = field(default_factory=dict)    # rule-specific figures (revenue double-counted, ...)
    kwargs: dict[str, Any] = field(default_factory=dict)

    @property
    def status(self) -> Status:
        if self.error is not None:
            return Status.ERROR
        return Status.PASS if self.success else Status.FAIL

    @property
    def blocking(self) -> bool:
        """A failed critical expectation: it fails the run (exit 1)."""
        return self.status == Status.FAIL and self.severity == CheckSeverity.CRITICAL

    def shown(self) -> "CheckResult":
        """The values copied from the data (samples, event ids, details) cut as outputs show them
        (:func:`shown_value`): a 1 MB property never reaches results.json, the report or an email."""
        self.sample_values = [shown_value(v) for v in self.sample_values]
        self.event_ids = [shown_value(v) for v in self.event_ids]
        self.details = {key: shown_value(v) for key, v in self.details.items()}
        self.message = shown_value(self.message, SHOWN_CHARACTERS * 3)
        return self

    def to_dict(self) -> dict[str, Any]:
        return {
            "suite": self.suite, "expectation": self.expectation, "column": self.column, "on": self.on,
            "severity": self.severity, "status": self.status, "success": self.success,
            "element_count": self.element_count, "unexpected_count": self.unexpected_count,
            "unexpected_percent": None if self.unexpected_percent is None else round(self.unexpected_percent, 4),
            "sample_values": list(self.sample_values), "event_ids": list(self.event_ids),
            "message": self.message, "error": self.error, "details": dict(self.details),
            "kwargs": dict(self.kwargs),
        }


@dataclass
class SegmentResult:
    name: str
    customerio_segment_id: int
    title: str = ""
    status: Status = Status.ERROR
    tolerance: float = 0.0
    truth_count: int | None = None
    customerio_count: int | None = None
    matched: int | None = None
    missing_in_customerio: int | None = None
    extra_in_customerio: int | None = None
    mismatch_rate: float | None = None
    error: str | None = None
    warnings: list[str] = field(default_factory=list)
    customerio_profiles: int | None = None          # membership rows, before people were merged by key
    customerio_reported_count: int | None = None    # what /customer_count said
    truth_rows: int | None = None                   # rows the SQL returned, before people were merged
    truth_rows_without_key: int | None = None
    duplicate_profiles: int | None = None
    keyless_profiles: int | None = None
    pages: int | None = None
    seconds: dict[str, float] = field(default_factory=dict)
    # the diagnosis (reconcile.diagnose), when it ran: counts are over the diagnosed sample
    causes: dict[str, dict[str, Any]] | None = None     # cause -> {"count", "severity"}, worst first
    worst_severity: Severity | None = None
    diagnosed_people: int | None = None                 # the sample size (all differing people up to max_people)
    window_edge_people: int | None = None               # left out of the tolerance unless window_edge_counts
    mismatch_rate_excluding_window_edge: float | None = None
    verdict_rate: str = "mismatch_rate"                 # which rate the status was decided on
    identity_health: dict[str, int] = field(default_factory=dict)
    diagnosis_complete: bool | None = None              # None: the diagnosis is off (or nothing was compared)
    diagnosis_error: str | None = None                  # why it is incomplete: its causes are missing
    identity_people: dict = field(default_factory=dict, repr=False, compare=False)   # sets, for the run's union
    discrepancies: "pd.DataFrame | None" = field(default=None, repr=False, compare=False)

    @property
    def diagnosis_incomplete(self) -> bool:
        """The diagnosis was asked for and could not run: causes are missing, not absent."""
        return self.diagnosis_complete is False

    @property
    def differing(self) -> int:
        return (self.missing_in_customerio or 0) + (self.extra_in_customerio or 0)

    def to_dict(self) -> dict[str, Any]:
        data = {f.name: getattr(self, f.name) for f in fields(self) if f.name not in ("discrepancies", "identity_people")}
        if self.causes is None:
            del data["causes"]   # not diagnosed: no "causes" key, so history claims no new cause
        data["warnings"] = list(self.warnings)
        data["seconds"] = {k: round(v, 3) for k, v in self.seconds.items()}
        return data


def decide(result: SegmentResult, window_edge_counts: bool = True) -> None:
    """The segment's verdict, from its counts: the one place pass or fail is decided.

    The rate judged is ``mismatch_rate``, or, when the diagnosis found window-edge people and
    ``window_edge_counts`` is false, the rate without them (timing noise does not fail a
    segment). A segment that could not be compared stays ``error``; a rate that cannot be
    computed (an empty truth with members) fails.
    """
    if result.error is not None or result.truth_count is None:
        result.status = Status.ERROR
        return
    if result.window_edge_people is not None:
        if result.truth_count:
            result.mismatch_rate_excluding_window_edge = (
                (result.differing - result.window_edge_people) / result.truth_count)
        else:
            result.mismatch_rate_excluding_window_edge = result.mismatch_rate
    judged = result.mismatch_rate
    result.verdict_rate = "mismatch_rate"
    if not window_edge_counts and result.mismatch_rate_excluding_window_edge is not None:
        judged, result.verdict_rate = result.mismatch_rate_excluding_window_edge, "mismatch_rate_excluding_window_edge"
    result.status = Status.PASS if judged is not None and judged <= result.tolerance else Status.FAIL


PURCHASE_PROBLEMS = ("missing_event", "wrong_person", "duplicate_event", "revenue_mismatch", "late_event",
                     "orphan_event")            # worst first: an order gets the first that fits
ACTIVITY_OUTCOMES = ("not_found", "other_profile", "found_twice", "revenue_differs", "timestamp_unit", "found_once")
PURCHASE_COLUMNS = ["order_id", "id", "email", "problem", "severity", "evidence"]


@dataclass
class ActivityResult:
    """The sampled orders as Customer.io's activity log shows them: one outcome per order."""

    tolerance: float = 0.0
    orders: list[dict[str, Any]] = field(default_factory=list)   # order_id, id, email, outcome, evidence, cio_id
    error: str | None = None
    status: Status = Status.ERROR

    @property
    def outcomes(self) -> dict[str, int]:
        return {outcome: sum(1 for o in self.orders if o["outcome"] == outcome) for outcome in ACTIVITY_OUTCOMES}

    def to_dict(self) -> dict[str, Any]:
        return {"sampled": len(self.orders), **self.outcomes, "status": self.status, "error": self.error,
                "orders": [dict(order) for order in self.orders]}


@dataclass
class PurchaseResult:
    """Every order of the window against its purchase event (:mod:`reconcile.purchases`)."""

    event: str = "order_completed"
    window_days: float = 7
    tolerance: float = 0.0
    orders: int | None = None
    problems: dict[str, int] = field(default_factory=dict)            # problem -> orders (orphans: events)
    severities: dict[str, Severity] = field(default_factory=dict)     # problem -> its severity
    revenue_without_event: float | None = None
    revenue_counted_twice: float | None = None
    problem_rate: float | None = None        # orders with a problem / orders
    status: Status = Status.ERROR
    error: str | None = None
    warnings: list[str] = field(default_factory=list)
    activity: ActivityResult | None = None   # None: activity_sample = 0
    engine: str = "memory"                   # where the comparison ran: "memory" or "database"
    seconds: dict[str, float] = field(default_factory=dict)
    discrepancies: "pd.DataFrame | None" = field(default=None, repr=False, compare=False)   # PURCHASE_COLUMNS

    @property
    def with_event(self) -> int | None:
        return None if self.orders is None else self.orders - self.problems.get("missing_event", 0)

    @property
    def troubled(self) -> int:
        """Orders with a problem (orphan events are not orders)."""
        return sum(count for problem, count in self.problems.items() if problem != "orphan_event")

    @property
    def worst_severity(self) -> Severity | None:
        return worst(self.severities.get(problem) for problem, count in self.problems.items() if count)

    def to_dict(self) -> dict[str, Any]:
        return {"event": self.event, "window_days": self.window_days, "orders": self.orders,
                "with_event": self.with_event,
                **{problem: self.problems.get(problem, 0) if self.orders is not None else None
                   for problem in PURCHASE_PROBLEMS},
                "severities": dict(self.severities), "revenue_without_event": self.revenue_without_event,
                "revenue_counted_twice": self.revenue_counted_twice, "problem_rate": self.problem_rate,
                "tolerance": self.tolerance, "status": self.status, "error": self.error,
                "warnings": list(self.warnings), "engine": self.engine,
                "activity": self.activity.to_dict() if self.activity is not None else None,
                "seconds": {k: round(v, 3) for k, v in self.seconds.items()}}


def decide_purchases(result: PurchaseResult) -> None:
    """The purchases' verdict: the share of orders with a problem, and of sampled orders whose
    activity log is wrong, each against the tolerance; an unreadable side is ``error``."""
    activity = result.activity
    if activity is not None:
        wrong = len(activity.orders) - activity.outcomes["found_once"]
        activity.status = (Status.ERROR if activity.error is not None else
                           Status.FAIL if activity.orders and wrong / len(activity.orders) > activity.tolerance
                           else Status.PASS)
    if result.error is not None or result.orders is None:
        result.status = Status.ERROR
        return
    result.problem_rate = result.troubled / result.orders if result.orders else None
    out = (result.problem_rate > result.tolerance if result.problem_rate is not None
           else bool(result.problems.get("orphan_event")))
    result.status = (Status.ERROR if activity is not None and activity.status == Status.ERROR else
                     Status.FAIL if out or (activity is not None and activity.status == Status.FAIL) else Status.PASS)


class FlowStatus(StrEnum):
    """A core event's flow: a warning does not fail the run; ``fail`` is a critical event's problem."""

    PASS = "pass"
    WARNING = "warning"
    FAIL = "fail"
    ERROR = "error"


@dataclass
class FlowResult:
    """One core event: its newest event's age and its count over the day before ``as_of``."""

    event: str
    critical: bool = False                   # the purchase event: a problem fails the run
    newest: datetime | None = None
    age_hours: float | None = None
    count: int | None = None                 # events in the 24 hours before as_of
    baseline: float | None = None            # the usual count: median of up to 4 earlier runs on this weekday
    runs_in_baseline: int = 0
    problems: list[str] = field(default_factory=list)
    status: FlowStatus = FlowStatus.ERROR
    error: str | None = None

    def to_dict(self) -> dict[str, Any]:
        return {"event": self.event, "newest": self.newest.isoformat() if self.newest else None,
                "age_hours": None if self.age_hours is None else round(self.age_hours, 2), "count": self.count,
                "baseline": self.baseline, "runs_in_baseline": self.runs_in_baseline, "critical": self.critical,
                "status": self.status, "problems": list(self.problems), "error": self.error}


def decide_flow(flow: FlowResult, max_age_hours: float, volume_drop: float) -> None:
    """Stale (newest older than ``max_age_hours``, or none at all) or a day's count below
    ``volume_drop`` of the baseline or above twice it: a warning, ``fail`` for a critical event.
    Without a baseline the volume is not judged."""
    if flow.error is not None or flow.count is None:
        flow.status = FlowStatus.ERROR
        return
    flow.problems = []
    if flow.age_hours is None:
        flow.problems.append("no event at all")
    elif flow.age_hours > max_age_hours:
        flow.problems.append(f"the newest is {flow.age_hours:,.1f} hours old (max_age_hours {max_age_hours:g})")
    if flow.baseline is not None and flow.count < volume_drop * flow.baseline:
        flow.problems.append(f"{flow.count:,} in the last 24 hours, below {volume_drop:g} of the usual "
                             f"{flow.baseline:,.0f}")
    elif flow.baseline is not None and flow.count > 2 * flow.baseline:
        flow.problems.append(f"{flow.count:,} in the last 24 hours, above twice the usual {flow.baseline:,.0f}")
    flow.status = (FlowStatus.PASS if not flow.problems else FlowStatus.FAIL if flow.critical
                   else FlowStatus.WARNING)


def run_status(segments: list[SegmentResult], checks: list[CheckResult], purchases: PurchaseResult | None = None,
               flow: Iterable[FlowResult] = ()) -> Status:
    """The run's status (see the module docstring): an error anywhere wins, then any failure."""
    statuses = {segment.status for segment in segments}
    flows = {f.status for f in flow}
    if (Status.ERROR in statuses or not segments or any(check.status == Status.ERROR for check in checks)
            or (purchases is not None and purchases.status == Status.ERROR) or FlowStatus.ERROR in flows):
        return Status.ERROR
    failed = (Status.FAIL in statuses or any(check.blocking for check in checks) or FlowStatus.FAIL in flows
              or (purchases is not None and purchases.status == Status.FAIL))
    return Status.FAIL if failed else Status.PASS


@dataclass
class RunResult:
    as_of: datetime
    config_path: str
    segments: list[SegmentResult]
    started_at: datetime
    finished_at: datetime | None = None
    checks: list[CheckResult] = field(default_factory=list)   # data-quality checks, when [checks] is set
    identity_health: dict[str, int] = field(default_factory=dict)   # the diagnosis' measures over all segments
    purchases: PurchaseResult | None = None                    # with [purchases]
    flow: list[FlowResult] = field(default_factory=list)       # the core events, with [checks]

    @property
    def status(self) -> Status:
        return run_status(self.segments, self.checks, self.purchases, self.flow)

    def count(self, status: str) -> int:
        return sum(1 for segment in self.segments if segment.status == status)

    def discrepancies(self) -> "pd.DataFrame":
        return stack_rows([s.discrepancies for s in self.segments if s.discrepancies is not None],
                          DISCREPANCY_COLUMNS)

    def to_dict(self) -> dict[str, Any]:
        return {
            "as_of": self.as_of.isoformat(),
            "status": self.status,
            "started_at": self.started_at.isoformat(),
            "finished_at": self.finished_at.isoformat() if self.finished_at else None,
            "config": self.config_path,
            "segments": [segment.to_dict() for segment in self.segments],
            "checks": [check.to_dict() for check in self.checks],
            "identity_health": dict(self.identity_health),
            "purchases": self.purchases.to_dict() if self.purchases is not None else None,
            "flow": [flow.to_dict() for flow in self.flow],
        }
