"""``reconcile demo --repair``: the audit, its plan, the apply, and the audit again, on the sandbox.

The loop a team runs against production, with nothing special-cased: the generated shop and
its drifted workspace (as ``reconcile demo``), served by the sandbox's App and Track APIs on
loopback; the ordinary audit; ``plan_run`` on the run's folder; ``apply_plan`` with the kinds
``apply --yes`` sends by default; the same audit again at the same ``as_of``. What the plan
repaired is gone from the second run; what it left (merges and deletes not included, timing
noise) is still there, and :func:`cause_outcomes` says why for each cause.
"""

from __future__ import annotations

import json
import tempfile
from dataclasses import dataclass
from datetime import datetime, timezone
from pathlib import Path

from ..audit import run_audit
from ..customerio import TrackClient, client_from_settings
from ..errors import UsageError
from ..report import write_outputs
from ..repair import DEFAULT_KINDS, NO_ACTION, ApplyReport, Plan, WrittenPlan, apply_plan, plan_run
from ..results import RunResult
from ..sandbox import Sandbox, Workspace
from . import DEMO_SITE_ID, DEMO_TRACK_API_KEY, build_demo
from .runner import demo_config


@dataclass
class RepairDemo:
    before: RunResult
    after: RunResult
    written: WrittenPlan
    applied: ApplyReport
    before_dir: Path
    after_dir: Path
    outcomes: dict[str, str]           # cause -> what the loop did about it, in words


def run_repair_demo(*, out: Path, as_of: datetime | None = None, seed: int = 7, customers: int = 3000,
                    include: tuple[str, ...] = DEFAULT_KINDS, progress=None) -> RepairDemo:
    """Audit, plan, apply and audit again; the runs and the plan are written under ``out``."""
    as_of = (as_of or datetime.now(timezone.utc)).astimezone(timezone.utc)
    if out.exists() and any(out.iterdir()):
        raise UsageError(f"{out} already holds files; choose another --out")
    out.mkdir(mode=0o700, parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory(prefix="reconcile-demo-") as scratch:
        url = f"sqlite:///{Path(scratch) / 'shop.db'}"
        demo = build_demo(url, as_of=as_of, seed=seed, customers=customers)
        with Sandbox(Workspace.from_dict(demo.workspace), api_key=demo.api_key, site_id=DEMO_SITE_ID,
                     track_api_key=DEMO_TRACK_API_KEY) as sandbox:
            config = demo_config(url, sandbox.url)
            before = run_audit(config, as_of=as_of, progress=progress)
            record = json.dumps(demo.record.to_dict(), indent=1, default=str)
            before_dir = write_outputs(before, out / "before", extra_files={"demo-record.json": record})
            settings = config.customerio
            with client_from_settings(settings) as app, TrackClient(
                    site_id=DEMO_SITE_ID, api_key=DEMO_TRACK_API_KEY, base_url=sandbox.url, timeout=settings.timeout_seconds,
                    max_retries=settings.max_retries, rate_limit=settings.requests_per_second) as track:
                written = plan_run(before_dir, config, app=app, track=track, out=out / "plan.jsonl")
                applied = apply_plan(written.path, client=track, include=include, dry_run=False,
                                     max_age_hours=settings.max_plan_age_hours)
            after = run_audit(config, as_of=as_of, progress=progress)
    after_dir = write_outputs(after, out / "after")
    return RepairDemo(before, after, written, applied, before_dir, after_dir, cause_outcomes(written.plan, include))


def cause_outcomes(plan: Plan, include: tuple[str, ...]) -> dict[str, str]:
    """Per cause, what the loop did: repaired by which kinds, or left, and why."""
    kinds: dict[str, set[str]] = {}
    reasons: dict[str, str] = {}
    for action in plan.actions:
        kinds.setdefault(action.cause, set()).add(action.kind)
        if action.kind == NO_ACTION:
            reasons.setdefault(action.cause, action.reason)
    said = {}
    for cause, found in kinds.items():
        sent = sorted(found & set(include))
        left = sorted(found - set(include) - {NO_ACTION})
        if sent and not left:
            partly = f", but not for everyone: {reasons[cause]}" if NO_ACTION in found else ""
            said[cause] = f"repaired ({', '.join(sent)}){partly}"
        elif left:
            said[cause] = f"left: {', '.join(left)} not included (apply --include {','.join(left)})"
        else:
            said[cause] = f"left: {reasons.get(cause, 'no action')}"
    return said


__all__ = ["RepairDemo", "run_repair_demo", "cause_outcomes"]
