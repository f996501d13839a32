"""The data model of the checks: a suite's expectations as loaded, and one result per expectation.

Plain dataclasses with no heavy imports, so :mod:`reconcile.results` and the renderers can read
them without pulling in Great Expectations.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

PASS, FAIL, ERROR = "pass", "fail", "error"
CRITICAL, WARNING = "critical", "warning"
EVENTS, ITEMS, PEOPLE = "events", "items", "people"


@dataclass(frozen=True)
class Expectation:
    """One ``[[expectations]]`` entry: GX's own type and kwargs, or one of reconcile's rules."""

    suite: str
    index: int                      # position in the file, for messages and to order results
    type: str
    kwargs: dict[str, Any]          # the arguments as written, minus ``severity`` and ``on``
    severity: str = CRITICAL
    on: str = EVENTS                # "events" (one row per event), "items" (one per line item) or "people"
    rule: bool = False              # True: a reconcile rule, False: a Great Expectations expectation

    @property
    def column(self) -> str | None:
        value = self.kwargs.get("column")
        return value if isinstance(value, str) else None


@dataclass(frozen=True)
class Suite:
    """One suite file: the expectations for one event name (or for people)."""

    name: str                       # the file's stem: "order_completed"
    path: Path
    expectations: tuple[Expectation, ...]
    event: str | None = None        # the event name the suite checks; None for the people suite
    description: str = ""

    @property
    def source(self) -> str:
        return PEOPLE if self.event is None else EVENTS


@dataclass
class CheckResult:
    """The outcome of one expectation on one source, ready for results.json and the report.

    ``success`` is False for a failed expectation and for one that could not be evaluated;
    ``error`` is set only when the source itself could not be read (never a pass, exit 3).
    """

    suite: str
    expectation: str
    severity: str = CRITICAL
    column: str | None = None
    on: str = EVENTS
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
    def status(self) -> str:
        if self.error is not None:
            return ERROR
        return PASS if self.success else FAIL

    @property
    def blocking(self) -> bool:
        """A failed critical expectation: it fails the run (exit 1)."""
        return self.status == FAIL and self.severity == CRITICAL

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


__all__ = ["CheckResult", "Expectation", "Suite", "summary_lines", "checks_verdict", "PASS", "FAIL", "ERROR", "CRITICAL", "WARNING",
           "EVENTS", "ITEMS", "PEOPLE"]


def summary_lines(checks: list[CheckResult], limit: int = 12) -> list[str]:
    """The checks for a terminal: the failed and unreadable ones (critical first), then a count line."""
    if not checks:
        return []
    shown = sorted((c for c in checks if c.status != PASS),
                   key=lambda c: (c.status != ERROR, c.severity != CRITICAL, c.suite))
    lines = []
    for check in shown[:limit]:
        label = "ERROR" if check.status == ERROR else "FAIL" if check.severity == CRITICAL else "warn"
        target = f"({check.column})" if check.column else ""
        lines.append(f"  {label:<5} {check.suite}: {check.expectation}{target}: {check.message}")
    if len(shown) > limit:
        lines.append(f"  … {len(shown) - limit} more in results.json")
    return [f"data quality: {checks_verdict(checks).lstrip('; ') or 'every expectation met'} "
            f"({len(checks)} expectations)"] + lines


def checks_verdict(checks: list[CheckResult]) -> str:
    """``"; 2 critical data-quality checks failed"`` (empty when none failed or errored)."""
    critical = sum(1 for c in checks if c.blocking)
    errors = sum(1 for c in checks if c.status == ERROR)
    warnings = sum(1 for c in checks if c.status == FAIL and c.severity != CRITICAL)
    parts = []
    if critical:
        parts.append(f"{critical} critical data-quality {'check' if critical == 1 else 'checks'} failed")
    if errors:
        parts.append(f"{errors} could not be run (source unreadable)")
    if warnings:
        parts.append(f"{warnings} {'warning' if warnings == 1 else 'warnings'}")
    return "; " + ", ".join(parts) if parts else ""
