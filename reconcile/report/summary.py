"""What a run means, in words and numbers, for every renderer (HTML, email, Slack, terminal).

Renderers read the decided results (:mod:`reconcile.results`) through these functions and
decide nothing themselves: the verdict line, a segment's causes worst first with their
plain-words explanation and fix, the worst severity, the failed checks, and number formats.
A segment is a :class:`~reconcile.results.SegmentResult` or, for past runs, its dict from
results.json: both carry ``causes`` as ``{cause: {"count", "severity"}}``.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from typing import Any, Mapping

from ..results import (PURCHASE_PROBLEMS, CheckResult, FlowStatus, PurchaseResult, RunResult, Severity, Status,
                       worst)

#: Plain-language explanation and what to fix, for the causes the diagnosis knows.
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
    "id_format": (
        "Identifier in another format",
        "An integration changed the identifier's format (leading zeros stripped, a number sent as "
        "7.0, case or blanks changed), so Customer.io holds the customer as a second person: "
        "missing under the shop's id, extra under the other.",
        "Fix the integration to send the identifier exactly as the shop stores it, then merge or "
        "delete the misspelled profiles."),
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
        "The shop's qualifying event lies within the grace period of the window's edge and "
        "Customer.io has it too: timing noise between the two clocks, expected.",
        "Nothing to fix, unless the count grows."),
    "unexplained": (
        "Not explained yet",
        "None of the known causes fits; the evidence is shown.",
        "Compare the examples' profiles in Customer.io with the shop by hand."),
}

#: The purchases' problems (reconcile.purchases): label, why it happens, what to fix.
PROBLEM_TEXT: dict[str, tuple[str, str, str]] = {
    "missing_event": (
        "Order without its purchase event",
        "The shop has the order, the event stream does not: tracked in the browser and lost to an "
        "ad blocker or a thank-you page that never loaded, or dropped by the pipeline.",
        "Send the purchase event from the server when the order completes (not from the thank-you "
        "page), and backfill these orders."),
    "wrong_person": (
        "Purchase event under another profile",
        "The event reached a profile that is not the order's customer: an anonymous visitor or a "
        "ghost (email-only) profile, so suppression and post-purchase flows miss the buyer.",
        "Identify the customer (their id) before the purchase is tracked, merge the ghost profiles, "
        "and re-send these events under the customer's id."),
    "duplicate_event": (
        "Purchase event sent more than once",
        "A retry or a page reload sent the same order again: revenue is counted twice and "
        "post-purchase messages go out twice.",
        "Send the order_id as the event's id (Customer.io deduplicates on it) or deduplicate "
        "before sending; correct the revenue of these orders."),
    "revenue_mismatch": (
        "Revenue differs from the order",
        "The event's revenue is not the order's (cents for units, before the discount, another "
        "currency), so value-based segments and revenue reports are off.",
        "Send the order's final revenue in the shop's currency unit, as a number."),
    "late_event": (
        "Purchase event arrived late",
        "The event came long after the order: in between, cart and browse flows still see the "
        "buyer as someone who did not buy.",
        "Send the event when the order completes, not from a batch; keep cart flows' delay above "
        "the usual latency."),
    "orphan_event": (
        "Purchase event for an order the shop does not have",
        "A test order, another storefront, or an order_id written differently: revenue and "
        "post-purchase flows for a purchase that did not happen here.",
        "Filter test traffic out of the stream and send the shop's own order_id."),
}

#: What the sampled activity log can say of an order: label, and what it means.
OUTCOME_TEXT: dict[str, tuple[str, str]] = {
    "found_once": ("Recorded once, under the customer", "as it should be"),
    "not_found": ("Not recorded", "Customer.io never received the purchase, under any profile the order names"),
    "other_profile": ("Recorded under another profile",
                      "the purchase is on the profile the order's email names, not the customer's"),
    "found_twice": ("Recorded twice", "Customer.io counts the revenue and runs post-purchase flows twice"),
    "revenue_differs": ("Revenue differs", "Customer.io holds another revenue than the shop"),
    "timestamp_unit": ("Timestamp in milliseconds", "Customer.io holds a time far in the future for it"),
}

SEVERITY_TEXT = {
    Severity.CRITICAL: "messages would reach people who withdrew consent",
    Severity.HIGH: "buyers in cart or winback flows, or double sends",
    Severity.MEDIUM: "stale data in Customer.io",
    Severity.LOW: "timing noise at the window's edge",
}


@dataclass
class Cause:
    """One cause in one segment, as the renderers show it."""

    cause: str
    count: int
    severity: Severity | None = None
    label: str = ""
    explanation: str = ""
    fix: str = ""
    examples: list[dict] = field(default_factory=list)

    def __post_init__(self):
        label, why, fix = CAUSE_TEXT.get(self.cause, (self.cause.replace("_", " ").capitalize(), "", ""))
        self.label = self.label or label
        self.explanation = self.explanation or why
        self.fix = self.fix or fix
        self.severity = Severity.of(self.severity)


def _get(segment: Any, name: str) -> Any:
    return segment.get(name) if isinstance(segment, Mapping) else getattr(segment, name, None)


def causes(segment: Any) -> list[Cause]:
    """The segment's causes, worst severity first, then by count; [] when it was not diagnosed."""
    found = [Cause(cause=str(name), count=int(entry.get("count") or 0), severity=entry.get("severity"))
             for name, entry in (_get(segment, "causes") or {}).items()]
    ranks = {s: s.rank for s in Severity}
    return sorted((c for c in found if c.count > 0),
                  key=lambda c: (ranks.get(c.severity, len(ranks)), -c.count, c.cause))


def segment_severity(segment: Any) -> Severity | None:
    """A segment's worst severity: the diagnosis' own, else its causes'."""
    return worst([_get(segment, "worst_severity")] + [c.severity for c in causes(segment)])


def failed_checks(run: RunResult) -> list[CheckResult]:
    """The data-quality checks that failed or could not run."""
    return [check for check in run.checks if check.status != Status.PASS]


def run_severity(run: RunResult) -> Severity | None:
    """The worst severity in the run: its segments' causes, its failed critical checks, its
    purchases' problems and a critical core event that stopped flowing."""
    checks = [Severity.CRITICAL for check in run.checks if check.blocking]
    flow = [Severity.CRITICAL for f in run.flow if f.status == FlowStatus.FAIL]
    purchases = [run.purchases.worst_severity] if run.purchases is not None else []
    return worst([segment_severity(s) for s in run.segments] + checks + flow + purchases)


def problems(purchases: PurchaseResult) -> list[tuple[str, int, Severity | None, str, str, str]]:
    """(problem, count, severity, label, why, fix) of the problems found, worst first."""
    found = []
    for problem in PURCHASE_PROBLEMS:
        count = purchases.problems.get(problem, 0)
        if count:
            label, why, fix = PROBLEM_TEXT[problem]
            found.append((problem, count, Severity.of(purchases.severities.get(problem)), label, why, fix))
    return found


def purchases_verdict(purchases: PurchaseResult | None) -> str:
    """``"purchases out of tolerance (12 of 95 orders)"`` for the verdict line; empty without [purchases]."""
    if purchases is None:
        return ""
    if purchases.status == Status.ERROR:
        return "purchases could not be compared"
    counted = f"{purchases.troubled:,} of {purchases.orders:,} orders"
    activity = purchases.activity
    if activity is not None and activity.status == Status.FAIL:
        wrong = len(activity.orders) - activity.outcomes["found_once"]
        counted += f", {wrong:,} of {len(activity.orders):,} sampled wrong in Customer.io"
    return (f"purchases out of tolerance ({counted})" if purchases.status == Status.FAIL
            else f"purchases within tolerance ({counted})")


def flow_verdict(flow: list) -> str:
    """``"order_completed not flowing as usual (critical)"`` for the core events with a problem."""
    words = {FlowStatus.FAIL: "not flowing as usual (critical)", FlowStatus.WARNING: "not flowing as usual",
             FlowStatus.ERROR: "could not be counted"}
    named = ((", ".join(f.event for f in flow if f.status == status), said) for status, said in words.items())
    return ", ".join(f"{events} {said}" for events, said in named if events)


def verdict_line(run: RunResult) -> str:
    """One line that says it all: ``FAIL: 2 of 5 segments out of tolerance, 1 critical``."""
    total, failed, errors = len(run.segments), run.count(Status.FAIL), run.count(Status.ERROR)
    problems = failed_checks(run)
    critical = sum(1 for s in run.segments if segment_severity(s) == Severity.CRITICAL)
    critical_checks = sum(1 for c in problems if c.blocking)
    unreadable = sum(1 for c in problems if c.status == Status.ERROR)
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
    for extra in (purchases_verdict(run.purchases), flow_verdict(run.flow)):
        if extra:
            text += f", {extra}"
    return text + diagnosis_incomplete(run)


def incomplete_diagnoses(run: RunResult) -> list[Any]:
    """The segments whose diagnosis was asked for and could not run (their causes are missing)."""
    return [s for s in run.segments if _get(s, "diagnosis_complete") is False]


def diagnosis_incomplete(run: RunResult) -> str:
    """``", diagnosis incomplete"`` (``" (2 of 5 segments)"`` when not all), or empty."""
    incomplete, total = len(incomplete_diagnoses(run)), len(run.segments)
    if not incomplete:
        return ""
    return ", diagnosis incomplete" + ("" if incomplete == total else f" ({incomplete} of {total} segments)")


def checks_verdict(checks: list[CheckResult]) -> str:
    """``"; 2 critical data-quality checks failed"`` (empty when none failed or errored)."""
    critical = sum(1 for c in checks if c.blocking)
    errors = sum(1 for c in checks if c.status == Status.ERROR)
    warnings = sum(1 for c in checks if c.status == Status.FAIL and not c.blocking)
    parts = []
    if critical:
        parts.append(f"{critical} critical data-quality {'check' if critical == 1 else 'checks'} failed")
    if errors:
        parts.append(f"{errors} could not be run (source unreadable)")
    if warnings:
        parts.append(f"{warnings} {'warning' if warnings == 1 else 'warnings'}")
    return "; " + ", ".join(parts) if parts else ""


def _missing(value: Any) -> bool:
    return value is None or (isinstance(value, float) and math.isnan(value))


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


__all__ = ["CAUSE_TEXT", "PROBLEM_TEXT", "OUTCOME_TEXT", "SEVERITY_TEXT", "Cause", "causes", "segment_severity",
           "failed_checks", "run_severity", "verdict_line", "incomplete_diagnoses", "diagnosis_incomplete",
           "checks_verdict", "problems", "purchases_verdict", "flow_verdict", "format_count", "format_percent",
           "format_points"]
