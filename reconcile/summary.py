"""What a run means, in words and numbers, for every renderer (HTML, email subject, terminal).

The diagnosis (causes, severities) and the data-quality checks arrive in the results as other
parts of the tool land; everything here reads them defensively, so a run without them still
gets a verdict, and a run with them leads with the worst severity.

Causes are read from, in order: ``segment.causes`` (a mapping of cause to count or to a
record, or a list of records with ``cause``/``name``, ``count``, ``severity``, ``fix``,
``examples``, ...), else the ``cause``/``severity`` columns of the segment's discrepancies.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from typing import Any, Iterable, Mapping

from .results import RunResult, Status

SEVERITIES = ("critical", "high", "medium", "low")

#: Plain-language explanation and what to fix, for the causes the diagnosis knows. A cause
#: record that carries its own ``explanation``/``fix`` wins over these.
CAUSE_TEXT: dict[str, tuple[str, str, str]] = {
    # cause: (label, why it happens, what to fix)
    "consent_mismatch": (
        "Consent differs between the shop and Customer.io",
        "A consent change (often a withdrawal) never reached Customer.io, so the segment "
        "uses an outdated consent flag.",
        "Send every consent change to Customer.io as it happens and backfill the flags of "
        "these people; pause email campaigns on this segment until it is fixed."),
    "timestamp_unit": (
        "Timestamp in the wrong unit",
        "A timestamp arrives in milliseconds (13 digits) where Customer.io expects seconds, "
        "or the reverse, so date conditions put the person far in the future or past.",
        "Send unix seconds from the integration that writes this attribute, then re-send "
        "the attribute for these people."),
    "attribute_stale": (
        "Attribute out of date in Customer.io",
        "A mapped attribute holds an older or different value than the shop has.",
        "Check the sync job or event that updates this attribute; re-send it for these people."),
    "duplicate_profile": (
        "Duplicate Customer.io profiles",
        "Two or more profiles share one email: the person can get every message twice.",
        "Merge the profiles in Customer.io and identify people by id before their email."),
    "idless_profile": (
        "Email-only profile never merged",
        "A profile created with only an email (a form, an anonymous cart) was never merged "
        "with the person's id profile.",
        "Call identify with the customer id when the person logs in or buys, and merge the "
        "existing email-only profiles."),
    "profile_missing": (
        "No Customer.io profile at all",
        "The shop knows this customer but Customer.io never received an identify call.",
        "Find where customers are created without an identify call (imports, POS, guest "
        "checkout) and backfill these people."),
    "not_in_shop": (
        "Not a shop customer",
        "Customer.io holds a person the shop does not know: deleted, a test account, or a "
        "deletion that never propagated.",
        "Delete or suppress these profiles in Customer.io and send deletions as they happen."),
    "window_edge": (
        "On the edge of the time window",
        "The qualifying event lies within the grace period of the window's edge: timing "
        "noise between the two clocks, expected.",
        "Nothing to fix, unless the count grows."),
    "unexplained": (
        "Not explained yet",
        "None of the known causes fits; the evidence is shown.",
        "Compare the examples' profiles in Customer.io with the shop by hand."),
}


@dataclass
class Cause:
    """One cause in one segment, as the renderers show it."""

    cause: str
    count: int
    severity: str | None = None
    label: str = ""
    explanation: str = ""
    fix: str = ""
    examples: list[dict] = field(default_factory=list)

    def __post_init__(self):
        label, why, fix = CAUSE_TEXT.get(self.cause, (self.cause.replace("_", " ").capitalize(), "", ""))
        self.label = self.label or label
        self.explanation = self.explanation or why
        self.fix = self.fix or fix
        self.severity = normal_severity(self.severity)


def normal_severity(value: Any) -> str | None:
    text = str(value).strip().lower() if value is not None and not _missing(value) else ""
    return text if text in SEVERITIES else None


def worst(severities: Iterable[str | None]) -> str | None:
    """The most severe of the given severities (None when none is known)."""
    ranked = [SEVERITIES.index(s) for s in severities if s in SEVERITIES]
    return SEVERITIES[min(ranked)] if ranked else None


def _missing(value: Any) -> bool:
    return value is None or (isinstance(value, float) and math.isnan(value))


def _field(record: Any, *names: str, default: Any = None) -> Any:
    for name in names:
        value = record.get(name) if isinstance(record, Mapping) else getattr(record, name, None)
        if not _missing(value):
            return value
    return default


def _as_int(value: Any) -> int:
    try:
        return int(value)
    except (TypeError, ValueError):
        return 0


def _records(raw: Any) -> list[Any]:
    """``{"cause": 3}``, ``{"cause": {...}}`` or ``[{...}, ...]`` as a list of records."""
    if raw is None:
        return []
    if isinstance(raw, Mapping):
        return [dict(value, cause=key) if isinstance(value, Mapping) else {"cause": key, "count": value}
                for key, value in raw.items()]
    if isinstance(raw, (list, tuple)):
        return list(raw)
    return []


def causes(segment: Any) -> list[Cause]:
    """The segment's causes, worst severity first, then by count; [] when there is no diagnosis.

    ``segment`` is a :class:`~reconcile.results.SegmentResult` or a segment's dict from
    results.json (which has no discrepancies frame).
    """
    raw = _field(segment, "causes", "cause_counts")
    found = []
    for record in _records(raw):
        name = _field(record, "cause", "name", "code")
        if name is None:
            continue
        found.append(Cause(
            cause=str(name), count=_as_int(_field(record, "count", "people", "n", default=0)),
            severity=_field(record, "severity"), label=str(_field(record, "label", "title", default="")),
            explanation=str(_field(record, "explanation", "description", "why", default="")),
            fix=str(_field(record, "fix", "what_to_fix", "action", default="")),
            examples=[_plain(e) for e in (_field(record, "examples", default=[]) or [])]))
    frame = None if isinstance(segment, Mapping) else getattr(segment, "discrepancies", None)
    if not found and frame is not None and len(frame) and "cause" in frame.columns:
        for name, rows in frame.groupby("cause", sort=False):
            severity = worst(normal_severity(s) for s in rows["severity"]) if "severity" in rows else None
            found.append(Cause(cause=str(name), count=len(rows), severity=severity))
    order = {s: i for i, s in enumerate(SEVERITIES)}
    return sorted((c for c in found if c.count > 0),
                  key=lambda c: (order.get(c.severity, len(SEVERITIES)), -c.count, c.cause))


def _plain(example: Any) -> dict:
    if isinstance(example, Mapping):
        return dict(example)
    if hasattr(example, "to_dict"):
        return dict(example.to_dict())
    return {"example": example}


def segment_severity(segment: Any) -> str | None:
    """A segment's worst severity: its own ``severity`` field if the diagnosis sets one, else its causes'."""
    own = normal_severity(_field(segment, "worst_severity", "severity"))
    return worst([own] + [c.severity for c in causes(segment)])


def failed_checks(run: Any) -> list[Any]:
    """The data-quality checks that failed or could not run (``run.checks``, when the checks ran)."""
    return [check for check in (_field(run, "checks", default=[]) or [])
            if _field(check, "status", default=Status.PASS) != Status.PASS]


def _blocking(check: Any) -> bool:
    """A failed critical expectation (it fails the run)."""
    return _field(check, "status") == Status.FAIL and normal_severity(_field(check, "severity")) == "critical"


def run_severity(run: RunResult) -> str | None:
    """The worst severity in the run: its segments' causes and its failed critical checks."""
    checks = ["critical" for check in failed_checks(run) if _blocking(check)]
    return worst([segment_severity(s) for s in run.segments] + checks)


def verdict_line(run: RunResult) -> str:
    """One line that says it all: ``FAIL: 2 of 5 segments out of tolerance, 1 critical``."""
    total, failed, errors = len(run.segments), run.count(Status.FAIL), run.count(Status.ERROR)
    problems = failed_checks(run)
    critical = sum(1 for s in run.segments if segment_severity(s) == "critical")
    critical_checks = sum(1 for c in problems if _blocking(c))
    unreadable = sum(1 for c in problems if _field(c, "status") == Status.ERROR)
    noun = "segment" if total == 1 else "segments"
    if errors or not total:
        text = f"ERROR: {errors} of {total} {noun} could not be compared" if total else "ERROR: no segment was compared"
        if failed:
            text += f", {failed} out of tolerance"
    elif failed:
        text = f"{run.status.upper()}: {failed} of {total} {noun} out of tolerance"
    else:
        text = (f"{run.status.upper()}: " +
                ("the segment is within tolerance" if total == 1 else f"all {total} segments within tolerance"))
    if critical:
        text += f", {critical} critical"
    if critical_checks:
        text += f", {critical_checks} critical data-quality {'check' if critical_checks == 1 else 'checks'} failed"
    if unreadable:
        text += f", {unreadable} data-quality {'check' if unreadable == 1 else 'checks'} could not run"
    return text


def format_count(value) -> str:
    """12408 → "12,408"; None → "–"."""
    return "–" if _missing(value) else f"{int(value):,}"


def format_percent(value, digits: int = 1) -> str:
    """0.031 → "3.1 %"; None → "–"."""
    return "–" if _missing(value) else f"{value * 100:.{digits}f} %"


def format_points(delta) -> str:
    """A change in mismatch rate, in percentage points: 0.011 → "+1.1 pts"."""
    if _missing(delta):
        return "–"
    return "±0.0 pts" if round(delta * 100, 1) == 0 else f"{delta * 100:+.1f} pts"
