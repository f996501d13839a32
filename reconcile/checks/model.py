"""The data model of the checks: a suite's expectations as loaded. The outcome of each is a
:class:`reconcile.results.CheckResult`, which the renderers read with the run's other results.

Plain dataclasses with no heavy imports, so loading the model never pulls in Great Expectations.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any

from ..results import CheckResult, CheckSeverity, Status

CRITICAL, WARNING = CheckSeverity.CRITICAL, CheckSeverity.WARNING
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


__all__ = ["CheckResult", "Expectation", "Suite", "summary_lines", "checks_verdict", "CRITICAL", "WARNING",
           "EVENTS", "ITEMS", "PEOPLE"]


def summary_lines(checks: list[CheckResult], limit: int = 12) -> list[str]:
    """The checks for a terminal: the failed and unreadable ones (critical first), then a count line."""
    if not checks:
        return []
    shown = sorted((c for c in checks if c.status != Status.PASS),
                   key=lambda c: (c.status != Status.ERROR, c.severity != CRITICAL, c.suite))
    lines = []
    for check in shown[:limit]:
        label = "ERROR" if check.status == Status.ERROR else "FAIL" if check.severity == CRITICAL else "warn"
        target = f"({check.column})" if check.column else ""
        lines.append(f"  {label:<5} {check.suite}: {check.expectation}{target}: {check.message}")
    if len(shown) > limit:
        lines.append(f"  … {len(shown) - limit} more in results.json")
    return [f"data quality: {checks_verdict(checks).lstrip('; ') or 'every expectation met'} "
            f"({len(checks)} expectations)"] + lines


def checks_verdict(checks: list[CheckResult]) -> str:
    """``"; 2 critical data-quality checks failed"`` (empty when none failed or errored)."""
    critical = sum(1 for c in checks if c.blocking)
    errors = sum(1 for c in checks if c.status == Status.ERROR)
    warnings = sum(1 for c in checks if c.status == Status.FAIL and c.severity != CRITICAL)
    parts = []
    if critical:
        parts.append(f"{critical} critical data-quality {'check' if critical == 1 else 'checks'} failed")
    if errors:
        parts.append(f"{errors} could not be run (source unreadable)")
    if warnings:
        parts.append(f"{warnings} {'warning' if warnings == 1 else 'warnings'}")
    return "; " + ", ".join(parts) if parts else ""
