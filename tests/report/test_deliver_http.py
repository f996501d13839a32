"""Slack and webhooks, against a real HTTP receiver on loopback: what is posted, Slack's size
limits, the same send policy and exit 4 as email, a 500, a timeout and a redirect, and no
secret (the webhook URLs) in any output."""

from __future__ import annotations

import json
import socket
from datetime import datetime, timezone

import jsonschema
import pytest

from reconcile.cli import main
from reconcile.config import SlackConfig, WebhookConfig
from reconcile.deliver import Channels, deliver
from reconcile.deliver.slack import MAX_BLOCKS, MAX_HEADER, MAX_SECTION, message
from reconcile.deliver.webhook import schema, summary
from reconcile.errors import DeliveryError
from reconcile.report import write_outputs

from receiver import receiver
from built_runs import Spec, make_run, standard_specs, weekly
from demo_project import served_demo_shop, write_config

AS_OF = datetime(2026, 11, 23, 9, 0, tzinfo=timezone.utc)
SEGMENT = "purchased_30d_email_consent"


@pytest.fixture(scope="module")
def shop(tmp_path_factory):
    with served_demo_shop(tmp_path_factory.mktemp("shop"), AS_OF) as served:
        yield served


SECRET_PATH = "/services/T0SECRET/B0SECRET/xoxSECRETtoken"


@pytest.fixture
def written(tmp_path):
    run = make_run(standard_specs()[:4], weekly(21))
    return run, write_outputs(run, tmp_path / "reports" / "20261121T090000Z")


def slack(url: str, **changes) -> SlackConfig:
    return SlackConfig(**{"webhook_variable": "TEST_SLACK_URL", "timeout_seconds": 1.0, **changes})


def test_slack_gets_the_verdict_the_worst_problem_each_segment_and_the_report(written, monkeypatch):
    run, folder = written
    with receiver() as (base, posted):
        monkeypatch.setenv("TEST_SLACK_URL", base + "/ok" + SECRET_PATH)
        [delivery] = deliver(run, folder, Channels(slack=slack(base)))
    assert delivery.sent and delivery.summary == f"posted to Slack ({base})"
    [request] = posted
    assert request.path == "/ok" + SECRET_PATH and request.headers["Content-Type"].startswith("application/json")
    document = request.json
    assert document["text"] == "FAIL: 2 of 4 segments out of tolerance, 1 critical"
    blocks = document["blocks"]
    assert blocks[0] == {"type": "header", "text": {"type": "plain_text",
                                                    "text": "reconcile FAIL: 2 of 4 segments out of tolerance, 1 critical"}}
    assert blocks[1]["text"]["text"] == "*Worst problem:* critical: consent_mismatch (77 in purchased_30d_email_consent)"
    lines = blocks[2]["text"]["text"].splitlines()
    assert len(lines) == 4 and lines[0] == (":x: *purchased_30d_email_consent*: 3.1 % mismatch (tolerance 1.0 %), "
                                            "300 missing, 85 extra")
    assert lines[2].startswith(":white_check_mark: *lapsed_90d_winback*: 0.3 % mismatch")
    assert str(folder / "report.html") in blocks[-1]["elements"][0]["text"]
    assert socket.gethostname() in blocks[-1]["elements"][0]["text"]


def test_slack_stays_within_its_limits_on_a_huge_run(tmp_path):
    specs = [Spec(f"segment_{i:04d}_" + "x" * 120, 1000, 50, 50) for i in range(600)]
    specs[0].title = "<!channel> & friends"
    run = make_run(specs, weekly(21))
    document = message(run, tmp_path / ("deep/" * 200))
    blocks = document["blocks"]
    assert len(blocks) <= MAX_BLOCKS
    assert len(blocks[0]["text"]["text"]) <= MAX_HEADER
    texts = [b["text"]["text"] for b in blocks if b["type"] == "section"]
    footer = [e["text"] for b in blocks if b["type"] == "context" for e in b["elements"]]
    assert max(len(t) for t in texts + footer) <= MAX_SECTION
    shown = sum(t.count("\n:x:") + t.startswith(":x:") for t in texts)
    assert 0 < shown < 600 and texts[-1].endswith(f"… and {600 - shown:,} more segments in the report")
    assert "<!channel>" not in json.dumps(document)
    assert len(json.dumps(document)) < 150_000


def test_the_webhook_gets_the_summary_its_schema_documents(written):
    run, folder = written
    with receiver() as (base, posted):
        [delivery] = deliver(run, folder, Channels(webhook=WebhookConfig(url=base + "/ok/hook?token=abc")))
    assert delivery.sent and delivery.summary == f"posted the summary to {base}"
    document = posted[0].json
    jsonschema.validate(document, schema())
    assert document == json.loads(json.dumps(summary(run, folder)))
    assert document["status"] == "fail" and document["schema_version"] == 1
    assert [s["name"] for s in document["segments"]] == [s.name for s in run.segments]
    assert document["segments"][0]["missing_in_customerio"] == 300 and document["segments"][0]["mismatch_rate"] == 385 / 12408


@pytest.mark.parametrize("route, reason", [
    ("fail", "answered 500 Internal Server Error (server exploded)"),
    ("slow", "no answer within 1 s"),
    ("moved", "answered 302 Found, a redirect, which is not followed (it would carry the message elsewhere); "
              "check the URL"),
])
def test_a_failed_post_is_one_line_per_channel_and_every_channel_is_tried(written, monkeypatch, route, reason):
    run, folder = written
    with receiver() as (base, posted):
        monkeypatch.setenv("TEST_SLACK_URL", f"{base}/{route}{SECRET_PATH}")
        channels = Channels(slack=slack(base), webhook=WebhookConfig(url=f"{base}/{route}{SECRET_PATH}", timeout_seconds=1))
        with pytest.raises(DeliveryError) as caught:
            deliver(run, folder, channels)
    assert str(caught.value).splitlines() == [
        f"the report is in {folder} but could not be posted to Slack ({base}): {reason}",
        f"the report is in {folder} but could not be posted to the webhook ({base}): {reason}"]
    assert caught.value.exit_code == 4 and len(posted) == 2          # both tried; the redirect not followed
    assert "SECRET" not in str(caught.value)


def test_on_failure_sends_only_when_the_run_did_not_pass(tmp_path, monkeypatch):
    passing = make_run([Spec("fine", 1000, 1, 1)], weekly(21))
    folder = write_outputs(passing, tmp_path / "run")
    with receiver() as (base, posted):
        monkeypatch.setenv("TEST_SLACK_URL", base + "/ok")
        done = deliver(passing, folder, Channels(slack=slack(base, send="on_failure"),
                                                 webhook=WebhookConfig(url=base + "/ok", send="on_failure")))
    assert posted == [] and [d.sent for d in done] == [False, False]
    assert done[0].summary == 'not sent to slack: the run passed and slack.send = "on_failure"'


def test_the_command_line_posts_and_exits_4_when_a_post_fails(shop, tmp_path, capsys, monkeypatch):
    with receiver() as (base, posted):
        monkeypatch.setenv("TEST_SLACK_URL", base + "/ok" + SECRET_PATH)
        sections = (f'\n[slack]\nwebhook_url = "${{TEST_SLACK_URL}}"\n'
                    f'\n[webhook]\nurl = "{base}/fail{SECRET_PATH}"\ntimeout_seconds = 2\n')
        config = write_config(tmp_path, shop, sections)
        out_dir = tmp_path / "reports" / "weekly"
        code = main(["run", "--config", str(config), "--segment", SEGMENT, "--out", str(out_dir), "--slack", "--webhook"])
    out, err = capsys.readouterr()
    assert code == 4
    assert [p.path for p in posted] == ["/ok" + SECRET_PATH, "/fail" + SECRET_PATH]
    assert out.splitlines()[-1] == f"posted to Slack ({base})"
    assert err == (f"reconcile: error: the report is in {out_dir} but could not be posted to the webhook ({base}): "
                   "answered 500 Internal Server Error (server exploded)\n")
    assert "SECRET" not in out + err and (out_dir / "report.html").exists()
    results = (out_dir / "results.json").read_text()
    assert "SECRET" not in results


def test_slack_needs_its_section_and_variable_before_the_audit(shop, tmp_path, capsys, monkeypatch):
    config = write_config(tmp_path, shop)
    assert main(["run", "--config", str(config), "--slack"]) == 2
    assert capsys.readouterr().err == ('reconcile: error: --slack needs a [slack] section in config.toml '
                                       '(see the README, "Slack and webhooks")\n')
    monkeypatch.delenv("TEST_SLACK_URL", raising=False)
    config = write_config(tmp_path, shop, '\n[slack]\nwebhook_url = "${TEST_SLACK_URL}"\n')
    assert main(["run", "--config", str(config), "--slack"]) == 2
    assert capsys.readouterr().err == ("reconcile: error: config.toml: slack.webhook_url: environment variable "
                                       "TEST_SLACK_URL is not set; export it or drop --slack\n")
    assert not (tmp_path / "reports").exists()
