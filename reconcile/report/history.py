"""Runs kept side by side under ``reports/``: trends, "new since last run", and retention.

Every run folder's results.json carries a ``history_key``: a fingerprint of the config file's
absolute path (or a fixed key such as ``demo``). Runs are compared only with runs of the same
key, so two configs writing into one ``reports/`` never mix. The runs of a key are ordered by
``as_of`` (then by when they ran): "the previous run" of a segment is the latest earlier run
that compared it.

Retention (``[history] keep_runs``) deletes the oldest run folders of the same key beyond the
limit, and nothing else: a folder is only ever deleted if its results.json names this key.
Runs of one config may overlap: every write is a rename (a new run's folder, a doomed run's
``.deleting-`` name), so no lock is needed and no reader ever sees half a run.

The core events' usual volume (:meth:`History.volume_baselines`) comes from the same runs: the
median day count of each event over the last four earlier runs on the same weekday.
"""

from __future__ import annotations

import hashlib
import json
import logging
import os
import shutil
import statistics
from dataclasses import dataclass, field
from datetime import datetime, timezone
from pathlib import Path

import pandas as pd

from ..config import Config, HistoryConfig
from .files import DELETING, neutralise_formulas
from ..results import DISCREPANCY_COLUMNS, RunResult, Status
from .summary import causes

log = logging.getLogger(__name__)

PERSON_COLUMNS = DISCREPANCY_COLUMNS      # who a differing person is: segment, side, id, email, cio_id


def history_key(config_path: str | Path) -> str:
    """The fingerprint that keeps one config's runs together: its absolute path, hashed."""
    resolved = str(Path(config_path).expanduser().resolve())
    return "config-" + hashlib.sha256(resolved.encode("utf-8")).hexdigest()[:16]


@dataclass
class PastRun:
    """A run folder on disk, as read back from its results.json."""

    folder: Path
    as_of: datetime
    started_at: datetime | None
    status: str
    segments: dict[str, dict]
    flow: dict[str, dict] = field(default_factory=dict)     # the core events' flow, by event name

    @classmethod
    def read(cls, folder: Path) -> tuple[str | None, "PastRun | None"]:
        """(history key, run) of a folder; (None, None) for anything that is not a readable run."""
        try:
            data = json.loads((folder / "results.json").read_text(encoding="utf-8"))
            as_of = datetime.fromisoformat(data["as_of"])
            started = datetime.fromisoformat(data["started_at"]) if data.get("started_at") else None
            segments = {s["name"]: s for s in data["segments"]}
            flow = {f["event"]: f for f in data.get("flow") or [] if isinstance(f, dict) and "event" in f}
            return data.get("history_key"), cls(folder, as_of, started, data["status"], segments, flow)
        except (OSError, ValueError, KeyError, TypeError):
            return None, None

    _people: pd.DataFrame | None = field(default=None, repr=False, compare=False)

    def people(self, segment: str) -> pd.DataFrame | None:
        """This run's differing people of one segment (None when its discrepancies.csv is gone).

        The file is read once per run, however many segments are compared with it."""
        if self._people is None:
            try:
                self._people = pd.read_csv(self.folder / "discrepancies.csv", dtype=str, keep_default_na=False,
                                           usecols=lambda c: c in PERSON_COLUMNS)
            except (OSError, ValueError):
                return None
        frame = self._people
        return frame[frame["segment"] == segment] if "segment" in frame else None

    def _order(self):
        return (self.as_of, self.started_at or self.as_of, self.folder.name)


@dataclass
class TrendPoint:
    as_of: datetime
    mismatch_rate: float | None
    status: str
    current: bool = False


@dataclass
class SegmentHistory:
    """One segment's comparison with its past runs, for the report."""

    points: list[TrendPoint]
    previous: dict | None = None              # the previous run's segment dict (results.json)
    previous_as_of: datetime | None = None
    change: float | None = None               # mismatch rate now minus then
    new_causes: list[str] = field(default_factory=list)
    new_people: pd.DataFrame | None = None    # differing now, not in the previous run
    resolved_people: int | None = None        # differing then, not now


@dataclass
class HistoryContext:
    runs_before: int
    segments: dict[str, SegmentHistory]

    def for_segment(self, name: str) -> SegmentHistory | None:
        return self.segments.get(name)


class History:
    """The runs of one config in one reports folder."""

    def __init__(self, reports_dir: str | Path, key: str, settings: HistoryConfig = HistoryConfig(), keep: bool = True):
        """``keep=False`` is a trial run (``--no-history``): compared with the kept runs, but its
        results.json records no key, so it never joins them (the trend, "previous run",
        retention), and it prunes nothing."""
        self.reports_dir, self.key, self.settings, self.keep = Path(reports_dir), key, settings, keep
        self._context: tuple[RunResult, HistoryContext] | None = None

    @classmethod
    def for_config(cls, config: Config, reports_dir: str | Path, keep: bool = True) -> "History":
        return cls(reports_dir, history_key(config.path), config.history, keep)

    @property
    def recorded_key(self) -> str | None:
        """The key a new run's results.json records: none for a trial run."""
        return self.key if self.keep else None

    def runs(self, exclude: Path | None = None) -> list[PastRun]:
        """This key's runs, oldest first (by as_of, then by when they ran)."""
        if not self.reports_dir.is_dir():
            return []
        found = []
        for folder in self.reports_dir.iterdir():
            if folder.name.startswith(".") or not folder.is_dir() or (exclude and folder == exclude):
                continue
            key, run = PastRun.read(folder)
            if run is not None and key == self.key:
                found.append(run)
        return sorted(found, key=PastRun._order)

    def context(self, run: RunResult, exclude: Path | None = None) -> HistoryContext:
        """Compare ``run`` with the earlier runs of this key (computed once per run: the report
        and its email show the same comparison, even after retention removed old runs)."""
        if self._context is not None and self._context[0] is run:
            return self._context[1]
        current = PastRun(Path(), run.as_of, run.started_at, run.status, {})
        earlier = [r for r in self.runs(exclude) if r._order() <= current._order()]
        segments = {}
        for segment in run.segments:
            compared = [r for r in earlier if segment.name in r.segments]
            shown = compared[-(self.settings.trend_runs - 1):] if self.settings.trend_runs > 1 else []
            points = [TrendPoint(r.as_of, r.segments[segment.name].get("mismatch_rate"),
                                 r.segments[segment.name].get("status", Status.ERROR)) for r in shown]
            points.append(TrendPoint(run.as_of, segment.mismatch_rate, segment.status, current=True))
            segments[segment.name] = _compare(segment, points,
                                              next((r for r in reversed(compared)
                                                    if r.segments[segment.name].get("status") != Status.ERROR), None))
        context = HistoryContext(runs_before=len(earlier), segments=segments)
        self._context = (run, context)
        return context

    def volume_baselines(self, as_of: datetime, runs: int = 4) -> dict[str, tuple[float, int]]:
        """``{event: (median day count, runs it is the median of)}`` over the last ``runs`` earlier
        runs of this key on ``as_of``'s weekday (UTC) that counted the event; no entry without one."""
        day = as_of.astimezone(timezone.utc).weekday()
        earlier = [r for r in self.runs() if r.as_of < as_of and r.as_of.astimezone(timezone.utc).weekday() == day]
        counts: dict[str, list[int]] = {}
        for run in reversed(earlier):
            for event, flow in run.flow.items():
                seen = counts.setdefault(event, [])
                if isinstance(flow.get("count"), int) and len(seen) < runs:
                    seen.append(flow["count"])
        return {event: (float(statistics.median(seen)), len(seen)) for event, seen in counts.items() if seen}

    def prune(self) -> list[Path]:
        """Delete this key's oldest runs beyond ``keep_runs``; return the deleted folders."""
        keep = self.settings.keep_runs
        if not self.keep:
            return []
        runs = self.runs()
        doomed = runs[:-keep] if keep and len(runs) > keep else []
        removed = []
        for run in doomed:
            key, _ = PastRun.read(run.folder)   # read again just before deleting: never a stranger's folder
            if key == self.key and _delete(run.folder):
                removed.append(run.folder)
                log.info("history: removed %s (keep_runs = %d)", run.folder, keep)
        return removed


def _delete(folder: Path) -> bool:
    """Delete a run folder safely beside concurrent runs: renamed to a hidden ``.deleting-`` name
    first (atomic: a half-deleted run is never read as a run, and another run pruning the same
    folder finds it gone), then removed. What an interruption leaves, the next run's
    :func:`~reconcile.report.files.remove_leftovers` removes. False when another run took it first."""
    doomed = folder.with_name(f"{DELETING}{folder.name}-{os.getpid()}")
    try:
        os.rename(folder, doomed)
    except FileNotFoundError:
        return False
    except OSError as exc:
        log.warning("history: could not remove %s (%s); it stays", folder, exc.strerror or exc)
        return False
    shutil.rmtree(doomed, ignore_errors=True)
    return True


def _compare(segment, points: list[TrendPoint], previous: PastRun | None) -> SegmentHistory:
    history = SegmentHistory(points=points)
    if previous is None or segment.status == Status.ERROR:
        return history
    then = previous.segments[segment.name]
    history.previous, history.previous_as_of = then, previous.as_of
    if segment.mismatch_rate is not None and then.get("mismatch_rate") is not None:
        history.change = segment.mismatch_rate - then["mismatch_rate"]
    if "causes" in then:   # the previous run was diagnosed: compare causes
        before = {c.cause for c in causes(then)}
        history.new_causes = [c.cause for c in causes(segment) if c.cause not in before]
    people_then = previous.people(segment.name)
    if people_then is not None and segment.discrepancies is not None:
        history.new_people, history.resolved_people = _people_change(segment.discrepancies, people_then)
    return history


def _people_change(now: pd.DataFrame, then: pd.DataFrame) -> tuple[pd.DataFrame, int]:
    """(rows of ``now`` not differing before, how many differing before no longer do)."""
    def keys(frame: pd.DataFrame) -> pd.Series:
        cells = frame.reindex(columns=PERSON_COLUMNS).astype(object)
        cells = cells.where(cells.notna(), "").astype(str)
        joined = cells[PERSON_COLUMNS[0]]
        for column in PERSON_COLUMNS[1:]:
            joined = joined + "\x1f" + cells[column]
        return joined

    now_keys = keys(neutralise_formulas(now.reindex(columns=PERSON_COLUMNS)))
    then_keys = keys(then)
    new = now[~now_keys.isin(set(then_keys)).to_numpy()]
    resolved = int((~then_keys.isin(set(now_keys))).sum())
    return new.reset_index(drop=True), resolved
