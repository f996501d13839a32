"""Atomic runs: a run interrupted while it writes leaves nothing that looks like a finished report,
and the history of earlier runs stays readable, whatever stopped it (an exception in the
report, Ctrl-C, or the process killed outright)."""

from __future__ import annotations

import json
import os
import signal
import stat
import subprocess
import sys
from pathlib import Path

import pytest

import reconcile.report.files
from reconcile.cli import main
from reconcile.report.history import History, history_key

from known_stage import fast_retries, sandbox, stage, write_config  # noqa: F401 (fixtures)

pytestmark = pytest.mark.usefixtures("fast_retries")

STOPPED_WHILE_WRITING = """
import os, signal, sys
import reconcile.report.files

SIGNAL = getattr(signal, sys.argv.pop(1))

def stopped(*args, **kwargs):   # the report's folder is being written: a real signal arrives now
    os.kill(os.getpid(), SIGNAL)

reconcile.report.files.render_html = stopped
from reconcile.cli import main
sys.exit(main(sys.argv[1:]))
"""


def stopped_while_writing(tmp_path: Path, signal_name: str, *argv: str) -> subprocess.CompletedProcess:
    script = tmp_path / "stopped.py"
    script.write_text(STOPPED_WHILE_WRITING)
    return subprocess.run([sys.executable, str(script), signal_name, *argv], capture_output=True, text=True,
                          timeout=120, env={**os.environ, "PYTHONPATH": str(Path(reconcile.report.files.__file__).parents[2])})


@pytest.fixture
def project(stage, sandbox, tmp_path, capsys):
    """A config whose reports/ already holds one finished run ("first")."""
    config = write_config(tmp_path, stage[0], sandbox.url)
    assert main(["run", "--config", str(config), "--out", str(tmp_path / "reports" / "first"), "--quiet"]) == 0
    capsys.readouterr()
    return config, tmp_path / "reports"


def assert_history_intact(config: Path, reports: Path, finished: list[str]) -> None:
    """Only finished runs have a visible folder, and the history reads exactly them."""
    visible = sorted(p.name for p in reports.iterdir() if not p.name.startswith("."))
    assert visible == sorted(finished)
    runs = History(reports, history_key(config)).runs()
    assert sorted(run.folder.name for run in runs) == sorted(finished)
    for run in runs:
        assert json.loads((run.folder / "results.json").read_text())["status"] == "pass"
        assert (run.folder / "report.html").exists()


@pytest.mark.parametrize("signal_name, code", [("SIGINT", 130), ("SIGTERM", 143)])
def test_a_signal_while_writing_exits_128_plus_it_and_leaves_no_folder(project, tmp_path, signal_name, code):
    config, reports = project
    done = stopped_while_writing(tmp_path, signal_name, "run", "--config", str(config), "--out", str(reports / "second"))
    assert done.returncode == code
    assert done.stderr == f"reconcile: stopped by {signal_name}; the unfinished run left no report\n"
    assert sorted(p.name for p in reports.iterdir()) == ["first"]          # no partial folder either
    assert_history_intact(config, reports, ["first"])


def test_a_process_killed_while_writing_leaves_a_hidden_folder_the_next_run_removes(project, tmp_path, capsys):
    config, reports = project
    done = stopped_while_writing(tmp_path, "SIGKILL", "run", "--config", str(config), "--out", str(reports / "second"))
    assert done.returncode == -signal.SIGKILL
    leftovers = [p for p in reports.iterdir() if p.name != "first"]
    assert [p.name.startswith(".second.partial-") for p in leftovers] == [True]   # hidden, named as unfinished
    assert stat.S_IMODE(leftovers[0].stat().st_mode) == 0o700                      # personal data: owner only
    assert_history_intact(config, reports, ["first"])
    assert main(["history", "--config", str(config), "--reports", str(reports)]) == 0
    assert "first" in capsys.readouterr().out
    # the next run removes it (its process is gone) and completes; the history then holds both
    assert main(["run", "--config", str(config), "--out", str(reports / "second"), "--quiet"]) == 0
    assert sorted(p.name for p in reports.iterdir()) == ["first", "second"]
    assert_history_intact(config, reports, ["first", "second"])


def test_a_half_deleted_old_run_does_not_break_the_history(project, capsys):
    """Retention deletes old folders with rmtree; killed half-way, a folder may have lost some files."""
    config, reports = project
    assert main(["run", "--config", str(config), "--out", str(reports / "second"), "--quiet"]) == 0
    (reports / "first" / "results.json").unlink()                   # what a killed rmtree can leave behind
    (reports / "second" / "discrepancies.csv").unlink()
    runs = History(reports, history_key(config)).runs()
    assert [run.folder.name for run in runs] == ["second"]
    assert main(["run", "--config", str(config), "--out", str(reports / "third"), "--quiet"]) == 0
    assert main(["history", "--config", str(config), "--reports", str(reports)]) == 0
    assert "Traceback" not in capsys.readouterr().err
