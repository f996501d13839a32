"""The data model of the checks: a suite's expectations as loaded. The outcome of each is a
:class:`reconcile.results.CheckResult`, which the renderers read with the run's other results.

Plain dataclasses with no heavy imports, so loading the model never pulls in Great Expectations.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any

from ..results import CheckResult, CheckSeverity

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


__all__ = ["CheckResult", "Expectation", "Suite", "CRITICAL", "WARNING", "EVENTS", "ITEMS", "PEOPLE"]
