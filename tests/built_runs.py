"""Hand-built runs for the report, history and delivery tests.

``make_run`` builds a :class:`RunResult` as the audit would, from stated numbers: each segment
gets ``missing`` + ``extra`` discrepancy rows whose people are numbered from ``first`` (so two
runs that share people overlap exactly where their ranges do). Hostile strings (markup,
formulas, long unbroken words) are in the titles and evidence on purpose.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import datetime, timezone

import pandas as pd

from reconcile.results import DISCREPANCY_COLUMNS, RunResult, SegmentResult, Status, worst

#: what a self-contained report (a page, an email body) must never contain: a reference to the outside
EXTERNAL = re.compile(r"""(?:src|href|xlink:href|action)\s*=\s*["']?\s*(?:https?:|//)|url\(|@import|<script|<link|<iframe""", re.I)

HOSTILE_TITLE = "Cart <script>alert(1)</script> abandoners & co"
LONG_WORD = "x" * 140


@dataclass
class Spec:
    name: str
    truth: int
    missing: int
    extra: int
    tolerance: float = 0.01
    first: int = 0                  # the first differing person's number
    title: str = ""
    error: str | None = None
    causes: dict | None = None      # cause -> (severity, share of the differing people)


def person_rows(spec: Spec) -> pd.DataFrame:
    rows = []
    for i in range(spec.missing + spec.extra):
        n = spec.first + i
        side = "missing_in_customerio" if i < spec.missing else "extra_in_customerio"
        rows.append({"segment": spec.name, "side": side, "id": f"{n:06d}",
                     "email": f"customer.{n}@example.com", "cio_id": None if side.startswith("missing") else f"cio{n}",
                     "last_order_at": "=HYPERLINK(\"http://evil.example\")" if n % 7 == 0 else f"2026-11-{1 + n % 27:02d}"})
    frame = pd.DataFrame(rows, columns=DISCREPANCY_COLUMNS + ["last_order_at"])
    if spec.causes:
        names, severities = [], []
        total = len(frame)
        for cause, (severity, share) in spec.causes.items():
            k = round(total * share)
            names += [cause] * k
            severities += [severity] * k
        names = (names + ["unexplained"] * total)[:total]
        severities = (severities + ["medium"] * total)[:total]
        frame["cause"], frame["severity"] = names, severities
    return frame


def make_segment(spec: Spec) -> SegmentResult:
    result = SegmentResult(name=spec.name, title=spec.title, customerio_segment_id=abs(hash(spec.name)) % 90 + 1,
                           tolerance=spec.tolerance)
    if spec.error:
        result.error = spec.error
        return result
    matched = spec.truth - spec.missing
    result.truth_count, result.matched = spec.truth, matched
    result.customerio_count = matched + spec.extra
    result.missing_in_customerio, result.extra_in_customerio = spec.missing, spec.extra
    result.mismatch_rate = (spec.missing + spec.extra) / spec.truth if spec.truth else None
    result.status = Status.PASS if result.mismatch_rate is not None and result.mismatch_rate <= spec.tolerance else Status.FAIL
    result.discrepancies = person_rows(spec)
    if spec.causes:   # as the diagnosis sums up its people: a count and the worst severity per cause
        frame = result.discrepancies
        result.causes = {}
        for cause, rows in frame.groupby("cause", sort=False):
            result.causes[cause] = {"count": len(rows), "severity": worst(rows["severity"])}
        result.worst_severity = worst(entry["severity"] for entry in result.causes.values())
    result.duplicate_profiles, result.keyless_profiles, result.truth_rows_without_key = 2, spec.extra // 3, 0
    return result


def make_run(specs: list[Spec], as_of: datetime, config_path: str = "/srv/shop/config.toml") -> RunResult:
    run = RunResult(as_of=as_of, config_path=config_path, segments=[make_segment(s) for s in specs],
                    started_at=as_of)
    run.finished_at = as_of
    return run


def weekly(day: int) -> datetime:
    return datetime(2026, 11, day, 9, 0, tzinfo=timezone.utc)


def standard_specs(first: int = 0, scale: float = 1.0) -> list[Spec]:
    """Five segments: two failing (one critical), two passing, one that could not be compared."""
    return [
        Spec("purchased_30d_email_consent", 12408, int(300 * scale), int(85 * scale), first=first,
             title="Purchased in the last 30 days with email consent",
             causes={"consent_mismatch": ("critical", 0.2), "timestamp_unit": ("medium", 0.5)}),
        Spec("cart_abandoners_24h", 912, int(40 * scale), int(12 * scale), tolerance=0.02, first=first + 100_000,
             title=HOSTILE_TITLE, causes={"attribute_stale": ("high", 0.6), "window_edge": ("low", 0.3)}),
        Spec("lapsed_90d_winback", 5120, 10, 6, first=first + 200_000, title="Lapsed 90 days (winback)"),
        Spec("cross_sell_moisturizer_" + LONG_WORD, 840, 1, 0, first=first + 300_000),
        Spec("sms_consent", 0, 0, 0, error="Customer.io segment 17 is still building; run again when it is finished"),
    ]
