"""What every channel shares: when a report is sent, and what happened when it was.

One policy for email, Slack and webhooks: ``send = "always"`` or ``"on_failure"`` (only when the
run did not pass), tried after the report is on disk (or, when it could not be written, with the verdict and why), so a channel that fails loses nothing: the
failure is one line saying where the report is and why it did not go, never a secret, and the
CLI exits 4 once every channel has been tried.
"""

from __future__ import annotations

import socket
from dataclasses import dataclass, field
from email.message import EmailMessage
from pathlib import Path

from ..results import RunResult, Status


@dataclass
class Delivery:
    """What happened to one report on one channel: sent, deliberately not, or failed (``error``)."""

    channel: str                       # "email", "slack", "webhook"
    sent: bool
    summary: str
    error: str | None = None
    message: EmailMessage | None = None
    body_bytes: int = 0
    attachments: list[str] = field(default_factory=list)


def should_send(run: RunResult, settings) -> bool:
    """``send = "always"``, or ``"on_failure"`` and the run did not pass."""
    return settings.send == "always" or run.status != Status.PASS


def not_sent(channel: str, key: str) -> Delivery:
    return Delivery(channel=channel, sent=False, summary=f'not sent to {channel}: the run passed and {key} = "on_failure"')


def report_location(folder: Path | None, not_saved: str | None = None) -> str:
    """Where the report is, for a reader on another machine: its path and this machine's name, or
    why it is nowhere (a run that could not write its folder still delivers its verdict)."""
    if folder is None:
        return f"not saved on {socket.gethostname()}: {not_saved}"
    return f"{Path(folder) / 'report.html'} on {socket.gethostname()}"


def undelivered(folder: Path | None, action: str) -> str:
    """The start of a failed delivery's line: where the report is, and what did not happen."""
    return f"the report is in {folder} but could not be {action}" if folder is not None else \
        f"the report was not saved and could not be {action} either"


__all__ = ["Delivery", "should_send", "not_sent", "report_location", "undelivered"]
