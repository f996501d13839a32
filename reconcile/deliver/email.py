"""Email a written report: the report as the body, the full report and its CSVs attached.

The report is on disk before anything is sent, so a failed send loses nothing: it
raises :class:`~reconcile.errors.DeliveryError` with one line that says where the report is and
why the message did not go (never the password), and the CLI exits 4. When the run's folder could
not be written, the message is sent all the same, with the files rendered in memory and a line
saying why, so the alert survives a full disk.

The body is the report rendered for email clients: CSS inlined, read at 600 px, at most
:data:`~reconcile.report.html.EMAIL_BODY_LIMIT` bytes (Gmail clips longer bodies), examples trimmed
to fit with a note saying so. Attachments above :data:`COMPRESS_ABOVE` bytes are gzipped;
attachments that would still make the message too large are left out, and the body says so.

Example::

    >>> delivery = send_report(run, folder, config.email)          # doctest: +SKIP
    >>> delivery.summary
    'emailed to retention@example.com (84,113 bytes of body, 2 attachments)'
"""

from __future__ import annotations

import gzip
import smtplib
import socket
import ssl
from email.message import EmailMessage
from email.utils import formatdate, make_msgid
from pathlib import Path

from ..config import EmailConfig
from ..errors import DeliveryError
from ..report.files import render_outputs
from ..report.html import body_size, render_email_body, render_html
from ..report.summary import format_percent, purchases_verdict, verdict_line
from ..results import RunResult
from .policy import Delivery, should_send, undelivered

COMPRESS_ABOVE = 1_000_000          # bytes: larger attachments travel gzipped
ATTACHMENTS_LIMIT = 15_000_000      # bytes: most mail servers refuse messages above 20-25 MB
ATTACHED_FILES = ("report.html", "discrepancies.csv", "purchase_discrepancies.csv")


def subject(run: RunResult, settings: EmailConfig) -> str:
    return f"{settings.subject_prefix} {verdict_line(run)}".strip()


def attachments(files: dict[str, bytes], where: str, limit: int = ATTACHMENTS_LIMIT
                ) -> tuple[list[tuple[str, bytes, str]], list[str]]:
    """([(file name, content, MIME type)], notes for the body) for the report's files (by name)."""
    found, notes, total = [], [], 0
    for name in ATTACHED_FILES:
        if name not in files:
            continue
        content = files[name]
        kind = "text/html" if name.endswith(".html") else "text/csv"
        if len(content) > COMPRESS_ABOVE:
            content, name, kind = gzip.compress(content, mtime=0), name + ".gz", "application/gzip"
        if total + len(content) > limit:
            notes.append(f"{name} is too large to attach ({len(content):,} bytes); {where}.")
            continue
        total += len(content)
        found.append((name, content, kind))
    return found, notes


def files_in(folder: Path) -> dict[str, bytes]:
    """The attachable files of a written run folder."""
    return {name: (folder / name).read_bytes() for name in ATTACHED_FILES if (folder / name).exists()}


def files_rendered(run: RunResult, history=None) -> dict[str, bytes]:
    """The attachable files of a run whose folder could not be written, rendered in memory."""
    rendered = render_outputs(run, history)
    return {name: rendered[name].encode("utf-8") for name in ATTACHED_FILES if name in rendered}


def masked_attachments(run: RunResult, where: str, history=None) -> tuple[list[tuple[str, bytes, str]], list[str]]:
    """With ``email.mask_emails`` no attachment carries a customer's address: the report is attached
    rendered with masked emails, and discrepancies.csv (a column of addresses) stays on disk."""
    content, name, kind = render_html(run, history, mask=True).encode("utf-8"), "report.html", "text/html"
    if len(content) > COMPRESS_ABOVE:
        content, name, kind = gzip.compress(content, mtime=0), name + ".gz", "application/gzip"
    return [(name, content, kind)], [f"Customers' emails are masked (email.mask_emails), so discrepancies.csv is not "
                                     f"attached (nor purchase_discrepancies.csv); {where}."]


def text_body(run: RunResult, folder: Path | None, not_saved: str | None = None) -> str:
    """The plain-text alternative: the verdict and one line per segment."""
    lines = [verdict_line(run), f"as of {run.as_of:%Y-%m-%d %H:%M} UTC", ""]
    if not_saved:
        lines[2:2] = [f"{not_saved[0].upper()}{not_saved[1:]}.", ""]
    for s in run.segments:
        if s.error:
            lines.append(f"- {s.name}: ERROR, {s.error}")
        else:
            lines.append(f"- {s.name}: {s.status.upper()}, {format_percent(s.mismatch_rate)} mismatch "
                         f"(tolerance {format_percent(s.tolerance)}), {s.missing_in_customerio:,} missing in "
                         f"Customer.io, {s.extra_in_customerio:,} extra")
    if run.purchases is not None:
        lines.append(f"- purchases: {purchases_verdict(run.purchases)}")
    lines += ["", f"The full report is attached, and written to {folder}." if folder is not None else
              "The full report is attached; it is nowhere else."]
    return "\n".join(lines) + "\n"


def build_message(run: RunResult, folder: Path | None, settings: EmailConfig, history=None,
                  not_saved: str | None = None) -> tuple[EmailMessage, int]:
    """The message for a run and the size of its HTML body in bytes. Its files come from its folder,
    or, when the folder could not be written (``not_saved``), from memory, and the message says so."""
    where = f"the full files are in {folder} on the machine that ran the audit" if folder is not None else \
        "the run's folder could not be written"
    if settings.mask_emails:
        files, notes = masked_attachments(run, where, history)
    else:
        files, notes = attachments(files_in(folder) if folder is not None else files_rendered(run, history), where)
    if not_saved:
        notes.insert(0, f"{not_saved[0].upper()}{not_saved[1:]}: this message is the only copy of the report.")
    html, _ = render_email_body(run, history, mask=settings.mask_emails, notes=notes)
    message = EmailMessage()
    message["Subject"] = subject(run, settings) + (" (report not saved)" if not_saved else "")
    message["From"] = settings.sender
    message["To"] = ", ".join(settings.to)
    message["Date"] = formatdate(localtime=False)
    message["Message-ID"] = make_msgid(domain=settings.sender.rpartition("@")[2] or None)
    message["Auto-Submitted"] = "auto-generated"
    message.set_content(text_body(run, folder, not_saved))
    message.add_alternative(html, subtype="html")
    for name, content, kind in files:
        maintype, subtype = kind.split("/")
        params = {"charset": "utf-8"} if maintype == "text" else {}
        message.add_attachment(content, maintype=maintype, subtype=subtype, filename=name, params=params)
    return message, body_size(html)


def send_report(run: RunResult, folder: str | Path | None, settings: EmailConfig, history=None,
                not_saved: str | None = None) -> Delivery:
    """Email the report in ``folder`` as ``settings`` say; raise DeliveryError when it cannot go."""
    folder = Path(folder) if folder is not None else None
    if not should_send(run, settings):
        return Delivery(channel="email", sent=False, summary='not emailed: the run passed and email.send = "on_failure"')
    password = settings.password()
    message, body_bytes = build_message(run, folder, settings, history, not_saved)
    names = [part.get_filename() for part in message.iter_attachments()]
    try:
        _transmit(message, settings, password)
    except (smtplib.SMTPException, OSError) as exc:
        reason = _describe(exc, settings)
        if password:
            reason = reason.replace(password, "***")
        raise DeliveryError(f"{undelivered(folder, 'emailed')} via "
                            f"{settings.smtp_host}:{settings.smtp_port}: {reason}") from None
    return Delivery(channel="email", sent=True, message=message, body_bytes=body_bytes, attachments=names,
                    summary=f"emailed to {', '.join(settings.to)} ({body_bytes:,} bytes of body, "
                            f"{len(names)} attachments)")


def _transmit(message: EmailMessage, settings: EmailConfig, password: str | None) -> None:
    context = ssl.create_default_context()
    if settings.ssl:
        connection = smtplib.SMTP_SSL(settings.smtp_host, settings.smtp_port, timeout=settings.timeout_seconds,
                                      context=context)
    else:
        connection = smtplib.SMTP(settings.smtp_host, settings.smtp_port, timeout=settings.timeout_seconds)
    with connection as smtp:
        if settings.starttls:
            smtp.starttls(context=context)
        if settings.username:
            smtp.login(settings.username, password or "")
        refused = smtp.send_message(message, from_addr=settings.sender, to_addrs=list(settings.to))
    if refused:
        raise smtplib.SMTPRecipientsRefused(refused)


def _describe(exc: BaseException, settings: EmailConfig) -> str:
    """One line on why the message did not go; built from codes and our own words only."""
    if isinstance(exc, smtplib.SMTPRecipientsRefused):
        return f"the server refused {', '.join(sorted(exc.recipients))}"
    if isinstance(exc, smtplib.SMTPAuthenticationError):
        return f"login refused for {settings.username} ({exc.smtp_code}); check email.username and the password variable"
    if isinstance(exc, smtplib.SMTPNotSupportedError) and settings.starttls:
        return "the server does not offer STARTTLS; use email.ssl for port 465, or starttls = false on a trusted network"
    if isinstance(exc, smtplib.SMTPResponseException):
        text = exc.smtp_error.decode("utf-8", "replace") if isinstance(exc.smtp_error, bytes) else str(exc.smtp_error)
        return f"the server answered {exc.smtp_code} {' '.join(text.split())}"
    if isinstance(exc, smtplib.SMTPServerDisconnected):
        return "the server closed the connection"
    if isinstance(exc, ssl.SSLError):
        return f"TLS failed ({exc.reason or exc.__class__.__name__})"
    if isinstance(exc, socket.gaierror):
        return "unknown host; check email.smtp_host"
    if isinstance(exc, ConnectionRefusedError):
        return "connection refused; check email.smtp_host and email.smtp_port"
    if isinstance(exc, (TimeoutError, socket.timeout)):
        return f"no answer within {settings.timeout_seconds:g} s"
    if isinstance(exc, OSError) and exc.strerror:
        return exc.strerror
    return " ".join(str(exc).split()) or exc.__class__.__name__
