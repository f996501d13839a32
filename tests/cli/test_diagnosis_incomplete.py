"""A diagnosis that could not run is visible (issue 14, point 7), on SQLite, PostgreSQL and MariaDB:
results.json says ``diagnosis_complete: false`` with the reason, the verdict line and the email
subject say "diagnosis incomplete", and ``--quiet`` (cron) still prints it."""

from __future__ import annotations

import json

import pytest

from reconcile.cli import main

from known_buyers import AS_OF, CONFIG, RECENT, base, buyer, fill_shop, profile, served
from smtp import smtp_server

BROKEN = CONFIG.replace("FROM customers\nWHERE CAST", "FROM no_such_table\nWHERE CAST").replace(
    "tolerance = 0.5", "tolerance = 0.1")
EMAIL = ('\n[email]\nsmtp_host = "127.0.0.1"\nsmtp_port = {port}\nstarttls = false\n'
         'from = "reconcile@shop.example"\nto = ["retention@shop.example"]\n')


@pytest.mark.filterwarnings("ignore:Requiring AUTH while not requiring TLS")
def test_a_lookup_that_fails_is_on_the_verdict_the_subject_and_quiet_output(any_db_url, tmp_path, capsys):
    rows, people = base()
    fill_shop(any_db_url, rows + [buyer(RECENT)])
    with served(people + [profile(RECENT)]) as sandbox, smtp_server() as (mailbox, port):
        config = tmp_path / "config.toml"
        config.write_text(BROKEN.format(url=any_db_url, base_url=sandbox.url) + EMAIL.format(port=port))
        code = main(["run", "--config", str(config), "--out", str(tmp_path / "out"), "--as-of", AS_OF.isoformat(),
                     "--email", "--quiet"])
    out, err = capsys.readouterr()
    assert code == 1                                      # 1 of 4 differs (25 %): the comparison stands
    [segment] = json.loads((tmp_path / "out" / "results.json").read_text())["segments"]
    assert segment["diagnosis_complete"] is False and "causes" not in segment
    assert segment["diagnosis_error"].startswith("the diagnosis lookup_sql failed: ")
    assert out == "FAIL: 1 of 1 segment out of tolerance, diagnosis incomplete\n"       # --quiet: the verdict line
    # and, on standard error (which the cron recipe keeps), why
    assert err == f"reconcile: warning: segment buyers: diagnosis incomplete: {segment['diagnosis_error']}\n"
    assert mailbox.messages[0].message["Subject"].strip() == "[reconcile] FAIL: 1 of 1 segment out of tolerance, diagnosis incomplete"


def run(url: str, text: str, tmp_path, *args: str) -> int:
    """``reconcile run`` on the three buyers and one who differs, with this config."""
    rows, people = base()
    fill_shop(url, rows + [buyer(RECENT)])
    with served(people + [profile(RECENT)]) as sandbox:
        config = tmp_path / "config.toml"
        config.write_text(text.format(url=url, base_url=sandbox.url))
        return main(["run", "--config", str(config), "--out", str(tmp_path / "out"), "--as-of", AS_OF.isoformat(),
                     *args])


def test_a_complete_diagnosis_says_so(any_db_url, tmp_path, capsys):
    assert run(any_db_url, CONFIG, tmp_path, "--quiet") == 0
    [segment] = json.loads((tmp_path / "out" / "results.json").read_text())["segments"]
    assert (segment["diagnosis_complete"], segment["diagnosis_error"]) == (True, None)
    assert capsys.readouterr() == ("PASS: the segment is within tolerance\n", "")


def test_the_summary_and_the_report_say_it(tmp_path, capsys, sqlite_url):
    assert run(sqlite_url, BROKEN, tmp_path) == 1
    last = capsys.readouterr().out.splitlines()[-1]
    assert last.startswith("FAIL: 1 failed, 0 could not be compared, 0 passed, diagnosis incomplete; report: ")
    assert "FAIL: 1 of 1 segment out of tolerance, diagnosis incomplete" in (tmp_path / "out" / "report.html").read_text()
