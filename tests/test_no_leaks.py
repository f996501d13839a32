"""No leaks: a full demo-like audit with real secrets, then every artefact searched for them.

The shop is the demo's, in MariaDB, read by a user created for the test with a password (and
dropped afterwards); the App API key and the SMTP password are distinctive strings that come
from the environment, as they would in production. One segment's API answer even echoes the
key back (servers do). The run emails its report through a real SMTP server that checks the
login, then ``history`` and ``check --json`` run on the same folder. Searched: stdout, stderr,
every log record (DEBUG and up, with tracebacks), every file the runs wrote (results.json,
discrepancies.csv, report.html, the history they form), and every part of the email, decoded.
"""

from __future__ import annotations

import logging
import os
import re
import stat
import uuid
from datetime import datetime, timezone

import pytest
from sqlalchemy import create_engine, text

from reconcile.cli import main
from reconcile.config import load_config
from reconcile.demo import build_demo
from reconcile.sandbox import Sandbox, Workspace

from conftest import MYSQL_ADMIN_URL
from smtp import smtp_server
from known_stage import fast_retries  # noqa: F401 (fixture)
from demo_project import write_config

pytestmark = [pytest.mark.usefixtures("fast_retries"),
              pytest.mark.filterwarnings("ignore:Requiring AUTH while not requiring TLS")]

API_KEY = "leak-canary-api-Vb6Nq1Xe"
DB_PASSWORD = "leak-canary-db-Pz4Kw7Ju"
SMTP_PASSWORD = "leak-canary-smtp-Tg2Hs9Lc"
SECRETS = (API_KEY, DB_PASSWORD, SMTP_PASSWORD)
AS_OF = datetime(2026, 11, 23, 9, 0, tzinfo=timezone.utc)
ADDRESS = re.compile(r"[A-Za-z0-9._%+'-]+@[A-Za-z0-9-]+(?:\.[A-Za-z0-9-]+)+")


@pytest.fixture
def shop_user(mysql_url):
    """(URL with ${RECONCILE_LEAK_DB_PASSWORD} for the password, the shop's emails) of a demo shop in MariaDB."""
    demo = build_demo(mysql_url, as_of=AS_OF, seed=11, customers=400)
    database = create_engine(mysql_url).url.database
    user = f"rl_{uuid.uuid4().hex[:10]}"
    admin = create_engine(MYSQL_ADMIN_URL, isolation_level="AUTOCOMMIT")
    hosts = ("localhost", "%")
    with admin.connect() as conn:
        for host in hosts:
            conn.execute(text(f"CREATE USER '{user}'@'{host}' IDENTIFIED BY :pw"), {"pw": DB_PASSWORD})
            conn.execute(text(f"GRANT SELECT ON `{database}`.* TO '{user}'@'{host}'"))
        emails = {row[0].strip().lower() for row in conn.execute(text(f"SELECT email FROM `{database}`.customers"))
                  if row[0]}
    try:
        yield (f"mysql+pymysql://{user}:${{RECONCILE_LEAK_DB_PASSWORD}}@127.0.0.1:3306/{database}", demo, emails)
    finally:
        with admin.connect() as conn:
            for host in hosts:
                conn.execute(text(f"DROP USER IF EXISTS '{user}'@'{host}'"))
        admin.dispose()


def email_section(port: int) -> str:
    return (f'\n[email]\nsmtp_host = "127.0.0.1"\nsmtp_port = {port}\nstarttls = false\n'
            'from = "reconcile@shop.example"\nto = ["retention@shop.example"]\nusername = "reconcile"\n'
            'password = "${RECONCILE_LEAK_SMTP_PASSWORD}"\nmask_emails = true\n')


def decoded_parts(message) -> list[str]:
    parts = [str(message)]
    for part in message.walk():
        payload = part.get_payload(decode=True)
        if payload:
            parts.append(payload.decode("utf-8", "replace"))
    return parts


def test_no_secret_in_any_artefact_of_a_full_audit(shop_user, tmp_path, capsys, caplog, monkeypatch):
    url, demo, shop_emails = shop_user
    monkeypatch.setenv("RECONCILE_LEAK_DB_PASSWORD", DB_PASSWORD)
    monkeypatch.setenv("RECONCILE_LEAK_API_KEY", API_KEY)
    monkeypatch.setenv("RECONCILE_LEAK_SMTP_PASSWORD", SMTP_PASSWORD)
    reports = tmp_path / "reports"
    with Sandbox(Workspace.from_dict(demo.workspace), api_key=API_KEY, rate_limit=None) as sandbox, \
            smtp_server("reconcile", SMTP_PASSWORD) as (mailbox, port), caplog.at_level(logging.DEBUG):
        sandbox.inject("status", path=r"/segments/15/membership$", status=400,
                       body={"errors": [{"detail": f"token {API_KEY} is not allowed here"}]})
        config = write_config(tmp_path / "project", (url, sandbox.url, "${RECONCILE_LEAK_API_KEY}"),
                              email_section(port))
        code = main(["run", "--config", str(config), "--as-of", AS_OF.isoformat(), "--email",
                     "--out", str(reports / "weekly")])
        assert main(["history", "--config", str(config), "--reports", str(reports)]) == 0
        assert main(["check", "purchased_30d_email_consent", "--config", str(config), "--as-of", AS_OF.isoformat(),
                     "--json", "--out", str(reports / "gate")]) == 1
    out, err = capsys.readouterr()
    assert code == 3                                       # segment 15 could not be compared; the rest could
    assert "sms_consent" in out and "Customer.io answered 400" in out and "token *** is not allowed here" in out
    assert len(mailbox.messages) == 1

    artefacts = {"stdout": out, "stderr": err, "log": caplog.text}
    for path in sorted(reports.rglob("*")):
        if path.is_file():
            artefacts[str(path.relative_to(reports))] = path.read_bytes().decode("utf-8", "replace")
    message = mailbox.messages[0].message
    for i, part in enumerate(decoded_parts(message)):
        artefacts[f"email part {i}"] = part
    assert {"weekly/results.json", "weekly/discrepancies.csv", "weekly/report.html", "gate/results.json"} <= set(artefacts)
    assert "GET /v1/segments/11/membership" in caplog.text                       # the log really was searched
    leaks = [(name, secret) for name, content in artefacts.items() for secret in SECRETS if secret in content]
    assert leaks == []

    for folder in (reports / "weekly", reports / "gate"):                        # personal data: owner only
        assert stat.S_IMODE(os.stat(folder).st_mode) == 0o700

    # mask_emails: neither the body nor any attachment carries a customer's address
    assert {p.get_filename() for p in message.iter_attachments()} == {"report.html"}
    emailed = "\n".join(decoded_parts(message))
    assert not {a.lower() for a in ADDRESS.findall(emailed)} & shop_emails
    assert "•••@" in emailed and "discrepancies.csv is not attached" in emailed
    on_disk = (reports / "weekly" / "discrepancies.csv").read_text()
    assert {a.lower() for a in ADDRESS.findall(on_disk)} & shop_emails          # the files on disk stay complete


def test_the_config_keeps_its_secrets_out_of_reprs(tmp_path, monkeypatch):
    """Config.secrets() lists what the leak search looks for; repr() of the config shows none of it."""
    url = "mysql+pymysql://shop:${RECONCILE_LEAK_DB_PASSWORD}@127.0.0.1:3306/shop"
    monkeypatch.setenv("RECONCILE_LEAK_DB_PASSWORD", DB_PASSWORD)
    monkeypatch.setenv("RECONCILE_LEAK_API_KEY", API_KEY)
    monkeypatch.setenv("RECONCILE_LEAK_SMTP_PASSWORD", SMTP_PASSWORD)
    config = load_config(write_config(tmp_path, (url, "http://127.0.0.1:9", "${RECONCILE_LEAK_API_KEY}"),
                                      email_section(25)))
    assert set(config.secrets()) == set(SECRETS)
    assert not any(secret in repr(config) for secret in SECRETS)
    assert config.database.masked_url == url.replace("${RECONCILE_LEAK_DB_PASSWORD}", "***")
