"""Runs that overlap keep every report: a folder name is taken by the rename that publishes it,
retention renames before it deletes, and what an interrupted run or retention left behind is
removed by the next run (never a folder of a run still going)."""

from __future__ import annotations

import os
import subprocess
import sys
import threading
import time
from pathlib import Path


from reconcile.cli import main
from reconcile.report import History, history_key, write_outputs
from reconcile.report.files import remove_leftovers

from built_runs import make_run, standard_specs, weekly
from known_stage import fast_retries, sandbox, stage, write_config  # noqa: F401 (fixtures)

HERE = str(Path(__file__).parents[2])


def test_runs_wishing_for_one_folder_name_each_get_their_own(tmp_path):
    reports, wished = tmp_path / "reports", tmp_path / "reports" / "20261202T070000Z"
    runs = [make_run(standard_specs(1, 1.0), weekly(1)) for _ in range(12)]
    start, folders = threading.Barrier(len(runs)), []

    def write(run) -> None:
        start.wait()
        folders.append(write_outputs(run, wished, unique=True))
    threads = [threading.Thread(target=write, args=(run,)) for run in runs]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    names = sorted(folder.name for folder in folders)
    assert names == sorted(["20261202T070000Z"] + [f"20261202T070000Z-{n}" for n in range(2, 13)])
    assert sorted(p.name for p in reports.iterdir()) == names                  # and no partial folder left


def test_simultaneous_runs_of_one_config_keep_both_reports(stage, sandbox, tmp_path, capsys):
    config = write_config(tmp_path, stage[0], sandbox.url)
    command = [sys.executable, "-m", "reconcile", "run", "--config", str(config), "--quiet"]
    codes, errors = [], []
    for _ in range(3):                                        # pairs started together, as two cron entries are
        pair = [subprocess.Popen(command, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True,
                                 env={**os.environ, "PYTHONPATH": HERE}) for _ in range(2)]
        for process in pair:
            errors.append(process.communicate(timeout=120)[1])
            codes.append(process.returncode)
    assert codes == [0] * 6 and errors == [""] * 6
    kept = sorted(p.name for p in (tmp_path / "reports").iterdir())
    assert len(kept) == 6 and not [name for name in kept if name.startswith(".")]
    assert len(History(tmp_path / "reports", history_key(config)).runs()) == 6
    assert main(["history", "--config", str(config)]) == 0


def test_the_next_run_finishes_what_interrupted_runs_left(tmp_path):
    reports = tmp_path / "reports"
    finished = write_outputs(make_run(standard_specs(1, 1.0), weekly(1)), reports / "kept", history=History(reports, "k"))
    half_deleted = reports / ".deleting-old-4242"                     # retention killed half-way
    (half_deleted / "sub").mkdir(parents=True)
    (half_deleted / "results.json").write_text("{}")
    gone = subprocess.Popen([sys.executable, "-c", "pass"])
    gone.wait()                                                       # a pid that no longer runs
    dead = reports / f".run.partial-{gone.pid}-abc123"                # a run killed while writing
    alive = reports / f".other.partial-{os.getpid()}-def456"          # a run still writing (this process)
    for partial in (dead, alive):
        partial.mkdir()
        (partial / "discrepancies.csv").write_text("customer emails")
    time.sleep(0.05)
    removed = remove_leftovers(reports, started=time.time())
    assert sorted(p.name for p in removed) == sorted([half_deleted.name, dead.name])
    assert sorted(p.name for p in reports.iterdir()) == sorted([finished.name, alive.name])


def test_a_partial_folder_newer_than_the_run_is_never_touched(tmp_path):
    """A pid that is gone but a folder made after this run started: another machine's run on a
    shared folder, perhaps; only folders older than the run that cleans are abandoned."""
    gone = subprocess.Popen([sys.executable, "-c", "pass"])
    gone.wait()
    partial = tmp_path / f".run.partial-{gone.pid}-abc123"
    partial.mkdir()
    assert remove_leftovers(tmp_path, started=time.time() - 60) == []
    assert partial.exists()


def test_retention_of_overlapping_runs_deletes_each_old_run_once(tmp_path):
    reports = tmp_path / "reports"
    history = History(reports, "k")
    for day in range(1, 6):
        write_outputs(make_run(standard_specs(1, 1.0), weekly(day)), reports / f"day{day}", history=history)
    keep_two = History(reports, "k", history.settings.__class__(keep_runs=2))
    start, removed = threading.Barrier(4), []

    def prune() -> None:
        start.wait()
        removed.extend(keep_two.prune())
    threads = [threading.Thread(target=prune) for _ in range(4)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert sorted(p.name for p in removed) == ["day1", "day2", "day3"]           # each once, by one of them
    assert sorted(p.name for p in reports.iterdir()) == ["day4", "day5"]
