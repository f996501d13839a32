"""Repairing: a reviewed plan from a finished run, applied through the Track API.

    run_folder.py   a finished run's results.json and discrepancies.csv, read back
    people.py       the differing people, the shop re-read and Customer.io read again
    values.py       what is written for one attribute (seconds, consent, no unsetting)
    planner.py      each cause's repair: update, identify, merge, delete/suppress, or none
    plan_file.py    the plan as values and as its JSON Lines file (owner-only, never overwritten)
    summary.py      counts, examples and what is left alone; the Markdown beside the plan
    progress.py     the apply's journal beside the plan, so a re-run resumes
    apply.py        the checks (age, kinds, confirmation, workspace) and the sending

::

    >>> written = plan_run("reports/20261130T070000Z", config, app=app, track=track)   # doctest: +SKIP
    >>> apply_plan(written.path, client=track, dry_run=False).complete                   # doctest: +SKIP
    True
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from pathlib import Path

from ..config import Config
from ..customerio import CustomerIOClient, TrackClient
from .apply import ApplyReport, apply_plan, check_include
from .plan_file import CONFIRMATION, DEFAULT_KINDS, KINDS, NO_ACTION, Action, Call, Plan, read_plan, write_plan
from .planner import CAUSE_KINDS, build_plan
from .progress import progress_path
from .run_folder import RunFolder, read_run
from .summary import PlanSummary, summarise, write_summary

PLAN_FILE = "plan.jsonl"


@dataclass
class WrittenPlan:
    plan: Plan
    path: Path
    summary: PlanSummary
    summary_path: Path


def plan_run(run: RunFolder | str | Path, config: Config, *, app: CustomerIOClient, track: TrackClient,
             out: str | Path | None = None, now: datetime | None = None, removal: str = "delete") -> WrittenPlan:
    """Plan the repairs of a finished run and write the plan (``RUN_DIR/plan.jsonl`` by default) and
    its Markdown summary beside it. The Track API is asked which workspace it writes to (a read)."""
    run = run if isinstance(run, RunFolder) else read_run(run)
    where = track.workspace()
    workspace = {"environment_id": where["environment_id"], "region": where["region"], "site_id": track.site_id}
    plan = build_plan(run, config, app=app, workspace=workspace, now=now, removal=removal)
    path = write_plan(plan, Path(out) if out else run.path / PLAN_FILE)
    summary = summarise(plan)
    return WrittenPlan(plan, path, summary, write_summary(plan, summary, path))


__all__ = ["plan_run", "WrittenPlan", "build_plan", "apply_plan", "ApplyReport", "check_include", "read_run",
           "RunFolder", "read_plan", "write_plan", "Plan", "Action", "Call", "PlanSummary", "summarise",
           "progress_path", "KINDS", "DEFAULT_KINDS", "CONFIRMATION", "NO_ACTION", "CAUSE_KINDS", "PLAN_FILE"]
