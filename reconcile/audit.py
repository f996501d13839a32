"""The audit: for each segment, truth + Customer.io → diff → diagnosis → verdict, each on its own;
then the data-quality checks, the purchases against the shop's orders, and the core events' flow.

A segment that cannot be compared (unknown id, still building, API down, SQL error) becomes
``status: "error"`` with its one-line message, and the other segments are still reconciled;
the purchases and the flow likewise. This module is the library's entry point; the CLI only
parses arguments and maps the result to an exit code.
"""

from __future__ import annotations

import logging
import os
import time
from contextlib import ExitStack, contextmanager
from dataclasses import dataclass
from datetime import datetime, timezone
from typing import Callable, Iterator, Mapping, Sequence

import pyarrow as pa

from .checks import run_checks, suites_for
from .compare import diff_sides, fetch_membership, read_both
from .compare.diff import SegmentDiff
from .config import Config, SegmentConfig
from .customerio import CustomerIOClient, client_from_settings
from .customerio.completeness import confirm_count
from .diagnose import apply_diagnosis, diagnose_segment
from .diagnose.identity_health import run_counts
from .errors import CompareError, ConfigError, UsageError
from .purchases import compare_purchases, read_flow
from .results import FlowResult, RunResult, SegmentResult, decide, decide_flow
from .shop import open_engine
from .shop.database import Window
from .shop.mapping import check_mapped_columns

log = logging.getLogger(__name__)


@dataclass
class Progress:
    """Callbacks for long steps; the CLI plugs a progress display in, the library prints nothing."""

    segment_started: Callable[[SegmentConfig], None] = lambda segment: None
    rows_read: Callable[[SegmentConfig, int], None] = lambda segment, rows: None
    page_fetched: Callable[[SegmentConfig, int, int], None] = lambda segment, page, members: None
    segment_done: Callable[[SegmentResult], None] = lambda result: None


def select_segments(config: Config, names: Sequence[str] | None) -> list[SegmentConfig]:
    """The configured segments to run, in config order; an unknown name is a usage error."""
    if not names:
        return list(config.segments)
    known = {segment.name for segment in config.segments}
    for name in names:
        if name not in known:
            raise UsageError(f"no segment named \"{name}\" in {config.path.name}; "
                             f"known: {', '.join(sorted(known))}")
    return [segment for segment in config.segments if segment.name in set(names)]


def run_audit(config: Config, *, as_of: datetime | None = None, segments: Sequence[str] | None = None,
              client: CustomerIOClient | None = None, progress: Progress | None = None,
              only_suites: Sequence[str] | None = None,
              baselines: Mapping[str, tuple[float, int]] | None = None) -> RunResult:
    """Reconcile the selected segments; never raises for a segment that cannot be compared.

    ``only_suites``: the pre-launch gate's run: just these data-quality suites (the ones its
    segment lists) and their events' flow, and not the run-wide purchase comparison; None runs
    everything. ``baselines`` are the core events' usual day counts, ``{event: (median, runs)}``
    from the history (:meth:`reconcile.report.history.History.volume_baselines`); without them no
    event's volume is judged, only its age."""
    with system_allocator():
        return _run_audit(config, as_of, segments, client, progress, only_suites, baselines)


def check_windows(config: Config, as_of: datetime) -> None:
    """Every window the config defines ends at ``as_of`` and starts in Python's range (year 1 on):
    a UsageError before anything runs, not a failure deep in one query."""
    days = [segment.window_days for segment in config.segments]
    days += [section.window_days for section in (config.checks, config.purchases) if section is not None]
    for window_days in days:
        Window.ending(as_of, window_days)


@contextmanager
def system_allocator() -> Iterator[None]:
    """Arrow allocates from the system allocator for the run, and from its own default again after.

    Arrow's default pool (mimalloc) is a heap of its own beside malloc's; the system allocator
    reuses what pandas and numpy freed, so a run's peak memory is lower. The switch is
    process-wide, so it lasts only as long as the run (importing reconcile changes nothing), and
    ``ARROW_DEFAULT_MEMORY_POOL``, when set, still decides.
    """
    before = pa.default_memory_pool()
    switch = "ARROW_DEFAULT_MEMORY_POOL" not in os.environ and before.backend_name != "system"
    if switch:
        pa.set_memory_pool(pa.system_memory_pool())
    try:
        yield
    finally:
        if switch:
            pa.set_memory_pool(before)


def _run_audit(config: Config, as_of: datetime | None, segments: Sequence[str] | None,
               client: CustomerIOClient | None, progress: Progress | None,
               only_suites: Sequence[str] | None, baselines: Mapping[str, tuple[float, int]] | None) -> RunResult:
    started = datetime.now(timezone.utc)
    as_of = (as_of or started).astimezone(timezone.utc)
    chosen = select_segments(config, segments)
    check_windows(config, as_of)
    # validated up front: a malformed suite stops the run before it starts (exit 2); without
    # [checks], Great Expectations is never imported
    suites = suites_for(config.checks, config.path.parent) if config.checks is not None else None
    if suites is not None:
        check_segment_suites(config, suites)
        if only_suites is not None:
            suites = [suite for suite in suites if suite.name in set(only_suites)] or None
    progress = progress or Progress()
    client = client or client_from_settings(config.customerio)
    engine = open_engine(config.database)
    run = RunResult(as_of=as_of, config_path=str(config.path), segments=[], started_at=started)
    try:
        check_mapped_columns(config, chosen, engine, as_of)   # a misspelled mapping stops the run (exit 2)
        for segment in chosen:
            progress.segment_started(segment)
            log.info("segment %s: reading the truth and Customer.io segment %d", segment.name,
                     segment.customerio_segment_id)
            result = reconcile_segment(config, segment, as_of, client, engine, progress)
            run.segments.append(result)
            log.info("segment %s: %s (%s)", segment.name, result.status,
                     result.error or f"{result.missing_in_customerio:,} missing, {result.extra_in_customerio:,} extra, "
                                     f"{result.seconds.get('total', 0):.1f} s")
            progress.segment_done(result)
        if any(s.identity_people for s in run.segments):
            run.identity_health = run_counts([s.identity_people for s in run.segments if s.identity_people])
        if suites is not None:
            log.info("checks: %d suites", len(suites))
            run.checks = run_checks(config.checks, suites, engine=engine, as_of=as_of)
        if config.purchases is not None and only_suites is None:
            run.purchases = compare_purchases(config, engine, client, as_of)
        if suites is not None:
            run.flow = core_events_flow(config, suites, engine, as_of, baselines or {})
    finally:
        engine.dispose()
    run.finished_at = datetime.now(timezone.utc)
    return run


def check_segment_suites(config: Config, suites) -> None:
    """Every suite a segment lists (``segments[i].checks``) exists; a ConfigError (exit 2) names the first that does not."""
    names = [suite.name for suite in suites]
    for i, segment in enumerate(config.segments):
        for j, name in enumerate(segment.checks):
            if name not in names:
                raise ConfigError(f"{config.path.name}: segments[{i}].checks[{j}]: no suite named \"{name}\" in "
                                  f"{config.checks.suites.name}/ (the suites: {', '.join(names)})")


def core_events_flow(config: Config, suites, engine, as_of: datetime,
                     baselines: Mapping[str, tuple[float, int]]) -> list[FlowResult]:
    """Each suite's event: stale or off its usual volume (critical for the purchase event)."""
    names = list(dict.fromkeys(suite.event for suite in suites if suite.event))
    critical = config.purchases.event if config.purchases is not None else "order_completed"
    flows = read_flow(config.checks, engine, as_of, names, critical)
    for flow in flows:
        flow.baseline, flow.runs_in_baseline = baselines.get(flow.event, (None, 0))
        decide_flow(flow, config.checks.max_age_hours, config.checks.volume_drop)
    return flows


def reconcile_segment(config: Config, segment: SegmentConfig, as_of: datetime, client: CustomerIOClient,
                      engine, progress: Progress) -> SegmentResult:
    """One segment, start to verdict; errors become an ``error`` result, never an exception."""
    result = SegmentResult(name=segment.name, title=segment.label, customerio_segment_id=segment.customerio_segment_id,
                           tolerance=segment.tolerance)
    clock = time.perf_counter
    with ExitStack() as held:   # every membership read is closed at the end (one in the database holds a connection)
        def read_again():
            membership = fetch_membership(config, segment, client, progress, engine)
            held.callback(membership.close)
            return membership, client.segment_count(segment.customerio_segment_id)

        try:
            started = clock()
            client.ensure_ready(segment.customerio_segment_id)
            truth, membership, reported = read_both(config, segment, as_of, client, engine, progress, result.seconds)
            held.callback(membership.close)
            membership, reported, reread = confirm_count(segment.customerio_segment_id, membership, reported,
                                                         read_again)
            diff_started = clock()
            truth, diff = diff_sides(config, segment, as_of, engine, truth, membership)
            result.seconds["diff"] = clock() - diff_started
            diagnosis = None
            if config.diagnosis.enabled:
                diagnosis_started = clock()
                try:
                    diagnosis = diagnose_segment(diff, truth.people, membership, segment, config.identity_key, as_of,
                                                 client, engine, config.diagnosis)
                    result.diagnosis_complete = True
                except CompareError as exc:   # the comparison stands; only the explanation is incomplete
                    result.diagnosis_complete, result.diagnosis_error = False, str(exc)
                    result.warnings.append(f"the diagnosis could not run: {exc}")
                result.seconds["diagnosis"] = clock() - diagnosis_started
            result.seconds["total"] = clock() - started
        except (CompareError, ConfigError) as exc:
            result.error = str(exc)
            return result
        except Exception as exc:  # a bug of ours must not turn into a pass, nor stop other segments
            log.exception("segment %s failed unexpectedly", segment.name)
            result.error = f"internal error ({exc.__class__.__name__}); please report it with the log"
            return result

    result.truth_rows, result.truth_rows_without_key = truth.rows_read, truth.rows_without_key
    result.pages, result.customerio_reported_count = membership.pages, reported
    _apply_diff(result, diff, segment)
    if diagnosis is not None:
        apply_diagnosis(result, diagnosis)
    decide(result, config.diagnosis.window_edge_counts)
    if reread:
        result.warnings.append(reread)
    if truth.rows_without_key:
        result.warnings.append(f"{truth.rows_without_key:,} truth rows have no {config.identity_key}: "
                               "those people cannot be matched (identity problem in the shop data)")
    if result.truth_count == 0 and result.customerio_count == 0:
        result.warnings.append("both sides are empty: check the truth SQL and the segment's conditions")
    return result


def _apply_diff(result: SegmentResult, diff: SegmentDiff, segment: SegmentConfig) -> None:
    result.truth_count, result.customerio_count = diff.truth_count, diff.customerio_count
    result.customerio_profiles, result.matched = diff.customerio_profiles, diff.matched
    result.missing_in_customerio, result.extra_in_customerio = len(diff.missing), len(diff.extra)
    result.duplicate_profiles, result.keyless_profiles = diff.duplicate_profiles, diff.keyless_profiles
    result.mismatch_rate = diff.mismatch_rate
    result.discrepancies = diff.discrepancies(segment.name)


__all__ = ["Progress", "run_audit", "reconcile_segment", "select_segments", "check_segment_suites", "core_events_flow"]
