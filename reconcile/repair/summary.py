"""What a plan will do, in numbers and examples: the values both summaries are drawn from, and the
Markdown one written beside the plan (the terminal's is :func:`reconcile.cli.screens.plan_screen`).

A reviewer reads it before ``apply``: actions per kind and cause, which kinds ``apply`` sends by
default, the first examples of each, and everything the plan will not touch, with the reason.
"""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from .plan_file import CONFIRMATION, DEFAULT_KINDS, KINDS, NO_ACTION, Action, Plan, write_private

EXAMPLES = 3


@dataclass
class PlanSummary:
    actions: dict[str, dict[str, int]]                  # kind -> cause -> actions
    left_alone: list[tuple[str, str, int]]              # (cause, reason, people), most people first
    examples: dict[str, list[str]] = field(default_factory=dict)   # kind -> one line each

    @property
    def total(self) -> int:
        return sum(sum(causes.values()) for causes in self.actions.values())

    def count(self, kind: str) -> int:
        return sum(self.actions.get(kind, {}).values())


def summarise(plan: Plan, examples: int = EXAMPLES) -> PlanSummary:
    actions: dict[str, Counter] = {}
    shown: dict[str, list[str]] = {}
    for action in plan.of_kind(*KINDS):
        actions.setdefault(action.kind, Counter())[action.cause] += 1
        if len(shown.setdefault(action.kind, [])) < examples:
            shown[action.kind].append(example(action))
    untouched = Counter((action.cause, action.reason) for action in plan.of_kind(NO_ACTION))
    return PlanSummary(actions={kind: dict(actions[kind].most_common()) for kind in KINDS if kind in actions},
                       left_alone=[(cause, reason, n) for (cause, reason), n in untouched.most_common()],
                       examples=shown)


def example(action: Action) -> str:
    """One action in a line: who, and what changes."""
    if action.kind == "merge" and action.call and action.call.path.endswith("merge_customers"):
        body = action.call.body or {}
        return (f"{action.person.get('email') or action.who}: profile {body['secondary']['cio_id']} merged into "
                f"{body['primary']['cio_id']} (customer {action.person.get('id')})")
    if action.kind in ("delete", "suppress"):
        return f"{action.who}: profile {action.person.get('cio_id')} ({', '.join(action.segments)})"
    if action.kind == "identify":
        return f"{action.who}: a new profile with {', '.join(_shown(k, v) for k, v in action.after.items())}"
    changes = "; ".join(f"{name} {_value(action.before.get(name))} → {_value(value)}" for name, value in action.after.items())
    first = "after the merge, " if action.needs else ""
    return f"{action.who}: {first}{changes}"


def _shown(name: str, value: Any) -> str:
    return f"{name} {_value(value)}"


def _value(value: Any) -> str:
    if value is None:
        return "(none)"
    if isinstance(value, bool):
        return "true" if value else "false"
    return str(value)


def write_summary(plan: Plan, summary: PlanSummary, plan_path: Path) -> Path:
    """``plan.md`` beside the plan, owner-only like it (its examples name people)."""
    target = plan_path.with_suffix(".md")
    write_private(target, markdown(plan, summary, plan_path), what="a plan's summary")
    return target


def markdown(plan: Plan, summary: PlanSummary, plan_path: Path) -> str:
    run = plan.run
    lines = [f"# Repair plan: {summary.total:,} actions", "",
             f"Made {plan.created_at:%Y-%m-%d %H:%M UTC} from the run of {run['as_of']} ({run['status'].upper()}) in "
             f"`{run['folder']}`, for workspace `{plan.workspace.get('environment_id')}` "
             f"({plan.workspace.get('region') or 'region unknown'}).",
             "The shop was read again through the lookup query: people whose values changed since the run are "
             "left out." if plan.shop_reread else
             "Some segments have no lookup query, so their values are the run's: plan again soon before applying.",
             "", "## What it will do", "", "| kind | sent by default | cause | actions |", "|---|---|---|---:|"]
    for kind, causes in summary.actions.items():
        default = "yes" if kind in DEFAULT_KINDS else f"no: `--include {kind}` and `--yes-{CONFIRMATION[kind]}`"
        lines += [f"| {kind} | {default} | {cause} | {count:,} |" for cause, count in causes.items()]
    if not summary.actions:
        lines.append("| (nothing) | | | 0 |")
    lines += ["", "## Examples", ""]
    for kind, shown in summary.examples.items():
        lines += [f"- **{kind}** {_escape(line)}" for line in shown]
    lines += ["", "## What it will not touch", "", "| cause | people | why |", "|---|---:|---|"]
    lines += [f"| {cause} | {count:,} | {_escape(reason)} |" for cause, reason, count in summary.left_alone]
    off = [kind for kind in summary.actions if kind not in DEFAULT_KINDS]
    if off:
        lines.append(f"| {', '.join(off)} | {sum(summary.count(k) for k in off):,} | not sent unless included: "
                     "irreversible, so each needs its flag |")
    lines += ["", "## Next", "", "```sh", f"reconcile apply {plan_path}          # a dry run: what it would send",
              f"reconcile apply {plan_path} --yes    # sends {', '.join(DEFAULT_KINDS)}", "```", "",
              "Pause the segment-triggered campaigns these segments feed before applying, and run the audit again "
              "once Customer.io has caught up.", ""]
    return "\n".join(lines)


def _escape(text: str) -> str:
    return text.replace("|", "\\|").replace("\n", " ")


__all__ = ["PlanSummary", "summarise", "example", "markdown", "write_summary"]
