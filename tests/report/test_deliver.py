"""Email through a real SMTP server: subject, recipients, body size, attachments, failures."""

from __future__ import annotations

import gzip

import pytest

from reconcile.config import EmailConfig
from reconcile.deliver import COMPRESS_ABOVE, send_report
from reconcile.errors import DeliveryError
from reconcile.report.history import History
from reconcile.report import EMAIL_BODY_LIMIT, write_outputs

from built_runs import Spec, make_run, standard_specs, weekly
from smtp import free_port, smtp_server
from built_runs import EXTERNAL

pytestmark = pytest.mark.filterwarnings("ignore:Requiring AUTH while not requiring TLS")

PASSWORD = "s3cret-smtp-password"


def settings(port: int, **changes) -> EmailConfig:
    values = dict(smtp_host="127.0.0.1", smtp_port=port, starttls=False, sender="reconcile@shop.example",
                  to=("retention@shop.example", "ops@shop.example"), subject_prefix="[reconcile]")
    values.update(changes)
    return EmailConfig(**values)


@pytest.fixture
def written(tmp_path):
    run = make_run(standard_specs()[:4], weekly(21))
    history = History(tmp_path / "reports", "config-a")
    return run, write_outputs(run, tmp_path / "reports" / "20261121T090000Z", history=history), history


def test_round_trip_subject_recipients_body_and_attachments(written):
    run, folder, history = written
    with smtp_server() as (mailbox, port):
        delivery = send_report(run, folder, settings(port), history.context(run))
    assert delivery.sent and len(mailbox.messages) == 1
    received = mailbox.messages[0]
    assert received.mail_from == "reconcile@shop.example"
    assert received.rcpt_tos == ["retention@shop.example", "ops@shop.example"]
    message = received.message
    assert message["Subject"] == "[reconcile] FAIL: 2 of 4 segments out of tolerance, 1 critical"
    assert message["To"] == "retention@shop.example, ops@shop.example"
    assert message["Auto-Submitted"] == "auto-generated"
    html = message.get_body(preferencelist=("html",)).get_content()       # as received: CRLF line ends
    assert len(html.encode("utf-8")) == delivery.body_bytes <= EMAIL_BODY_LIMIT
    assert not EXTERNAL.search(html) and "<style" not in html
    assert "FAIL: 2 of 4 segments out of tolerance, 1 critical" in html
    text = message.get_body(preferencelist=("plain",)).get_content()
    assert text.splitlines()[0] == "FAIL: 2 of 4 segments out of tolerance, 1 critical"
    attached = {part.get_filename(): part.get_content() for part in message.iter_attachments()}
    assert set(attached) == {"report.html", "discrepancies.csv"} == set(delivery.attachments)
    assert attached["report.html"] == (folder / "report.html").read_text()
    assert attached["discrepancies.csv"].encode() == (folder / "discrepancies.csv").read_bytes()


def test_large_attachments_travel_gzipped(tmp_path):
    run = make_run([Spec("everyone", 200_000, 15_000, 5_000)], weekly(21))
    folder = write_outputs(run, tmp_path / "run")
    assert (folder / "discrepancies.csv").stat().st_size > COMPRESS_ABOVE
    with smtp_server() as (mailbox, port):
        send_report(run, folder, settings(port))   # (mask_emails keeps discrepancies.csv home: test_no_leaks.py)
    message = mailbox.messages[0].message
    parts = {part.get_filename(): part for part in message.iter_attachments()}
    assert set(parts) == {"report.html", "discrepancies.csv.gz"}
    assert parts["discrepancies.csv.gz"].get_content_type() == "application/gzip"
    assert gzip.decompress(parts["discrepancies.csv.gz"].get_content()) == (folder / "discrepancies.csv").read_bytes()
    html = message.get_body(preferencelist=("html",)).get_content()
    assert len(html.encode("utf-8")) <= EMAIL_BODY_LIMIT


def test_login_with_the_password_from_the_environment(written, monkeypatch):
    run, folder, _ = written
    monkeypatch.setenv("SMTP_PASSWORD", PASSWORD)
    with smtp_server("reconcile", PASSWORD) as (mailbox, port):
        send_report(run, folder, settings(port, username="reconcile", password_variable="SMTP_PASSWORD"))
    assert len(mailbox.messages) == 1


def test_refused_login_is_one_line_without_the_password(written, monkeypatch):
    run, folder, _ = written
    monkeypatch.setenv("SMTP_PASSWORD", PASSWORD)
    with smtp_server("reconcile", "another-password") as (mailbox, port):
        with pytest.raises(DeliveryError) as caught:
            send_report(run, folder, settings(port, username="reconcile", password_variable="SMTP_PASSWORD"))
    message = str(caught.value)
    assert message == (f"the report is in {folder} but could not be emailed via 127.0.0.1:{port}: login refused "
                       "for reconcile (535); check email.username and the password variable")
    assert PASSWORD not in message and mailbox.messages == []


def test_unreachable_server_and_missing_starttls(written):
    run, folder, _ = written
    port = free_port()
    with pytest.raises(DeliveryError, match=r"could not be emailed via 127\.0\.0\.1:\d+: connection refused"):
        send_report(run, folder, settings(port))
    with smtp_server() as (mailbox, port):
        with pytest.raises(DeliveryError, match="the server does not offer STARTTLS"):
            send_report(run, folder, settings(port, starttls=True))
    assert (folder / "report.html").exists()


def test_on_failure_sends_only_when_the_run_did_not_pass(tmp_path):
    passing = make_run([Spec("a", 100, 0, 0)], weekly(21))
    folder = write_outputs(passing, tmp_path / "run")
    with smtp_server() as (mailbox, port):
        delivery = send_report(passing, folder, settings(port, send="on_failure"))
        assert not delivery.sent and mailbox.messages == []
        send_report(passing, folder, settings(port, send="always"))
    assert mailbox.messages[0].message["Subject"] == "[reconcile] PASS: the segment is within tolerance"
