"""The report as HTML: one self-contained page, and the same page as an email body.

Only this module knows about HTML. The report leads with the verdict (and the worst severity when the diagnosis has run), then
per segment: the counts, the overlap as an inline SVG picture, mismatch against tolerance,
the trend over the last runs of the same config, the causes with what to fix and examples,
and "new since last run"; then the purchases (``purchases.html.j2``: orders against their
events, the sampled activity log, the core events' flow), data quality (``checks.html.j2``,
when the checks have run) and identity health. It uses no JavaScript and no external asset, so it reads the same from
disk, as an attachment, and (CSS inlined) as an email body.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from datetime import datetime, timezone
from functools import lru_cache
from pathlib import Path
from typing import Any

import pandas as pd
from jinja2 import Environment, PackageLoader, select_autoescape

from ..results import ACTIVITY_OUTCOMES, RunResult, SegmentResult, worst
from .summary import (OUTCOME_TEXT, SEVERITY_TEXT, Cause, causes, failed_checks, format_count, format_percent,
                      format_points, problems, run_severity, segment_severity, verdict_line)

EXAMPLES_PER_SIDE = 10
EXAMPLES_PER_CAUSE = 5
EMAIL_BODY_LIMIT = 102_000          # bytes of HTML: Gmail clips a body above about 102 KB
_BASE_COLUMNS = ("segment", "side", "id", "email", "cio_id", "cause", "severity")
_EMAIL = re.compile(r"([A-Za-z0-9])[A-Za-z0-9._%+'-]*@(?=[A-Za-z0-9-]+\.)")


@lru_cache(maxsize=None)
def _environment() -> Environment:
    """One environment per process: compiling the templates is most of a small run's time."""
    env = Environment(loader=PackageLoader("reconcile.report", "templates"),
                      autoescape=select_autoescape(["html", "j2"], default=True),
                      trim_blocks=True, lstrip_blocks=True)
    env.filters["count"] = format_count
    env.filters["percent"] = format_percent
    env.filters["points"] = format_points
    return env


# --------------------------------------------------------------------------- pictures


def bar_widths(counts: list[int], width: float, minimum: float = 4.0) -> list[float]:
    """Split ``width`` in proportion to ``counts``; a non-zero count never shrinks below ``minimum``."""
    total = sum(counts)
    if total <= 0:
        return [0.0 for _ in counts]
    widths = [width * n / total for n in counts]
    small = [i for i, n in enumerate(counts) if 0 < n and widths[i] < minimum]
    if small:
        rest = width - minimum * len(small)
        rest_total = sum(n for i, n in enumerate(counts) if i not in small)
        widths = [minimum if i in small else (rest * n / rest_total if rest_total else 0.0)
                  for i, n in enumerate(counts)]
    return widths


@dataclass
class Overlap:
    """Geometry of the overlap picture: [missing | in both | extra] with the two sides bracketed."""

    missing: float
    matched: float
    extra: float
    width: float = 580.0
    left: float = 10.0

    @classmethod
    def of(cls, segment: SegmentResult) -> "Overlap | None":
        counts = [segment.missing_in_customerio, segment.matched, segment.extra_in_customerio]
        if any(n is None for n in counts) or sum(counts) == 0:
            return None
        return cls(*bar_widths(counts, 580.0))

    @property
    def shop_end(self) -> float:
        return self.left + self.missing + self.matched

    @property
    def cio_start(self) -> float:
        return self.left + self.missing

    def label_x(self, start: float) -> float:
        """Where a bracket's label starts: at the bracket, kept inside the picture."""
        return max(self.left, min(start, self.left + self.width - 230))


@dataclass
class Trend:
    """Geometry of the small mismatch-rate chart over the last runs of the same config."""

    xs: list[float]
    ys: list[float | None]
    labels: list[str]
    current: list[bool]
    rates: list[float | None]
    statuses: list[str]
    tolerance_y: float

    @classmethod
    def of(cls, points, tolerance: float) -> "Trend | None":
        if len(points) < 2:
            return None
        rates = [p.mismatch_rate for p in points]
        top_rate = max([r for r in rates if r is not None] + [tolerance, 0.001]) * 1.15
        left, right = 48.0, 588.0
        step = (right - left) / (len(points) - 1)
        def y(rate: float) -> float:
            return round(92.0 - (92.0 - 12.0) * rate / top_rate, 1)
        return cls(xs=[round(left + i * step, 1) for i in range(len(points))],
                   ys=[None if r is None else y(r) for r in rates],
                   labels=[p.as_of.strftime("%b %d") for p in points],
                   current=[p.current for p in points], rates=rates, statuses=[p.status for p in points],
                   tolerance_y=y(tolerance))

    def lines(self) -> list[str]:
        """Polyline point lists; a run that could not compare the segment breaks the line."""
        runs, current = [], []
        for x, y in zip(self.xs, self.ys):
            if y is None:
                if len(current) > 1:
                    runs.append(" ".join(current))
                current = []
            else:
                current.append(f"{x},{y}")
        if len(current) > 1:
            runs.append(" ".join(current))
        return runs

    def dots(self) -> list[tuple[float, float, bool, str]]:
        return [(x, y, cur, status) for x, y, cur, status in zip(self.xs, self.ys, self.current, self.statuses)
                if y is not None]

    def current_label(self) -> tuple[float, float, float] | None:
        """(x, y, rate) for the label of the latest run's value, or None when it has none."""
        if self.ys[-1] is None:
            return None
        return self.xs[-1] - 8, max(self.ys[-1] - 8, 10.0), self.rates[-1]

    def tick_labels(self) -> list[tuple[float, str, str]]:
        """(x, text, anchor) for the first and last run, and a middle one when there is room."""
        last = len(self.xs) - 1
        shown = [0, last] if last < 4 else [0, last // 2, last]
        return [(self.xs[i], self.labels[i], "start" if i == 0 else "end" if i == last else "middle") for i in shown]


# --------------------------------------------------------------------------- views


def mask_emails(text: Any) -> Any:
    """``jane.doe@example.com`` → ``j•••@example.com`` wherever an address appears in a string."""
    return _EMAIL.sub(r"\1•••@", text) if isinstance(text, str) else text


def _rows(frame: pd.DataFrame | None, limit: int, mask: bool) -> list[dict]:
    """The first ``limit`` rows as dicts: id, email, cio_id, and the rest folded into ``evidence``."""
    if frame is None or limit <= 0 or not len(frame):
        return []
    head = frame.head(limit)
    head = head.astype(object).where(head.notna(), None)
    return [_person(record, mask) for record in head.to_dict("records")]


def _person(record: dict, mask: bool) -> dict:
    evidence = "; ".join(f"{k}: {v}" for k, v in record.items()
                         if k not in _BASE_COLUMNS and v is not None and str(v) != "")
    if len(evidence) > 160:
        evidence = evidence[:157] + "…"
    person = {"id": record.get("id"), "email": record.get("email"), "cio_id": record.get("cio_id"),
              "side": record.get("side"), "evidence": evidence}
    return {k: mask_emails(v) for k, v in person.items()} if mask else person


@dataclass
class SegmentView:
    segment: SegmentResult
    severity: str | None
    causes: list[Cause]
    examples: dict[str, list[dict]]
    overlap: Overlap | None
    history: Any = None
    trend: Trend | None = None
    new_people: list[dict] = field(default_factory=list)
    new_people_count: int | None = None

    @property
    def over_tolerance(self) -> float | None:
        """How many times the tolerance the mismatch is (None when it cannot be said)."""
        s = self.segment
        if s.mismatch_rate is None or not s.tolerance:
            return None
        return s.mismatch_rate / s.tolerance

    @property
    def meter(self) -> tuple[float, float]:
        """(mismatch bar %, tolerance mark %) on a scale that shows both."""
        s = self.segment
        scale = max(s.mismatch_rate or 0.0, s.tolerance, 1e-9) * 1.25
        return (min(100.0, 100 * (s.mismatch_rate or 0.0) / scale), 100 * s.tolerance / scale)


def segment_view(segment: SegmentResult, history=None, *, per_side: int, per_cause: int, mask: bool) -> SegmentView:
    frame = segment.discrepancies
    found = causes(segment)
    for cause in found:
        if cause.examples:
            cause.examples = [_person(e, mask) for e in cause.examples[:per_cause]]
        elif frame is not None and "cause" in frame.columns:
            cause.examples = _rows(frame[frame["cause"] == cause.cause], per_cause, mask)
        else:
            cause.examples = []
    examples = {}
    if not found and frame is not None:
        examples = {side: _rows(frame[frame["side"] == side], per_side, mask)
                    for side in ("missing_in_customerio", "extra_in_customerio")}
    view = SegmentView(segment=segment, severity=segment_severity(segment), causes=found, examples=examples,
                       overlap=Overlap.of(segment))
    if history is not None:
        view.history = history
        view.trend = Trend.of(history.points, segment.tolerance)
        if history.new_people is not None:
            view.new_people_count = len(history.new_people)
            view.new_people = _rows(history.new_people, per_side, mask)
    return view


def identity_rows(run: RunResult) -> list[dict]:
    """Identity health: the run's (when the diagnosis adds ``run.identity_health``), then each
    segment's, from the diff's counters and any the diagnosis adds; only what is not zero."""
    def counts(extra: Any) -> dict:
        if not isinstance(extra, dict):
            return {}
        return {k: v for k, v in extra.items() if isinstance(v, (int, float)) and not isinstance(v, bool)}

    rows = [{"label": "All segments", "values": counts(getattr(run, "identity_health", None))}]
    for s in run.segments:
        values = {"duplicate_profiles": s.duplicate_profiles, "keyless_profiles": s.keyless_profiles,
                  "truth_rows_without_key": s.truth_rows_without_key}
        values.update(counts(getattr(s, "identity_health", None)))
        rows.append({"label": s.title or s.name, "values": values})
    return [row for row in rows if any(row["values"].values())]


IDENTITY_LABELS = {
    "duplicate_profiles": "Profiles sharing one key with another (double sends)",
    "keyless_profiles": "Members without the identity key (email-only profiles)",
    "truth_rows_without_key": "Shop rows without the identity key",
    "duplicate_emails": "Members sharing an email",
    "idless_profiles": "Email-only profiles",
    "case_or_blank_ids": "Ids that differ only by case or blanks",
    "conflicting_identity": "Members whose id and email point at different customers",
}


@dataclass
class PurchasesView:
    """The purchases for the report: problems worst first with examples, the activity sample, the flow."""

    purchases: Any
    problems: list[dict]
    outcomes: list[dict]
    examples: list[dict]                  # sampled orders whose activity log is not as it should be
    flow: list[Any]


def purchases_view(run: RunResult, *, per_problem: int, mask: bool) -> PurchasesView | None:
    """What the "Purchases" section shows; None when the run had neither purchases nor flow."""
    purchases = run.purchases
    if purchases is None and not run.flow:
        return None
    def shown(record: dict, keys: tuple[str, ...]) -> dict:
        row = {k: record.get(k) for k in keys}
        return {k: mask_emails(v) for k, v in row.items()} if mask else row

    found, outcomes, examples = [], [], []
    frame = purchases.discrepancies if purchases is not None else None
    for problem, count, severity, label, why, fix in (problems(purchases) if purchases is not None else []):
        rows = frame[frame["problem"] == problem].head(per_problem) if frame is not None and per_problem > 0 else []
        rows = rows.astype(object).where(rows.notna(), None).to_dict("records") if len(rows) else []
        found.append({"problem": problem, "count": count, "severity": severity, "label": label, "why": why,
                      "fix": fix, "examples": [shown(r, ("order_id", "id", "email", "evidence")) for r in rows]})
    activity = purchases.activity if purchases is not None else None
    if activity is not None:
        counts = activity.outcomes
        outcomes = [{"outcome": o, "label": OUTCOME_TEXT[o][0], "meaning": OUTCOME_TEXT[o][1], "count": counts[o]}
                    for o in ACTIVITY_OUTCOMES if counts[o]]
        wrong = [o for o in activity.orders if o["outcome"] != "found_once"]
        examples = [shown(o, ("order_id", "id", "email", "outcome", "evidence")) for o in wrong[:max(per_problem, 0) * 2]]
    return PurchasesView(purchases=purchases, problems=found, outcomes=outcomes, examples=examples, flow=run.flow)


def render_html(run: RunResult, history=None, *, email: bool = False, per_side: int = EXAMPLES_PER_SIDE,
                per_cause: int = EXAMPLES_PER_CAUSE, mask: bool = False, details: bool = True,
                notes: list[str] | None = None) -> str:
    """The report as one self-contained HTML page.

    ``history`` is a :class:`~reconcile.report.history.HistoryContext` (trend, new since last run);
    ``email`` renders the variant sent as a message body (``notes`` on top, no file links).
    """
    views = [segment_view(s, history.for_segment(s.name) if history else None,
                          per_side=per_side, per_cause=per_cause, mask=mask) for s in run.segments]
    severity = run_severity(run)
    found = worst([v.severity for v in views] + [run.purchases.worst_severity if run.purchases else None])
    severity_text = (SEVERITY_TEXT.get(severity or "", "") if found == severity
                     else "a critical data-quality expectation is not met" if any(c.blocking for c in run.checks)
                     else "a core event the segments need stopped flowing as usual")
    return _environment().get_template("report.html.j2").render(
        run=run, views=views, verdict=verdict_line(run), severity=severity,
        severity_text=severity_text, history=history,
        failed_checks=failed_checks(run), identity=identity_rows(run), identity_labels=IDENTITY_LABELS,
        purchases=purchases_view(run, per_problem=per_cause, mask=mask), outcome_text=OUTCOME_TEXT,
        email=email, details=details, notes=notes or [], masked=mask, config_name=Path(run.config_path).name,
        generated_at=datetime.now(timezone.utc))


def render_email_body(run: RunResult, history=None, *, mask: bool = False, notes: list[str] | None = None,
                      limit: int = EMAIL_BODY_LIMIT) -> tuple[str, list[str]]:
    """The report as an email body: CSS inlined, at most ``limit`` bytes; (html, notes shown).

    Examples are trimmed step by step until the body fits, then the per-segment details; the
    body says what was left out (everything is in the attached report).
    """
    import css_inline

    inliner = css_inline.CSSInliner(keep_style_tags=False, load_remote_stylesheets=False)
    steps = [(5, 3, True, None), (3, 2, True, "fewer examples"), (1, 1, True, "one example per list"),
             (0, 0, True, "no examples"), (0, 0, False, "only the summary")]
    for per_side, per_cause, details, trimmed in steps:
        shown = list(notes or [])
        if trimmed:
            shown.append(f"Shortened to fit an email ({trimmed}): the attached report.html has everything.")
        html = inliner.inline(render_html(run, history, email=True, per_side=per_side, per_cause=per_cause,
                                          mask=mask, details=details, notes=shown)).rstrip("\n") + "\n"
        if body_size(html) <= limit:
            return html, shown
    return html, shown


def body_size(html: str) -> int:
    """Bytes of an HTML body as it travels (UTF-8, CRLF line ends)."""
    return len(html.encode("utf-8")) + html.count("\n") - html.count("\r\n")
