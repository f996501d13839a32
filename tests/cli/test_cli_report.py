"""The command line end to end on the demo shop and the sandbox over real HTTP: the pre-launch
gate (`check`), `run --email` through a real SMTP server, exit 4, `history`, and two demo runs
whose second report shows the trend and "new since last run"."""

from __future__ import annotations

import json
import re
from datetime import datetime, timedelta, timezone
from importlib import resources

import pandas as pd
import pytest

from reconcile.cli import main
from reconcile.demo import build_demo
from reconcile.report.history import History, history_key
from reconcile.report import EMAIL_BODY_LIMIT, body_size
from reconcile.sandbox import Sandbox, Workspace

from smtp import free_port, smtp_server
from demo_project import email_section, write_config
from built_runs import EXTERNAL

AS_OF = datetime(2026, 11, 23, 9, 0, tzinfo=timezone.utc)
SEGMENT = "purchased_30d_email_consent"


@pytest.fixture(scope="module")
def shop(tmp_path_factory):
    """The demo shop in SQLite and its drifted workspace served by the sandbox: (database URL, API URL)."""
    folder = tmp_path_factory.mktemp("shop")
    url = f"sqlite:///{folder / 'shop.db'}"
    demo = build_demo(url, as_of=AS_OF, seed=7, customers=1500)
    with Sandbox(Workspace.from_dict(demo.workspace), api_key=demo.api_key) as sandbox:
        yield url, sandbox.url, demo.api_key


def test_check_json_is_the_results_on_stdout(shop, tmp_path, capsys):
    config = write_config(tmp_path, shop)
    code = main(["check", SEGMENT, "--config", str(config), "--as-of", AS_OF.isoformat(), "--json"])
    out, err = capsys.readouterr()
    results = json.loads(out)
    assert [s["name"] for s in results["segments"]] == [SEGMENT]
    segment = results["segments"][0]
    assert segment["missing_in_customerio"] + segment["extra_in_customerio"] > 0
    assert code == {"pass": 0, "fail": 1, "error": 3}[results["status"]] == 1
    assert results["as_of"] == AS_OF.isoformat() and err == ""
    assert not (tmp_path / "reports").exists()                    # the gate writes files only with --out


def test_check_screen_and_exit_codes(shop, tmp_path, capsys):
    config = write_config(tmp_path, shop)
    code = main(["check", SEGMENT, "--config", str(config), "--as-of", AS_OF.isoformat()])
    out = capsys.readouterr().out
    assert code == 1 and out.startswith("FAIL   Purchased in the last 30 days with email consent\n")
    assert "Do not launch" in out and out.rstrip().splitlines()[-1].startswith("FAIL: 1 of 1 segment out of tolerance")
    assert len(out.splitlines()) <= 30
    assert main(["check", "no_such_segment", "--config", str(config)]) == 2
    assert 'no segment named "no_such_segment"' in capsys.readouterr().err


def test_run_email_round_trip(shop, tmp_path, capsys):
    with smtp_server() as (mailbox, port):
        config = write_config(tmp_path, shop, email_section(port))
        out_dir = tmp_path / "reports" / "weekly"
        code = main(["run", "--config", str(config), "--as-of", AS_OF.isoformat(), "--email", "--out", str(out_dir)])
    out = capsys.readouterr().out
    assert code == 1
    assert re.search(r"^emailed to retention@shop\.example \([\d,]+ bytes of body, 3 attachments\)$", out, re.M)
    message = mailbox.messages[0].message
    results = json.loads((out_dir / "results.json").read_text())
    failed = sum(1 for s in results["segments"] if s["status"] == "fail")
    assert message["Subject"].startswith(f"[reconcile] FAIL: {failed} of {len(results['segments'])} segments out of tolerance")
    html = message.get_body(preferencelist=("html",)).get_content()
    assert body_size(html) <= EMAIL_BODY_LIMIT and not EXTERNAL.search(html)
    assert {p.get_filename() for p in message.iter_attachments()} == {"report.html", "discrepancies.csv",
                                                                      "purchase_discrepancies.csv"}
    assert results["history_key"] == history_key(config)


def test_a_failed_send_keeps_the_report_and_exits_4(shop, tmp_path, capsys, monkeypatch):
    monkeypatch.setenv("TEST_SMTP_PASSWORD", "pw-that-must-not-leak")
    port = free_port()
    section = email_section(port) + 'username = "reconcile"\npassword = "${TEST_SMTP_PASSWORD}"\n'
    config = write_config(tmp_path, shop, section)
    out_dir = tmp_path / "reports" / "weekly"
    code = main(["run", "--config", str(config), "--as-of", AS_OF.isoformat(), "--email", "--quiet", "--out", str(out_dir)])
    out, err = capsys.readouterr()
    assert code == 4 and re.fullmatch(r"FAIL: [^\n]+\n", out)          # --quiet: the verdict, then the error
    assert err == (f"reconcile: error: the report is in {out_dir} but could not be emailed via 127.0.0.1:{port}: "
                   "connection refused; check email.smtp_host and email.smtp_port\n")
    assert "pw-that-must-not-leak" not in err
    assert {p.name for p in out_dir.iterdir()} >= {"report.html", "results.json", "discrepancies.csv"}


def test_email_needs_its_section_and_password_before_the_audit(shop, tmp_path, capsys, monkeypatch):
    config = write_config(tmp_path, shop)
    assert main(["run", "--config", str(config), "--email"]) == 2
    assert capsys.readouterr().err == ('reconcile: error: --email needs an [email] section in config.toml '
                                       '(see the README, "Email")\n')
    monkeypatch.delenv("TEST_SMTP_PASSWORD", raising=False)
    config = write_config(tmp_path, shop, email_section(25) + 'username = "u"\npassword = "${TEST_SMTP_PASSWORD}"\n')
    assert main(["run", "--config", str(config), "--email"]) == 2
    assert "email.password: environment variable TEST_SMTP_PASSWORD is not set" in capsys.readouterr().err
    assert not (tmp_path / "reports").exists()                      # nothing ran


def test_on_failure_and_quiet_and_history(shop, tmp_path, capsys):
    with smtp_server() as (mailbox, port):
        config = write_config(tmp_path, shop, email_section(port, send="on_failure"))
        for days in (0, 7):
            as_of = (AS_OF + timedelta(days=days)).isoformat()
            assert main(["run", "--config", str(config), "--as-of", as_of, "--email", "--quiet"]) == 1
    out, err = capsys.readouterr()                                  # --quiet: errors and the verdict only
    assert err == "" and re.fullmatch(r"(FAIL: [^\n]+\n){2}", out)
    assert len(mailbox.messages) == 2                               # FAIL: sent on_failure
    assert main(["history", "--config", str(config), "--segment", SEGMENT]) == 0
    table = capsys.readouterr().out.splitlines()
    assert table[0].startswith(f"2 runs of this config kept in {tmp_path / 'reports'} (keep_runs = 52)")
    assert table[2] == f"{SEGMENT}  (tolerance 1.0 %)"
    assert [line.split()[0] for line in table[4:]] == ["2026-11-23", "2026-11-30"]


def test_two_demo_runs_show_a_trend_and_new_since_last_run(tmp_path, capsys):
    reports = tmp_path / "reports"
    first, second = reports / "first", reports / "second"
    assert main(["demo", "--seed", "7", "--customers", "1500", "--as-of", AS_OF.isoformat(), "--out", str(first)]) == 1
    assert main(["demo", "--seed", "8", "--customers", "1500", "--as-of", (AS_OF + timedelta(days=7)).isoformat(),
                 "--out", str(second)]) == 1
    capsys.readouterr()
    html = (second / "report.html").read_text()
    assert "compared with 1 earlier run of this config" in html
    assert html.count("Mismatch over the last 2 runs") == len(json.loads((second / "results.json").read_text())["segments"])
    # "new since last run" in the report equals the set difference of the two discrepancies.csv
    people = {name: pd.read_csv(folder / "discrepancies.csv", dtype=str, keep_default_na=False)
              for name, folder in (("first", first), ("second", second))}
    def keys(frame):
        frame = frame[frame["segment"] == SEGMENT]
        return set(zip(frame["side"], frame["id"], frame["email"], frame["cio_id"]))
    new, gone = keys(people["second"]) - keys(people["first"]), keys(people["first"]) - keys(people["second"])
    assert new and gone
    card = html[html.index(f'id="segment-{SEGMENT}"'):]
    card = card[:card.index('<div class="card"', 10)]
    assert (f"{len(new):,} {'person differs' if len(new) == 1 else 'people differ'} now who did not on "
            f"{AS_OF:%Y-%m-%d}; {len(gone):,} who differed then no longer") in card
    assert json.loads((second / "results.json").read_text())["history_key"] == "demo"
    assert [r.folder.name for r in History(reports, "demo").runs()] == ["first", "second"]


def test_demo_email_through_a_configs_email_section(shop, tmp_path, capsys):
    with smtp_server() as (mailbox, port):
        config = write_config(tmp_path, shop, email_section(port))
        code = main(["demo", "--customers", "1500", "--as-of", AS_OF.isoformat(), "--email", "--config", str(config),
                     "--out", str(tmp_path / "reports" / "demo")])
    assert code == 1 and len(mailbox.messages) == 1
    message = mailbox.messages[0].message
    assert message["Subject"].startswith("[reconcile] FAIL: ")
    assert body_size(message.get_body(preferencelist=("html",)).get_content()) <= EMAIL_BODY_LIMIT


def test_progress_on_a_real_run(shop, tmp_path):
    import io

    from rich.console import Console

    from reconcile.audit import run_audit
    from reconcile.config import load_config
    from reconcile.cli.screens import progress_display

    screen = io.StringIO()
    console = Console(file=screen, force_terminal=True, width=150, color_system=None)
    with progress_display(True, console=console) as progress:
        run = run_audit(load_config(write_config(tmp_path, shop)), as_of=AS_OF, segments=[SEGMENT], progress=progress)
    shown = screen.getvalue()
    segment = run.segments[0]
    assert f"{segment.truth_rows:,} shop rows read" in shown
    assert f"Customer.io page {segment.pages:,} ({segment.customerio_profiles:,} members)" in shown
    assert f"FAIL {SEGMENT}  " in shown


def test_history_and_demo_usage_errors(tmp_path, capsys):
    config = tmp_path / "config.toml"
    config.write_text(resources.files("reconcile.demo").joinpath("config.toml").read_text(encoding="utf-8"))
    assert main(["history", "--config", str(config), "--last", "0"]) == 2
    assert capsys.readouterr().err == "reconcile: error: --last must be a positive number of runs\n"
    assert main(["history", "--config", str(config)]) == 0
    assert capsys.readouterr().out == f"No runs of this config in {tmp_path / 'reports'} yet: `reconcile run` keeps each run there.\n"
    assert main(["demo", "--config", str(config)]) == 2
    assert capsys.readouterr().err == ("reconcile: error: demo uses --config only for its delivery sections, "
                                       "with --email, --slack or --webhook\n")
