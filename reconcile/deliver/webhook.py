"""POST the run's JSON summary to a generic webhook (a chat bridge, an incident tool, a data
pipeline): the verdict, the worst problem, each segment's counts and where the report is.

The document's shape is a contract, ``webhook.schema.json`` beside this module (``reconcile
schema webhook`` prints it): ``schema_version`` changes only when a key changes meaning or goes
away; keys may be added.
"""

from __future__ import annotations

import json
import socket
from functools import cache
from importlib import resources
from pathlib import Path
from typing import Any

from .. import __version__
from ..config import WebhookConfig
from ..report.summary import verdict_line
from ..results import RunResult, Status
from .policy import Delivery, not_sent, should_send, undelivered
from .post import PostFailed, post_json, shown
from .slack import worst_problem

SCHEMA_VERSION = 1
SEGMENT_KEYS = ("name", "title", "status", "customerio_segment_id", "truth_count", "customerio_count", "matched",
                "missing_in_customerio", "extra_in_customerio", "mismatch_rate", "tolerance", "worst_severity", "error")


def summary(run: RunResult, folder: Path | None, not_saved: str | None = None) -> dict[str, Any]:
    """The document posted for a run (see webhook.schema.json); ``report.saved`` is false, with
    why, when its folder could not be written."""
    checks_failed = sum(1 for c in run.checks if c.status != Status.PASS)
    return {
        "schema_version": SCHEMA_VERSION,
        "reconcile_version": __version__,
        "status": str(run.status),
        "verdict": verdict_line(run),
        "as_of": run.as_of.isoformat(),
        "worst_problem": worst_problem(run),
        "report": {"folder": str(folder) if folder else None, "html": str(Path(folder) / "report.html") if folder else None,
                   "host": socket.gethostname(), "saved": folder is not None, "not_saved": not_saved},
        "segments": [{key: _plain(getattr(s, key)) for key in SEGMENT_KEYS} for s in run.segments],
        "checks": {"expectations": len(run.checks), "not_passed": checks_failed},
    }


def _plain(value: Any) -> Any:
    return str(value) if hasattr(value, "value") else value     # StrEnums as their strings


@cache
def schema() -> dict[str, Any]:
    return json.loads(resources.files(__package__).joinpath("webhook.schema.json").read_text(encoding="utf-8"))


def send_webhook(run: RunResult, folder: Path | None, settings: WebhookConfig, not_saved: str | None = None) -> Delivery:
    if not should_send(run, settings):
        return not_sent("webhook", "webhook.send")
    try:
        post_json(settings.url, summary(run, folder, not_saved), settings.timeout_seconds)
    except PostFailed as exc:
        return Delivery(channel="webhook", sent=False, summary="", error=(
            f"{undelivered(folder, 'posted to the webhook')} ({shown(settings.url)}): {exc}"))
    return Delivery(channel="webhook", sent=True, summary=f"posted the summary to {shown(settings.url)}")


__all__ = ["summary", "send_webhook", "schema", "SCHEMA_VERSION"]
