"""The repair plan as values, and as the JSON Lines file a person reviews.

The first line is the plan's header: when it was made, from which run, for which workspace.
Every other line is one action::

    {"type": "action", "id": "9f2c41d07b3e5a18", "kind": "update", "cause": "timestamp_unit",
     "severity": "medium", "segments": ["purchased_30d_email_consent"],
     "person": {"id": "358", "email": "h@x.com", "cio_id": "a3000166"},
     "call": {"method": "PUT", "path": "/api/v1/customers/cio_a3000166",
              "body": {"last_order_at": 1795832054, "_update": true}},
     "before": {"last_order_at": "1795832054000"}, "after": {"last_order_at": 1795832054},
     "needs": null, "reason": "", "detail": ""}

``kind`` is ``update``, ``identify``, ``merge``, ``delete`` or ``suppress``, or ``none`` for a
person the plan deliberately leaves alone (``call`` is null, ``reason`` says why, ``detail``
what was seen). ``needs`` names an action that must be applied first (a merge's follow-up). An
action's ``id`` is a hash of what it does, so an apply's progress means exactly that call, and an
action edited after planning is refused; deleting a line is how a reviewer drops an action.
The file holds people's data: it is written readable by its owner only, and never overwritten.
"""

from __future__ import annotations

import hashlib
import json
import os
import re
from dataclasses import asdict, dataclass, field
from datetime import datetime
from pathlib import Path
from typing import Any

from ..errors import PlanRefused, UsageError

KINDS = ("update", "identify", "merge", "delete", "suppress")
DEFAULT_KINDS = ("update", "identify")
NO_ACTION = "none"
CONFIRMATION = {"merge": "merge", "delete": "delete", "suppress": "delete"}   # kind -> its --yes-<flag>
VERSION = 1
_IDENTIFIER_IN_PATH = re.compile(r"^(/api/v\d/customers/)[^/]+")
_HIDDEN = r"\1…"


@dataclass(frozen=True)
class Call:
    """One Track API request, exactly as apply sends it."""

    method: str
    path: str
    body: dict[str, Any] | None = None

    @property
    def label(self) -> str:
        """The request without the person in it, for messages and logs: ``PUT /api/v1/customers/…``."""
        return f"{self.method} {_IDENTIFIER_IN_PATH.sub(_HIDDEN, self.path)}"


@dataclass
class Action:
    kind: str
    cause: str
    person: dict[str, str | None]
    segments: list[str]
    severity: str = ""
    call: Call | None = None
    before: dict[str, Any] = field(default_factory=dict)
    after: dict[str, Any] = field(default_factory=dict)
    needs: str | None = None
    reason: str = ""           # the same words for everyone left alone for the same reason
    detail: str = ""           # what was seen for this person
    id: str = ""

    def __post_init__(self) -> None:
        self.id = self.id or self.fingerprint()

    def fingerprint(self) -> str:
        """A hash of what the action does (kind, cause, person, call, what it needs)."""
        what = {"kind": self.kind, "cause": self.cause, "person": self.person,
                "call": asdict(self.call) if self.call else None, "needs": self.needs}
        return hashlib.sha256(json.dumps(what, sort_keys=True, default=str).encode()).hexdigest()[:16]

    @property
    def who(self) -> str:
        """The person in a few characters: their id, else their cio_id."""
        return self.person.get("id") or f"cio_id {self.person.get('cio_id')}"

    def to_dict(self) -> dict[str, Any]:
        data = asdict(self)
        data["call"] = asdict(self.call) if self.call else None
        return {"type": "action", "id": data.pop("id"), **data}

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> Action:
        fields = {name: data[name] for name in ("kind", "cause", "person", "segments") if name in data}
        if len(fields) < 4:
            raise ValueError("an action needs kind, cause, person and segments")
        call = data.get("call")
        return cls(**fields, severity=data.get("severity", ""), call=Call(**call) if call else None,
                   before=data.get("before") or {}, after=data.get("after") or {}, needs=data.get("needs"),
                   reason=data.get("reason", ""), detail=data.get("detail", ""), id=str(data.get("id") or ""))


@dataclass
class Plan:
    """A plan's header (``created_at``, the run, the workspace, ...) and its actions, in apply order."""

    created_at: datetime
    data_as_of: datetime            # the oldest data its values rest on: now when the shop was re-read
    run: dict[str, Any]             # folder, as_of, finished_at, status
    config: str
    workspace: dict[str, str]       # environment_id, region, site_id
    shop_reread: bool
    actions: list[Action] = field(default_factory=list)

    @property
    def id(self) -> str:
        return hashlib.sha256(json.dumps(self.header(), sort_keys=True).encode()).hexdigest()[:16]

    def header(self) -> dict[str, Any]:
        return {"type": "plan", "version": VERSION, "created_at": self.created_at.isoformat(),
                "data_as_of": self.data_as_of.isoformat(), "run": self.run, "config": self.config,
                "workspace": self.workspace, "shop_reread": self.shop_reread}

    def of_kind(self, *kinds: str) -> list[Action]:
        return [action for action in self.actions if action.kind in kinds]


def write_plan(plan: Plan, path: str | Path) -> Path:
    """Write the plan (owner-only), refusing to replace one: an apply's progress belongs to its plan."""
    target = Path(path)
    lines = [json.dumps(plan.header(), default=str)] + [json.dumps(a.to_dict(), default=str) for a in plan.actions]
    write_private(target, "\n".join(lines) + "\n", what="a plan")
    return target


def write_private(target: Path, text: str, what: str) -> None:
    """Create ``target`` readable by its owner only, atomically; never over an existing file."""
    if target.exists():
        raise UsageError(f"{target} already exists and may hold {what} someone reviewed; choose another --out")
    target.parent.mkdir(parents=True, exist_ok=True)
    partial = target.with_name(f".{target.name}.partial-{os.getpid()}")
    descriptor = os.open(partial, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    try:
        with os.fdopen(descriptor, "w", encoding="utf-8") as handle:
            handle.write(text)
        os.link(partial, target)      # fails if the target appeared meanwhile: never replaced
    finally:
        partial.unlink(missing_ok=True)


def read_plan(path: str | Path) -> Plan:
    """A plan file read back; a file that is not a plan, or an action edited since, is refused."""
    source = Path(path)
    try:
        lines = [line for line in source.read_text(encoding="utf-8").splitlines() if line.strip()]
    except FileNotFoundError:
        raise UsageError(f"{source}: no such plan; make one with reconcile plan RUN_DIR") from None
    except (OSError, UnicodeDecodeError) as exc:
        raise UsageError(f"{source} cannot be read ({exc.__class__.__name__})") from None
    try:
        header = json.loads(lines[0]) if lines else {}
        if header.get("type") != "plan" or header.get("version") != VERSION:
            raise ValueError("no plan header")
        plan = Plan(created_at=datetime.fromisoformat(header["created_at"]),
                    data_as_of=datetime.fromisoformat(header["data_as_of"]), run=header["run"],
                    config=header["config"], workspace=header["workspace"], shop_reread=header["shop_reread"])
    except (ValueError, KeyError, TypeError, AttributeError):
        raise PlanRefused(f"{source} is not a repair plan (its first line is not a plan header); "
                          "make one with reconcile plan RUN_DIR") from None
    for number, line in enumerate(lines[1:], start=2):
        plan.actions.append(_action(source, number, line))
    return plan


def _action(source: Path, number: int, line: str) -> Action:
    try:
        action = Action.from_dict(json.loads(line))
    except (ValueError, TypeError, AttributeError):
        raise PlanRefused(f"{source}, line {number}: not an action of a plan; delete the line or plan again") from None
    if action.kind not in (*KINDS, NO_ACTION) or action.id != action.fingerprint():
        raise PlanRefused(f"{source}, line {number}: action {action.id} was changed after planning (it no longer "
                          "matches its id); delete the line to drop the action, or plan again")
    return action


__all__ = ["Action", "Call", "Plan", "KINDS", "DEFAULT_KINDS", "NO_ACTION", "CONFIRMATION", "write_plan",
           "write_private", "read_plan"]
