"""``reconcile apply``: a reviewed plan's calls, sent through the Track API, safely.

In this order, and nothing is sent until every check has passed:

1. the plan is **read** (an action edited since planning is refused) and its **age** checked: data
   older than ``customerio.max_plan_age_hours`` is refused, in a dry run too;
2. only the **kinds included** are taken (default ``update`` and ``identify``), and of those only
   what the progress file does not record as applied;
3. a **dry run** (the default) stops here and reports what it would send;
4. merges, deletes and suppressions need their **confirmation** (``ConfirmationNeeded`` names the
   count; the command line asks, or takes ``--yes-merge``/``--yes-delete``);
5. ``GET /api/v1/accounts/region`` says which **workspace** the credentials write to: another one
   than the plan's is refused;
6. the actions are **sent in the plan's order** (merges, updates, identifies, deletes), each
   outcome appended to the progress file before the next is sent. A refused call (4xx) is
   recorded and the next one sent; anything that would fail every later call too (no answer
   after the retries, 401, a wrong region) stops the run, leaving the rest "not attempted"; a
   re-run sends exactly what has not been applied.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime, timezone
from pathlib import Path
from typing import Callable

from ..customerio import TrackClient
from ..errors import BadRequest, ConfirmationNeeded, CustomerIOError, PlanRefused, UsageError
from .plan_file import CONFIRMATION, DEFAULT_KINDS, KINDS, Action, Plan, read_plan
from .progress import APPLIED, FAILED, SKIPPED, Progress, progress_path


@dataclass
class ApplyReport:
    """What one apply did, or would do: every included action is in exactly one list."""

    plan: Plan
    plan_path: Path
    progress_path: Path
    dry_run: bool
    include: tuple[str, ...]
    pending: list[Action]                       # to send this run, in order (what a dry run would send)
    applied_before: list[Action]                # applied by an earlier run: not sent again
    not_included: dict[str, int]                # kind -> actions left out by --include
    applied: list[Action] = field(default_factory=list)
    failed: list[tuple[Action, str]] = field(default_factory=list)
    not_attempted: list[Action] = field(default_factory=list)
    stopped: str | None = None                  # why the run stopped before the end
    interrupted: bool = False

    @property
    def complete(self) -> bool:
        """Every included action is applied (now or before); a dry run never is."""
        return not self.dry_run and not self.failed and not self.not_attempted and not self.interrupted


def check_include(include: tuple[str, ...] | list[str]) -> tuple[str, ...]:
    unknown = [kind for kind in include if kind not in KINDS]
    if unknown or not include:
        raise UsageError(f"--include takes kinds of action, separated by commas ({', '.join(KINDS)}); "
                         f"got {', '.join(unknown) or 'nothing'}")
    return tuple(dict.fromkeys(include))


def apply_plan(plan_path: str | Path, *, client: TrackClient | None, include=DEFAULT_KINDS, confirmed=(),
               dry_run: bool = True, max_age_hours: float = 24.0, now: datetime | None = None,
               on_action: Callable[[Action, str], None] | None = None) -> ApplyReport:
    """Apply (or, by default, only show) a plan; see the module docstring for the order of the checks.

    ``confirmed`` holds ``"merge"`` and/or ``"delete"`` (which also covers suppressions);
    ``on_action(action, outcome)`` follows each action sent.
    """
    path = Path(plan_path)
    include = check_include(include)
    now = now or datetime.now(timezone.utc)
    plan = read_plan(path)
    check_age(plan, path, now, max_age_hours)
    progress = Progress(progress_path(path), plan, path)
    done = progress.applied
    chosen = [action for action in plan.actions if action.kind in include]
    report = ApplyReport(plan, path, progress.path, dry_run, include,
                         pending=[a for a in chosen if a.id not in done],
                         applied_before=[a for a in chosen if a.id in done],
                         not_included=_not_included(plan, include))
    if dry_run or not report.pending:
        return report
    check_confirmed(report.pending, confirmed)
    if client is None:
        raise UsageError("apply --yes needs the Track API: set [customerio] site_id and track_api_key")
    workspace = client.workspace()
    check_workspace(plan, path, workspace)
    progress.begin(workspace["environment_id"], include, now)
    _send_all(report, client, progress, done, on_action)
    return report


def check_age(plan: Plan, path: Path, now: datetime, max_age_hours: float) -> None:
    hours = (now - plan.data_as_of).total_seconds() / 3600
    if hours > max_age_hours:
        raise PlanRefused(f"{path} rests on what was seen at {plan.data_as_of:%Y-%m-%d %H:%M UTC}, {hours:.1f} hours "
                          f"ago, more than customerio.max_plan_age_hours ({max_age_hours:g}): people may have changed "
                          "since; run the audit and reconcile plan again")


def check_confirmed(pending: list[Action], confirmed) -> None:
    for flag in ("merge", "delete"):
        count = sum(1 for action in pending if CONFIRMATION.get(action.kind) == flag)
        if count and flag not in confirmed:
            what = "merges" if flag == "merge" else "deletes or suppressions"
            raise ConfirmationNeeded(f"{count:,} {what} need a second confirmation because they cannot be undone: "
                                     f"add --yes-{flag} (or leave {flag} out of --include)", flag, count)


def check_workspace(plan: Plan, path: Path, workspace: dict[str, str]) -> None:
    planned = str(plan.workspace.get("environment_id"))
    if workspace["environment_id"] != planned:
        raise PlanRefused(f"{path} was made for workspace {planned}, but these Track API credentials write to "
                          f"workspace {workspace['environment_id']} ({workspace.get('region') or 'region unknown'}): "
                          "apply it with its own workspace's site_id and track_api_key, or plan again for this one")


def _not_included(plan: Plan, include: tuple[str, ...]) -> dict[str, int]:
    counts: dict[str, int] = {}
    for action in plan.of_kind(*KINDS):
        if action.kind not in include:
            counts[action.kind] = counts.get(action.kind, 0) + 1
    return counts


def _send_all(report: ApplyReport, client: TrackClient, progress: Progress, done: set[str],
              on_action: Callable[[Action, str], None] | None) -> None:
    """Send each pending action; record each outcome before the next (see the module docstring)."""
    pending = list(report.pending)
    while pending:
        action = pending.pop(0)
        now = datetime.now(timezone.utc)
        if action.needs and action.needs not in done:
            message = f"needs action {action.needs}, which is not applied"
            progress.record(action, SKIPPED, now, message=message)
            report.failed.append((action, message))
            continue
        try:
            client.send(action.call.method, action.call.path, action.call.body, label=f"{action.call.label}")
        except KeyboardInterrupt:
            report.interrupted, report.stopped = True, "interrupted"
            report.not_attempted = [action, *pending]
            return
        except BadRequest as exc:
            progress.record(action, FAILED, now, exc.status, str(exc))
            report.failed.append((action, progress.latest[action.id]["message"]))
        except CustomerIOError as exc:
            progress.record(action, FAILED, now, None, str(exc))
            report.failed.append((action, progress.latest[action.id]["message"]))
            report.stopped, report.not_attempted = progress.latest[action.id]["message"], pending
            return
        else:
            progress.record(action, APPLIED, now, 200)
            report.applied.append(action)
            done.add(action.id)
        if on_action is not None:
            on_action(action, progress.latest[action.id]["outcome"])


__all__ = ["apply_plan", "ApplyReport", "check_include", "check_age", "check_workspace", "check_confirmed"]
