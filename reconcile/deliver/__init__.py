"""The written report, delivered: email, Slack, a generic webhook, under one policy.

    policy.py    when a channel sends (``send``), what a delivery was, where the report is
    email.py     the report as an email body, the files attached (SMTP)
    slack.py     the verdict as a Slack message (Block Kit, within Slack's limits)
    webhook.py   the run's JSON summary POSTed to any URL (webhook.schema.json)
    post.py      the one way a webhook is reached: no redirects, no secret in any message

The CLI makes one call, :func:`deliver`, with the run and its folder, after the report is
written. Every chosen channel is tried even when another failed; then any failure raises one
:class:`~reconcile.errors.DeliveryError` (exit 4) with a line per channel that failed.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from ..config import Config, EmailConfig, SlackConfig, WebhookConfig
from ..errors import DeliveryError, UsageError
from ..results import RunResult
from .email import COMPRESS_ABOVE, build_message, send_report
from .policy import Delivery, should_send


@dataclass(frozen=True)
class Channels:
    """Where a report goes: the sections of the config the command line chose."""

    email: EmailConfig | None = None
    slack: SlackConfig | None = None
    webhook: WebhookConfig | None = None

    def __bool__(self) -> bool:
        return any((self.email, self.slack, self.webhook))


def channels_for(config: Config, *, email: bool = False, slack: bool = False, webhook: bool = False) -> Channels:
    """The chosen channels, checked before the audit starts: each needs its section, and the
    secrets those name must be set (a ConfigError, exit 2, rather than a failed send after an hour)."""
    chosen = {}
    for name, wanted, section in (("email", email, config.email), ("slack", slack, config.slack),
                                  ("webhook", webhook, config.webhook)):
        if not wanted:
            continue
        if section is None:
            title = "Email" if name == "email" else "Slack and webhooks"
            article = "an" if name == "email" else "a"
            raise UsageError(f"--{name} needs {article} [{name}] section in {config.path.name} (see the README, \"{title}\")")
        chosen[name] = section
    if "email" in chosen:
        chosen["email"].password()
    if "slack" in chosen:
        chosen["slack"].webhook_url()
    return Channels(**chosen)


def deliver(run: RunResult, folder: str | Path | None, channels: Channels, history=None,
            not_saved: str | None = None) -> list[Delivery]:
    """Deliver the report in ``folder`` on every channel; raise DeliveryError naming each that failed.

    ``folder`` is None when the run could not be written (``not_saved`` says why): the verdict is
    delivered all the same, with that line, and the email carries the report rendered in memory."""
    from .slack import send_slack
    from .webhook import send_webhook

    folder = Path(folder) if folder is not None else None
    deliveries = []
    if channels.email is not None:
        context = history.context(run, exclude=folder) if history is not None else None
        try:
            deliveries.append(send_report(run, folder, channels.email, context, not_saved))
        except DeliveryError as exc:
            deliveries.append(Delivery(channel="email", sent=False, summary="", error=str(exc)))
    if channels.slack is not None:
        deliveries.append(send_slack(run, folder, channels.slack, not_saved))
    if channels.webhook is not None:
        deliveries.append(send_webhook(run, folder, channels.webhook, not_saved))
    failed = [d.error for d in deliveries if d.error]
    if failed:
        raise DeliveryError("\n".join(failed), deliveries=deliveries)
    return deliveries


__all__ = ["deliver", "channels_for", "Channels", "Delivery", "should_send", "send_report", "build_message",
           "COMPRESS_ABOVE"]
