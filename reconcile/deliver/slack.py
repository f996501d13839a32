"""Post the verdict to Slack through an incoming webhook, as Block Kit.

The message says what a person needs before opening the report: the verdict, the worst
problem, one line per segment and where the report is. It stays inside Slack's limits for one
message: at most 50 blocks, a header of at most 150 characters, sections of at most 3,000
(segments beyond what fits are counted, not listed), and a plain-text ``text`` fallback for
notifications.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from ..config import SlackConfig
from ..report.summary import format_percent, verdict_line
from ..results import RunResult, Status, worst
from .policy import Delivery, not_sent, report_location, should_send, undelivered
from .post import PostFailed, post_json, shown

MAX_BLOCKS = 50
MAX_HEADER = 150
MAX_SECTION = 3000
MAX_TEXT = 3000            # the notification fallback; Slack truncates far later, people read far less
SEGMENT_BLOCKS = 40        # room left for the segments after the header, the worst problem and the footer
MARK = {Status.PASS: ":white_check_mark:", Status.FAIL: ":x:", Status.ERROR: ":warning:"}


def message(run: RunResult, folder: Path | None, not_saved: str | None = None) -> dict[str, Any]:
    """The Block Kit document for a run: its report's place, or why it has none."""
    verdict = verdict_line(run)
    blocks: list[dict[str, Any]] = [
        {"type": "header", "text": {"type": "plain_text", "text": _cut(f"reconcile {verdict}", MAX_HEADER)}}]
    problem = worst_problem(run)
    if problem:
        blocks.append(_section(f"*Worst problem:* {_escape(problem)}"))
    blocks += _segment_sections(run)
    blocks.append({"type": "context", "elements": [{"type": "mrkdwn", "text": _cut(
        f"as of {run.as_of:%Y-%m-%d %H:%M} UTC · report: `{_escape(report_location(folder, not_saved))}`", MAX_SECTION)}]})
    return {"text": _cut(verdict, MAX_TEXT), "blocks": blocks[:MAX_BLOCKS]}


def worst_problem(run: RunResult) -> str | None:
    """The most severe cause the diagnosis found, and where; else the first segment that could not be compared."""
    severity = worst(s.worst_severity for s in run.segments)
    if severity:
        where = [(s.name, cause, v["count"]) for s in run.segments for cause, v in (s.causes or {}).items()
                 if v["severity"] == severity]
        return f"{severity}: " + ", ".join(f"{cause} ({count:,} in {name})" for name, cause, count in where[:5])
    failed = next((s for s in run.segments if s.status == Status.ERROR), None)
    return f"could not compare {failed.name}: {failed.error}" if failed else None


def segment_line(segment) -> str:
    mark = MARK.get(segment.status, "")
    if segment.status == Status.ERROR:
        return f"{mark} *{_escape(segment.name)}*: could not compare: {_escape(segment.error or '')}"
    return (f"{mark} *{_escape(segment.name)}*: {format_percent(segment.mismatch_rate)} mismatch "
            f"(tolerance {format_percent(segment.tolerance)}), {segment.missing_in_customerio:,} missing, "
            f"{segment.extra_in_customerio:,} extra")


def _segment_sections(run: RunResult) -> list[dict[str, Any]]:
    """The segments' lines in as few sections as fit, each under Slack's section limit."""
    sections, lines = [], []
    for index, segment in enumerate(run.segments):
        line = _cut(segment_line(segment), MAX_SECTION // 3)
        if sum(len(x) + 1 for x in lines) + len(line) > MAX_SECTION - 100:
            sections.append(_section("\n".join(lines)))
            lines = []
        if len(sections) == SEGMENT_BLOCKS - 1:
            left = len(run.segments) - index
            lines = [f"… and {left:,} more segments in the report"]
            break
        lines.append(line)
    if lines:
        sections.append(_section("\n".join(lines)))
    return sections


def _section(text: str) -> dict[str, Any]:
    return {"type": "section", "text": {"type": "mrkdwn", "text": _cut(text, MAX_SECTION)}}


def _cut(text: str, limit: int) -> str:
    return text if len(text) <= limit else text[:limit - 1] + "…"


def _escape(text: str) -> str:
    """Slack's three control characters, so a segment name cannot mention @channel or make a link."""
    return text.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")


def send_slack(run: RunResult, folder: Path | None, settings: SlackConfig, not_saved: str | None = None) -> Delivery:
    if not should_send(run, settings):
        return not_sent("slack", "slack.send")
    url = settings.webhook_url()
    try:
        post_json(url, message(run, folder, not_saved), settings.timeout_seconds)
    except PostFailed as exc:
        return Delivery(channel="slack", sent=False, summary="", error=(
            f"{undelivered(folder, 'posted to Slack')} ({shown(url)}): {exc}"))
    return Delivery(channel="slack", sent=True, summary=f"posted to Slack ({shown(url)})")


__all__ = ["message", "send_slack", "worst_problem", "MAX_BLOCKS", "MAX_HEADER", "MAX_SECTION"]
