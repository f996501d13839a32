"""The run's results as plain dataclasses; renderers (JSON, CSV, HTML, terminal) read these.

``status`` per segment is ``pass`` (within tolerance), ``fail`` (out of tolerance) or
``error`` (could not be compared: never a verdict). The run is ``error`` if any segment is,
else ``fail`` if any segment failed, else ``pass``: an error always wins, so a run that could
not compare a segment is never reported as passing. Data-quality checks (``checks``) count too:
one whose source could not be read makes the run ``error``, a failed critical one ``fail``.
"""

from __future__ import annotations

from dataclasses import dataclass, field, fields
from datetime import datetime
from typing import Any

import pandas as pd

from .checks.model import CheckResult

PASS, FAIL, ERROR = "pass", "fail", "error"


@dataclass
class SegmentResult:
    name: str
    customerio_segment_id: int
    title: str = ""
    status: str = ERROR
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
    causes: dict[str, dict[str, Any]] | None = None     # cause -> {"count", "severity"}
    worst_severity: str | None = None
    diagnosed_people: int | None = None                 # the sample size (all differing people up to max_people)
    window_edge_people: int | None = None               # left out of the tolerance unless window_edge_counts
    mismatch_rate_excluding_window_edge: float | None = None
    verdict_rate: str = "mismatch_rate"                 # which rate the status was decided on
    identity_health: dict[str, int] = field(default_factory=dict)
    identity_people: dict = field(default_factory=dict, repr=False, compare=False)   # sets, for the run's union
    discrepancies: pd.DataFrame | None = field(default=None, repr=False, compare=False)

    def to_dict(self) -> dict[str, Any]:
        data = {f.name: getattr(self, f.name) for f in fields(self) if f.name not in ("discrepancies", "identity_people")}
        if self.causes is None:
            del data["causes"]   # not diagnosed: no "causes" key, so history claims no new cause
        data["warnings"] = list(self.warnings)
        data["seconds"] = {k: round(v, 3) for k, v in self.seconds.items()}
        return data


@dataclass
class RunResult:
    as_of: datetime
    config_path: str
    segments: list[SegmentResult]
    started_at: datetime
    finished_at: datetime | None = None
    checks: list[CheckResult] = field(default_factory=list)   # data-quality checks, when [checks] is set
    identity_health: dict[str, int] = field(default_factory=dict)   # the diagnosis' measures over all segments

    @property
    def status(self) -> str:
        statuses = {segment.status for segment in self.segments}
        if ERROR in statuses or not self.segments or any(check.status == ERROR for check in self.checks):
            return ERROR
        failed_check = any(check.blocking for check in self.checks)   # a failed critical expectation
        return FAIL if FAIL in statuses or failed_check else PASS

    def count(self, status: str) -> int:
        return sum(1 for segment in self.segments if segment.status == status)

    def discrepancies(self) -> pd.DataFrame:
        frames = [s.discrepancies for s in self.segments if s.discrepancies is not None and len(s.discrepancies)]
        if not frames:
            from .diff import DISCREPANCY_COLUMNS
            return pd.DataFrame(columns=DISCREPANCY_COLUMNS)
        return pd.concat(frames, ignore_index=True)

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
        }
