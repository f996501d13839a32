"""A real SMTP server (aiosmtpd) on loopback that keeps what it receives, for the email tests."""

from __future__ import annotations

import email
import socket
from contextlib import contextmanager
from dataclasses import dataclass, field
from email.message import EmailMessage
from email.policy import default
from typing import Iterator

from aiosmtpd.controller import Controller
from aiosmtpd.smtp import AuthResult


@dataclass
class Received:
    mail_from: str
    rcpt_tos: list[str]
    raw: bytes

    @property
    def message(self) -> EmailMessage:
        return email.message_from_bytes(self.raw, policy=default)


@dataclass
class Mailbox:
    messages: list[Received] = field(default_factory=list)

    async def handle_DATA(self, server, session, envelope):
        self.messages.append(Received(envelope.mail_from, list(envelope.rcpt_tos), envelope.original_content or envelope.content))
        return "250 Message accepted for delivery"


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


@contextmanager
def smtp_server(username: str | None = None, password: str | None = None) -> Iterator[tuple[Mailbox, int]]:
    """(mailbox, port) of a server on 127.0.0.1; with credentials it requires AUTH and checks them."""
    mailbox = Mailbox()
    options = {}
    if username is not None:
        def authenticate(server, session, envelope, mechanism, auth_data):
            ok = auth_data.login == username.encode() and auth_data.password == password.encode()
            return AuthResult(success=ok, handled=False)
        options = {"authenticator": authenticate, "auth_required": True, "auth_require_tls": False}
    port = free_port()
    controller = Controller(mailbox, hostname="127.0.0.1", port=port, **options)
    controller.start()
    try:
        yield mailbox, port
    finally:
        controller.stop()
