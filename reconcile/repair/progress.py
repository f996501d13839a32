"""An apply's journal, beside its plan: what each action's outcome was, so a re-run resumes.

``plan.progress.jsonl`` (owner-only, like the plan) starts with the plan it belongs to, then gets
one line per apply run and one per action as it ends, appended and flushed to disk before the
next action is sent::

    {"type": "progress", "plan_id": "6d0f…", "plan": "plan.jsonl"}
    {"type": "run", "at": "2026-12-02T09:14:03+00:00", "environment_id": "117", "include": ["update", "identify"]}
    {"type": "outcome", "action": "9f2c41d07b3e5a18", "kind": "update", "outcome": "applied", "status": 200, "at": "…"}
    {"type": "outcome", "action": "41aa…", "kind": "update", "outcome": "failed", "status": 503, "at": "…", "message": "…"}

An action whose latest outcome is ``applied`` is never sent again. Messages are kept free of the
person (their identifiers are replaced by ``…``): the plan is the one file that names people. A
crash can leave a last line cut short; it is ignored, and that action is sent again (the writes a
plan holds are safe to repeat: see README "Repairing").
"""

from __future__ import annotations

import json
import os
from datetime import datetime
from pathlib import Path
from typing import Any

from ..errors import PlanRefused
from .plan_file import Action, Plan

APPLIED, FAILED, SKIPPED = "applied", "failed", "skipped"


def progress_path(plan_path: Path) -> Path:
    return plan_path.with_name(f"{plan_path.stem}.progress.jsonl")


class Progress:
    """The journal of one plan: the latest outcome of each action, and a way to add more."""

    def __init__(self, path: Path, plan: Plan, plan_path: Path):
        self.path, self.plan, self.plan_path = path, plan, plan_path
        self.latest: dict[str, dict[str, Any]] = {}
        if path.exists():
            self._read()

    @property
    def applied(self) -> set[str]:
        return {action for action, outcome in self.latest.items() if outcome.get("outcome") == APPLIED}

    def _read(self) -> None:
        lines = self.path.read_text(encoding="utf-8").splitlines()
        for number, line in enumerate(lines):
            try:
                entry = json.loads(line)
                if entry.get("type") == "outcome":
                    self.latest[entry["action"]] = entry
            except (ValueError, KeyError, AttributeError):
                if number == len(lines) - 1:
                    continue              # cut short by a crash: that action is sent again
                raise PlanRefused(f"{self.path}, line {number + 1}: not a progress entry; move the file away only "
                                  "if you know which actions were applied") from None
            if number == 0 and entry.get("plan_id") != self.plan.id:
                raise PlanRefused(f"{self.path} records another plan's progress; move it away, or apply the plan "
                                  "it belongs to")

    def begin(self, environment_id: str, include: tuple[str, ...], now: datetime) -> None:
        if not self.path.exists():
            self._append({"type": "progress", "plan_id": self.plan.id, "plan": self.plan_path.name})
        self._append({"type": "run", "at": now.isoformat(), "environment_id": environment_id, "include": list(include)})

    def record(self, action: Action, outcome: str, now: datetime, status: int | None = None, message: str = "") -> None:
        entry = {"type": "outcome", "action": action.id, "kind": action.kind, "outcome": outcome, "status": status,
                 "at": now.isoformat()}
        if message:
            entry["message"] = scrub(message, action)
        self._append(entry)
        self.latest[action.id] = entry

    def _append(self, entry: dict[str, Any]) -> None:
        descriptor = os.open(self.path, os.O_WRONLY | os.O_APPEND | os.O_CREAT, 0o600)
        with os.fdopen(descriptor, "a", encoding="utf-8") as handle:
            handle.write(json.dumps(entry) + "\n")
            handle.flush()
            os.fsync(handle.fileno())


def scrub(message: str, action: Action) -> str:
    """The message without the person's identifiers or the values sent for them."""
    secrets = [value for value in action.person.values() if value]
    if action.call and action.call.body:
        secrets += [str(value) for value in action.call.body.values() if isinstance(value, (str, int)) and
                    not isinstance(value, bool) and len(str(value)) > 3]
    for secret in sorted(set(secrets), key=len, reverse=True):
        message = message.replace(secret, "…")
    return message


__all__ = ["Progress", "progress_path", "scrub", "APPLIED", "FAILED", "SKIPPED"]
