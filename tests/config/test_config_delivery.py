"""``[email]`` and ``[history]``: defaults, and one-line errors naming the file and the key path."""

from __future__ import annotations

import pytest

from reconcile.config import EmailConfig, HistoryConfig, parse_config
from reconcile.errors import ConfigError

from known_config import MINIMAL_CONFIG

BASE = MINIMAL_CONFIG

EMAIL = """
[email]
smtp_host = "smtp.example.com"
from = "reconcile@example.com"
to = ["retention@example.com", "ops@example.com"]
username = "reconcile"
password = "${TEST_SMTP_PASSWORD}"
"""


def error(extra: str) -> str:
    with pytest.raises(ConfigError) as caught:
        parse_config(BASE + extra, "/tmp/proj/config.toml")
    assert "\n" not in str(caught.value)
    return str(caught.value)


def test_defaults():
    config = parse_config(BASE, "/tmp/proj/config.toml")
    assert config.email is None and config.history == HistoryConfig(keep_runs=52, trend_runs=12)
    email = parse_config(BASE + EMAIL, "/tmp/proj/config.toml").email
    assert email == EmailConfig(smtp_host="smtp.example.com", sender="reconcile@example.com",
                                to=("retention@example.com", "ops@example.com"), smtp_port=587, starttls=True,
                                ssl=False, username="reconcile", password_variable="TEST_SMTP_PASSWORD",
                                subject_prefix="[reconcile]", send="always", mask_emails=False, source="config.toml")
    ssl = parse_config(BASE + EMAIL + "ssl = true\n", "/tmp/proj/config.toml").email
    assert (ssl.smtp_port, ssl.starttls) == (465, False)


def test_the_password_is_read_only_when_sending(monkeypatch):
    monkeypatch.delenv("TEST_SMTP_PASSWORD", raising=False)
    config = parse_config(BASE + EMAIL, "/tmp/proj/config.toml")       # no --email: no password needed
    with pytest.raises(ConfigError, match=r"^config.toml: email.password: environment variable "
                                          r"TEST_SMTP_PASSWORD is not set; export it or drop --email$"):
        config.email.password()
    monkeypatch.setenv("TEST_SMTP_PASSWORD", "hunter2")
    assert config.email.password() == "hunter2" and "hunter2" in config.secrets()


@pytest.mark.parametrize("extra, message", [
    (EMAIL.replace('password = "${TEST_SMTP_PASSWORD}"', 'password = "hunter2"'),
     'config.toml: email.password: write it as "${VAR}" and export VAR: a password is never kept in the file'),
    (EMAIL.replace('username = "reconcile"\n', ""), "config.toml: email.password: a password needs a username"),
    (EMAIL.replace('to = ["retention@example.com", "ops@example.com"]', 'to = "retention@example.com"'),
     'config.toml: email.to: expected a non-empty list of addresses, got "retention@example.com"'),
    (EMAIL.replace('"ops@example.com"', '"ops at example"'),
     'config.toml: email.to[1]: expected an email address like team@example.com, got "ops at example"'),
    (EMAIL + 'send = "sometimes"\n',
     "config.toml: email.send: expected one of 'always', 'on_failure', got \"sometimes\""),
    (EMAIL + "ssl = true\nstarttls = true\n",
     "config.toml: email.starttls: ssl and starttls exclude each other: ssl is TLS from the start (port 465), "
     "starttls upgrades a plain connection (port 587)"),
    (EMAIL + 'mask_emails = "yes"\n', 'config.toml: email.mask_emails: expected true or false, got "yes"'),
    (EMAIL + "smtp_prot = 25\n", "config.toml: email.smtp_prot: unknown key (allowed: from, mask_emails, password, "
     "send, smtp_host, smtp_port, ssl, starttls, subject_prefix, timeout_seconds, to, username)"),
    ("[history]\nkeep_runs = -1\n", "config.toml: history.keep_runs: expected 0 (keep every run) or a positive integer, got -1"),
    ("[history]\ntrend_runs = 0\n", "config.toml: history.trend_runs: expected a positive integer, got 0"),
    ("[history]\nkeep = 5\n", "config.toml: history.keep: unknown key (allowed: keep_runs, trend_runs)"),
])
def test_mistakes_are_one_line(extra, message):
    assert error(extra) == message
