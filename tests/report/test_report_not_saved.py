"""A run whose folder cannot be written (a full disk, a read-only folder, a file size limit)
still delivers its verdict, leaves nothing half-written, and exits 3: never the verdict's code,
which a scheduler would count as a finished audit."""

from __future__ import annotations

import os
import resource
import subprocess
import sys
from pathlib import Path

import pytest

from reconcile.cli import main

from known_stage import FIRST_THREE, fast_retries, sandbox, stage, write_config  # noqa: F401 (fixtures)
from smtp import smtp_server

pytestmark = pytest.mark.usefixtures("fast_retries")


def email_section(port: int) -> str:
    return (f'\n[email]\nsmtp_host = "127.0.0.1"\nsmtp_port = {port}\nstarttls = false\nsend = "always"\n'
            'from = "reconcile@shop.example"\nto = ["retention@shop.example"]\n')


@pytest.fixture(params=["size=8k", "ro,size=8k"], ids=["full disk", "read-only"])
def unwritable_reports(request, tmp_path):
    """``tmp_path/reports`` on a real 8 KiB tmpfs, full after a few KiB, or mounted read-only."""
    reports = tmp_path / "reports"
    reports.mkdir()
    subprocess.run(["mount", "-t", "tmpfs", "-o", request.param, "tmpfs", str(reports)], check=True)
    yield reports, ("Read-only file system" if request.param.startswith("ro") else "No space left on device")
    subprocess.run(["umount", str(reports)], check=True)


def test_the_email_still_carries_the_verdict_and_the_run_exits_3(stage, sandbox, tmp_path, unwritable_reports, capsys):
    reports, why = unwritable_reports
    with smtp_server() as (mailbox, port):
        config = write_config(tmp_path, stage[0], sandbox.url, extra=email_section(port))
        code = main(["run", "--config", str(config), "--email", "--quiet"])       # the shipped cron line
    out, err = capsys.readouterr()
    assert code == 3                                    # the verdict is PASS (exit 0) only when it is kept
    assert out == "PASS: the segment is within tolerance\n"
    assert err.count("\n") == 1 and err.startswith(f"reconcile: error: the report could not be saved ({why}: ")
    assert "the run's verdict was PASS (the delivered message says so)" in err
    [received] = mailbox.messages
    message = received.message
    assert message["Subject"] == "[reconcile] PASS: the segment is within tolerance (report not saved)"
    text = message.get_body(preferencelist=("plain",)).get_content()
    assert f"The report could not be saved ({why}: " in text and "it is nowhere else" in text
    assert {p.get_filename() for p in message.iter_attachments()} == {"report.html", "discrepancies.csv"}
    assert os.listdir(reports) == []                   # nothing half-written, no hidden partial folder


def test_a_file_size_limit_turns_fail_into_3_and_leaves_nothing(stage, sandbox, tmp_path):
    """``ulimit -f``: a FAIL run (exit 1 if saved) that cannot save its report exits 3."""
    config = write_config(tmp_path, stage[0], sandbox.url, segment_id=FIRST_THREE)

    def limited() -> None:
        resource.setrlimit(resource.RLIMIT_FSIZE, (2048, 2048))
    done = subprocess.run([sys.executable, "-m", "reconcile", "run", "--config", str(config), "--quiet"],
                          capture_output=True, text=True, timeout=120, preexec_fn=limited,
                          env={**os.environ, "PYTHONPATH": str(Path(__file__).parents[2])})
    assert done.returncode == 3, done.stderr
    assert done.stdout.startswith("FAIL: 1 of 1 segment out of tolerance")
    assert done.stderr.count("\n") == 1 and "File too large" in done.stderr and "Traceback" not in done.stderr
    assert "the run's verdict was FAIL; free space or make the folder writable" in done.stderr
    assert [p.name for p in (tmp_path / "reports").iterdir()] == []


def test_the_gate_with_out_says_so_too(stage, sandbox, tmp_path, unwritable_reports, capsys):
    reports, why = unwritable_reports
    config = write_config(tmp_path, stage[0], sandbox.url)
    assert main(["check", "buyers", "--config", str(config), "--out", str(reports / "gate")]) == 3
    err = capsys.readouterr().err
    assert err.startswith(f"reconcile: error: the report could not be saved ({why}: ") and err.count("\n") == 1
    assert "the gate's verdict was PASS" in err
