"""Everything the command line shows: the run's summary, the pre-launch gate, the history
table, and live progress on long steps.

Progress is drawn with rich on standard error, only when both standard output and standard
error are terminals and ``--quiet`` was not given, so cron mails and ``--json`` pipes stay
clean. The screens are plain text: they read the same in a terminal, a CI log and a test.
"""

from __future__ import annotations

import json
import sys
from contextlib import contextmanager
from pathlib import Path
from typing import Iterator, Sequence

from ..audit import Progress
from ..repair.plan_file import CONFIRMATION, DEFAULT_KINDS
from ..report.summary import (causes, checks_verdict, diagnosis_incomplete, format_count, format_percent,
                              format_points, incomplete_diagnoses, problems, purchases_verdict, segment_severity,
                              verdict_line)
from ..results import CheckResult, CheckSeverity, FlowStatus, RunResult, Status, worst


def wants_progress(quiet: bool, stdout=None, stderr=None) -> bool:
    """Progress only for a person watching: not with --quiet, not when either stream is redirected."""
    stdout, stderr = stdout or sys.stdout, stderr or sys.stderr
    return not quiet and _isatty(stdout) and _isatty(stderr)


def _isatty(stream) -> bool:
    try:
        return bool(stream.isatty())
    except (AttributeError, ValueError):
        return False


@contextmanager
def progress_display(enabled: bool, console=None) -> Iterator[Progress]:
    """An :class:`~reconcile.audit.Progress` that draws one live line per segment (or does nothing)."""
    if not enabled:
        yield Progress()
        return
    from rich.console import Console
    from rich.progress import Progress as Bars, SpinnerColumn, TextColumn, TimeElapsedColumn

    bars = Bars(SpinnerColumn(), TextColumn("{task.description}"), TextColumn("[dim]{task.fields[detail]}"),
                TimeElapsedColumn(), console=console or Console(stderr=True), transient=True)
    tasks: dict[str, int] = {}

    def update(name: str, detail: str) -> None:
        if name in tasks:
            bars.update(tasks[name], detail=detail, refresh=True)

    def started(segment) -> None:
        tasks[segment.name] = bars.add_task(_escape(segment.name), total=None, detail="starting")

    def done(result) -> None:
        if result.name in tasks:
            bars.remove_task(tasks.pop(result.name))
        label = {"pass": "[green]PASS", "fail": "[red]FAIL", "error": "[yellow]ERROR"}[result.status]
        rate = format_percent(result.mismatch_rate) if result.status != Status.ERROR else "could not compare"
        bars.console.print(f"{label}[/] {_escape(result.name)}  {rate}")

    with bars:
        yield Progress(
            segment_started=started,
            rows_read=lambda segment, rows: update(segment.name, f"{rows:,} shop rows read"),
            page_fetched=lambda segment, page, members: update(
                segment.name, f"Customer.io page {page:,} ({members:,} members)"),
            segment_done=done)


def _escape(text: str) -> str:
    from rich.markup import escape
    return escape(text)


def gate_screen(run: RunResult, worst_causes: int = 4, *, suites: Sequence[str] = (), out: Path | None = None) -> str:
    """The pre-launch verdict for one segment, on one screen: its diff, the checks of the suites it
    lists (``suites``), and one verdict that agrees with the exit code. ``out``: where the report
    was written, if it was."""
    lines = []
    for s in run.segments:
        lines.append(f"{s.status.upper():<5}  {s.title or s.name}")
        lines.append(f"       {s.name} · Customer.io segment {s.customerio_segment_id} · "
                     f"as of {run.as_of:%Y-%m-%d %H:%M} UTC")
        lines.append("")
        if s.error:
            lines += [f"  Could not compare: {s.error}", ""]
            continue
        differing = s.missing_in_customerio + s.extra_in_customerio
        rate = format_percent(s.mismatch_rate)
        lines.append(f"  {format_count(differing)} people differ: {rate} of {format_count(s.truth_count)} "
                     f"(tolerance {format_percent(s.tolerance)})")
        lines.append(f"  shop {format_count(s.truth_count)} · Customer.io {format_count(s.customerio_count)} · "
                     f"in both {format_count(s.matched)} · missing {format_count(s.missing_in_customerio)} · "
                     f"extra {format_count(s.extra_in_customerio)}")
        found = causes(s)
        if found:
            lines += ["", "  Worst causes:"]
            for cause in found[:worst_causes]:
                lines.append(f"    {cause.severity or '':<9}{format_count(cause.count):>8}  {cause.label}")
                if cause.fix:
                    lines.append(f"    {'':<17}  fix: {cause.fix}")
            if len(found) > worst_causes:
                more = found[worst_causes:]
                where = f"in {out / 'report.html'}" if out else \
                    f"({', '.join(c.cause for c in more)}; --json has them all)"
                lines.append(f"    … and {len(more)} more {'cause' if len(more) == 1 else 'causes'} {where}")
        for warning in s.warnings:
            lines.append(f"  warning: {warning}")
        lines.append("")
    lines += _gate_checks(run, suites)
    lines += [_gate_decision(run), "", verdict_line(run)]
    return "\n".join(lines)


def _gate_checks(run: RunResult, suites: Sequence[str]) -> list[str]:
    """The data quality the gate decided on: the suites the segment lists, or a note that it lists none."""
    if not suites:
        return ["  Data quality: this segment lists no suites (segments[].checks), so none is part of this gate.", ""]
    shown = [c for c in run.checks if c.status == Status.ERROR or c.blocking]
    lines = [f"  Data quality of its suites ({', '.join(suites)}): {len(run.checks)} expectations, "
             f"{checks_verdict(run.checks).lstrip('; ') or 'all met'}."]
    lines += [f"    {'ERROR' if c.status == Status.ERROR else 'FAIL':<5} {c.suite}: {c.expectation}"
              f"{f'({c.column})' if c.column else ''}: {c.message}" for c in shown[:6]]
    if len(shown) > 6:
        lines.append(f"    … {len(shown) - 6} more")
    lines += [f"    {flow.status.upper():<5} {flow.event} flow: {'; '.join(flow.problems) or flow.error or ''}"
              for flow in run.flow if flow.status != FlowStatus.PASS]
    return lines + [""]


def _gate_decision(run: RunResult) -> str:
    """One sentence, from the run's status: the same verdict as the exit code."""
    if run.status == Status.PASS:
        return "  Safe to launch: the segment holds the people the shop says it should, within tolerance."
    if run.status == Status.ERROR:
        return "  No verdict: do not launch until the segment (and its suites) can be compared."
    reasons = []
    for s in run.segments:
        if s.status == Status.FAIL:
            severity = segment_severity(s)
            reasons.append("the campaign would reach the wrong people" + (f" (worst: {severity})" if severity else ""))
    blocking = sum(1 for c in run.checks if c.blocking)
    if blocking:
        reasons.append(f"{blocking} critical data-quality {'check' if blocking == 1 else 'checks'} of its suites failed")
    reasons += [f"the {flow.event} events of its suites stopped or dropped" for flow in run.flow
                if flow.status == FlowStatus.FAIL]
    return "  Do not launch: " + "; ".join(reasons) + "."


def summary(run: RunResult, out: Path | None) -> str:
    """The run in a few lines: one per segment (with its causes and warnings), the checks, the verdict."""
    width = max([len(s.name) for s in run.segments] + [7])
    lines = [f"{'segment':<{width}}  status  {'shop':>9} {'cio':>9} {'missing':>8} {'extra':>8} {'mismatch':>9}"]
    for s in run.segments:
        if s.status == Status.ERROR:
            lines.append(f"{s.name:<{width}}  ERROR   {s.error}")
            continue
        rate = "n/a" if s.mismatch_rate is None else f"{s.mismatch_rate * 100:.1f} %"
        lines.append(f"{s.name:<{width}}  {s.status.upper():<6}  {s.truth_count:>9,} {s.customerio_count:>9,} "
                     f"{s.missing_in_customerio:>8,} {s.extra_in_customerio:>8,} {rate:>9}")
        if s.causes:   # the diagnosis: worst first
            lines.append(f"{'':<{width}}  causes: " + ", ".join(f"{c} {v['count']:,} ({v['severity']})"
                                                              for c, v in s.causes.items()))
        lines += [f"{'':<{width}}  warning: {warning}" for warning in s.warnings]
    lines += check_lines(run.checks)
    lines += purchase_lines(run)
    severity = worst(s.worst_severity for s in run.segments)   # the diagnosis' worst, just above the verdict
    if severity:
        lines.append(f"worst problem: {severity}: " + ", ".join(sorted(
            {c for s in run.segments for c, v in (s.causes or {}).items() if v["severity"] == severity})))
    where = f"; report: {out / 'report.html'}" if out else ""
    purchases = f"; {purchases_verdict(run.purchases)}" if run.purchases is not None else ""
    lines.append(f"{run.status.upper()}: {run.count(Status.FAIL)} failed, {run.count(Status.ERROR)} could not be "
                 f"compared, {run.count(Status.PASS)} passed{checks_verdict(run.checks)}{purchases}{diagnosis_incomplete(run)}{where}")
    return "\n".join(lines)


def purchase_lines(run: RunResult) -> list[str]:
    """The purchases (problems, money, the activity sample) and the core events' flow."""
    lines, p = [], run.purchases
    if p is not None and p.error:
        lines.append(f"purchases: ERROR  {p.error}")
    elif p is not None:
        lines.append(f"purchases: {p.status.upper()}  {p.troubled:,} of {p.orders:,} orders with a problem "
                     f"({format_percent(p.problem_rate)}, tolerance {format_percent(p.tolerance)})"
                     + (f"; revenue without an event {p.revenue_without_event:,.2f}, counted twice "
                        f"{p.revenue_counted_twice:,.2f}" if p.revenue_without_event is not None else ""))
        found = [f"{problem} {count:,} ({severity})" for problem, count, severity, *_ in problems(p)]
        if found:
            lines.append("  " + ", ".join(found))
        lines += [f"  warning: {warning}" for warning in p.warnings]
        if p.activity is not None:
            a = p.activity
            counts = ", ".join(f"{outcome} {n:,}" for outcome, n in a.outcomes.items() if n)
            lines.append(f"  activity log: {a.status.upper()}  {len(a.orders):,} orders sampled"
                         + (f": {counts}" if counts else "") + (f"; {a.error}" if a.error else ""))
    for flow in run.flow:
        if flow.status != FlowStatus.PASS:
            said = "; ".join(flow.problems) or flow.error or ""
            lines.append(f"  {flow.status.upper():<7} {flow.event} flow: {said}")
    if run.flow:
        lines.insert(len(lines) - sum(1 for f in run.flow if f.status != FlowStatus.PASS),
                     "core events: " + ", ".join(f"{f.event} {f.count:,} in 24 h" if f.count is not None
                                                 else f"{f.event} unreadable" for f in run.flow))
    return lines


def quiet_notes(run: RunResult) -> list[str]:
    """What ``--quiet`` still prints (on standard error, as cron mails it): an incomplete diagnosis,
    whose missing causes no exit code shows."""
    return [f"reconcile: warning: segment {s.name}: diagnosis incomplete: {s.diagnosis_error}"
            for s in incomplete_diagnoses(run)]


def check_lines(checks: list[CheckResult], limit: int = 12) -> list[str]:
    """The checks: the failed and unreadable ones (critical first), after a count line."""
    if not checks:
        return []
    shown = sorted((c for c in checks if c.status != Status.PASS),
                   key=lambda c: (c.status != Status.ERROR, c.severity != CheckSeverity.CRITICAL, c.suite))
    lines = []
    for check in shown[:limit]:
        label = "ERROR" if check.status == Status.ERROR else "FAIL" if check.severity == CheckSeverity.CRITICAL else "warn"
        target = f"({check.column})" if check.column else ""
        lines.append(f"  {label:<5} {check.suite}: {check.expectation}{target}: {check.message}")
    if len(shown) > limit:
        lines.append(f"  … {len(shown) - limit} more in results.json")
    return [f"data quality: {checks_verdict(checks).lstrip('; ') or 'every expectation met'} "
            f"({len(checks)} expectations)"] + lines


def history_table(runs, segments: list[str] | None = None, last: int = 12, folder: Path | None = None,
                  keep_runs: int | None = None) -> str:
    """The mismatch trend of each segment over the last runs, oldest first."""
    if not runs:
        where = f" in {folder}" if folder else ""
        return f"No runs of this config{where} yet: `reconcile run` keeps each run there."
    shown = runs[-last:]
    names: list[str] = []
    for run in shown:
        names += [n for n in run.segments if n not in names and (not segments or n in segments)]
    kept = f" (keep_runs = {keep_runs})" if keep_runs else ""
    lines = [f"{len(runs)} runs of this config kept{f' in {folder}' if folder else ''}{kept}; "
             f"the last {len(shown)} shown, oldest first."]
    for name in names:
        rows = [(run, run.segments[name]) for run in shown if name in run.segments]
        tolerance = rows[-1][1].get("tolerance")
        lines += ["", f"{name}  (tolerance {format_percent(tolerance)})",
                  f"  {'as of':<16}  {'status':<6} {'mismatch':>9} {'missing':>9} {'extra':>9} {'change':>10}"]
        previous = None
        for run, segment in rows:
            rate = segment.get("mismatch_rate")
            change = rate - previous if rate is not None and previous is not None else None
            lines.append(f"  {run.as_of:%Y-%m-%d %H:%M}  {segment.get('status', '?').upper():<6} "
                         f"{format_percent(rate):>9} {format_count(segment.get('missing_in_customerio')):>9} "
                         f"{format_count(segment.get('extra_in_customerio')):>9} "
                         f"{format_points(change) if change is not None else '':>10}")
            previous = rate if rate is not None else previous
    return "\n".join(lines)


# ---------------------------------------------------------------------- repairing

CALLS_SHOWN = 20


def plan_screen(written, next_steps: bool = True) -> str:
    """``reconcile plan``: what the plan will do, what it leaves, and (``next_steps``) what to run next."""
    plan, summary = written.plan, written.summary
    lines = [f"plan: {summary.total:,} actions for workspace {plan.workspace.get('environment_id')}, from the run of "
             f"{plan.run['as_of']} ({plan.run['status'].upper()})",
             f"  {'kind':<9} {'cause':<22} {'actions':>8}  sent"]
    for kind, by_cause in summary.actions.items():
        sent = "by default" if kind in DEFAULT_KINDS else f"with --include {kind} --yes-{CONFIRMATION[kind]}"
        lines += [f"  {kind:<9} {cause:<22} {count:>8,}  {sent}" for cause, count in by_cause.items()]
    if summary.left_alone:
        lines.append("left alone:")
        lines += [f"  {cause:<22} {count:>6,}  {reason}" for cause, reason, count in summary.left_alone]
    if not plan.shop_reread:
        lines.append("warning: some segments have no lookup_sql, so their values are the run's, not the shop's now")
    lines.append("examples:")
    lines += [f"  {kind:<9} {line}" for kind, shown in summary.examples.items() for line in shown]
    lines.append(f"written: {written.path} (and {written.summary_path.name} beside it)"
                 + ("; review it, then" if next_steps else ""))
    if next_steps:
        lines += [f"  reconcile apply {written.path}          a dry run: what it would send",
                  f"  reconcile apply {written.path} --yes    sends {' and '.join(DEFAULT_KINDS)}"]
    return "\n".join(lines)


def apply_screen(report) -> str:
    """``reconcile apply``: what a dry run would send, or what was applied and what was not."""
    lines = []
    if report.dry_run:
        counts = _kind_counts(report.pending)
        lines.append(f"dry run: nothing was sent. With --yes it would send {len(report.pending):,} calls"
                     + (f" ({counts})" if counts else "") + ":")
        for action in report.pending[:CALLS_SHOWN]:
            call = action.call
            lines.append(f"  {action.kind:<9} {call.method} {call.path}"
                         + (f" {json.dumps(call.body, separators=(', ', ': '))}" if call.body else ""))
        if len(report.pending) > CALLS_SHOWN:
            lines.append(f"  … and {len(report.pending) - CALLS_SHOWN:,} more: every call is in {report.plan_path}")
    else:
        total = len(report.applied) + len(report.applied_before) + len(report.failed) + len(report.not_attempted)
        lines.append(f"applied {len(report.applied) + len(report.applied_before):,} of {total:,} "
                     f"({len(report.applied):,} now, {len(report.applied_before):,} before); failed "
                     f"{len(report.failed):,}; not attempted {len(report.not_attempted):,}")
        lines += [f"  failed  {action.kind} {action.id} {action.call.label}: {message}"
                  for action, message in report.failed[:CALLS_SHOWN]]
    if report.applied_before and report.dry_run:
        lines.append(f"already applied by an earlier run: {len(report.applied_before):,} (not sent again)")
    if report.not_included:
        left = ", ".join(f"{kind} {count:,}" for kind, count in report.not_included.items())
        lines.append(f"not included: {left} (add them with --include {','.join(report.include)},"
                     f"{','.join(report.not_included)})")
    if report.stopped:
        lines.append(f"stopped: {report.stopped}")
    if not report.dry_run and not report.complete:
        lines.append(f"every outcome is in {report.progress_path}; run the same command again to send what was not "
                     "applied (what was is never sent twice)")
    elif not report.dry_run:
        lines.append(f"progress: {report.progress_path}. Run the audit again once Customer.io has caught up.")
    return "\n".join(lines)


def _kind_counts(actions) -> str:
    counts: dict[str, int] = {}
    for action in actions:
        counts[action.kind] = counts.get(action.kind, 0) + 1
    return ", ".join(f"{kind} {count:,}" for kind, count in counts.items())


def confirm(needed, stdin=None, stdout=None) -> bool:
    """The second confirmation of merges or deletes: the count typed back, on a terminal only."""
    stdin, stdout = stdin or sys.stdin, stdout or sys.stdout
    if not _isatty(stdin):
        return False
    stdout.write(f"{needed} \nThey cannot be undone. Type {needed.count} to go ahead, anything else to stop: ")
    stdout.flush()
    return stdin.readline().strip() == str(needed.count)


def repair_demo_screen(result) -> str:
    """``reconcile demo --repair``: the loop's steps, then each segment and each cause before and after."""
    applied = result.applied
    lines = [f"1. audit: {result.before.status.upper()}  ({result.before_dir / 'report.html'})",
             f"2. {plan_screen(result.written, next_steps=False)}",
             f"3. apply to the sandbox's Track API: {len(applied.applied):,} calls sent "
             f"({_kind_counts(applied.applied) or 'none'}), {len(applied.failed):,} failed",
             f"4. audit again: {result.after.status.upper()}  ({result.after_dir / 'report.html'})", ""]
    width = max(len(s.name) for s in result.before.segments)
    lines.append(f"{'segment':<{width}}  {'missing':>11}  {'extra':>11}  {'mismatch':>17}")
    for before in result.before.segments:
        after = next(s for s in result.after.segments if s.name == before.name)
        lines.append(f"{before.name:<{width}}  {_arrow(before.missing_in_customerio, after.missing_in_customerio):>11}"
                     f"  {_arrow(before.extra_in_customerio, after.extra_in_customerio):>11}  "
                     f"{format_percent(before.mismatch_rate):>7} → {format_percent(after.mismatch_rate):<7}")
    counts = [_cause_counts(result.before), _cause_counts(result.after)]
    causes = sorted(set(counts[0]) | set(counts[1]), key=lambda cause: -counts[0].get(cause, 0))
    lines += ["", f"{'cause':<20} {'before':>7} {'after':>6}"]
    lines += [f"{cause:<20} {counts[0].get(cause, 0):>7,} {counts[1].get(cause, 0):>6,}  "
              f"{result.outcomes.get(cause, 'new since the plan')}" for cause in causes]
    return "\n".join(lines)


def _arrow(before, after) -> str:
    return f"{format_count(before)} → {format_count(after)}"


def _cause_counts(run: RunResult) -> dict[str, int]:
    counts: dict[str, int] = {}
    for segment in run.segments:
        for cause, entry in (segment.causes or {}).items():
            counts[cause] = counts.get(cause, 0) + entry["count"]
    return counts
