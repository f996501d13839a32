"""What a run leaves on disk: results.json, discrepancies.csv and report.html, in one folder
(and purchase_discrepancies.csv with ``[purchases]``).

The folder is written under a hidden temporary name and renamed when complete, so an
interrupted run never leaves something that looks like a finished report, and two runs never
share a folder; it is created readable by its owner only, since it holds customers' emails.
Cells a spreadsheet would run as a formula are neutralised, and CSV rows end in CRLF (RFC 4180),
so a cell holding a carriage return is quoted, never read as a new row.
"""

from __future__ import annotations

import errno
import itertools
import json
import logging
import os
import shutil
import tempfile
import time
from datetime import datetime
from pathlib import Path

import pandas as pd

from .. import __version__
from ..errors import UsageError
from ..results import PURCHASE_COLUMNS, RunResult
from .html import render_html

log = logging.getLogger(__name__)

PURCHASES_CSV = "purchase_discrepancies.csv"
PARTIAL = ".partial-"          # .<name>.partial-<pid>-<random>: a run folder being written
DELETING = ".deleting-"        # a run folder retention is deleting: renamed first, so a half-deleted one is never read
_FORMULA_START = ("=", "+", "-", "@", "\t", "\r")
#: results.json's shape: raised only when a key changes meaning or goes away (keys may be added).
RESULTS_SCHEMA_VERSION = 1


def neutralise_formulas(frame: pd.DataFrame) -> pd.DataFrame:
    """Prefix cells a spreadsheet would run as a formula with a quote (CSV injection)."""
    def cell(value):
        return "'" + value if isinstance(value, str) and value.startswith(_FORMULA_START) else value
    return frame.apply(lambda column: column.map(cell)) if len(frame) else frame


def render_outputs(run: RunResult, context=None, history_key: str | None = None) -> dict[str, str]:
    """Every file of a run folder by name, as text: what :func:`write_outputs` writes, and what a
    delivery attaches when the folder could not be written."""
    files = {"results.json": results_json(run, history_key),
             # CRLF rows (RFC 4180): a cell holding a carriage return is then quoted, never read as a new row
             "discrepancies.csv": neutralise_formulas(run.discrepancies()).to_csv(index=False, lineterminator="\r\n")}
    if run.purchases is not None:
        files[PURCHASES_CSV] = neutralise_formulas(purchase_rows(run)).to_csv(index=False, lineterminator="\r\n")
    files["report.html"] = render_html(run, context)
    return files


def write_outputs(run: RunResult, out_dir: str | Path, extra_files: dict[str, str] | None = None,
                  *, history=None, unique: bool = False) -> Path:
    """Write the outputs (and any ``extra_files``) into ``out_dir`` atomically; return the folder.

    The files are written into a hidden partial folder beside it, which is renamed when complete:
    an interrupted or failed write (any exception, Ctrl-C, SIGTERM) leaves nothing, and a partial
    folder left by a killed process is removed by the next run (:func:`remove_leftovers`).

    ``unique``: ``out_dir`` is the wished name in a folder that other runs share (the default
    ``reports/<UTC second>``); when another run took it first, ``-2``, ``-3``… is taken. The rename
    itself decides, so two runs started in the same second both keep their report. Without it,
    ``out_dir`` was asked for (``--out``) and holding a report already is a UsageError.

    With ``history`` (a :class:`~reconcile.report.history.History`), the report compares the run with
    the earlier runs of the same config, results.json records the history key, and the oldest
    runs beyond the configured retention are removed once this one is complete.
    """
    wanted = Path(out_dir)
    if not unique and _holds_something(wanted):
        raise UsageError(f"{wanted} already holds a report; choose another --out")
    context = history.context(run, exclude=wanted) if history is not None else None
    wanted.parent.mkdir(parents=True, exist_ok=True)
    remove_leftovers(wanted.parent, run.started_at.timestamp() if run.started_at else None)
    partial = Path(tempfile.mkdtemp(prefix=f".{wanted.name}{PARTIAL}{os.getpid()}-", dir=wanted.parent))  # 0700
    try:
        files = render_outputs(run, context, history.recorded_key if history is not None else None)
        for name, content in {**files, **(extra_files or {})}.items():
            (partial / name).write_text(content, encoding="utf-8")
        final = _publish(partial, wanted, unique)
    except BaseException:
        shutil.rmtree(partial, ignore_errors=True)
        raise
    if history is not None:
        history.prune()
    return final


def _holds_something(folder: Path) -> bool:
    return folder.exists() and (not folder.is_dir() or any(folder.iterdir()))


def _publish(partial: Path, wanted: Path, unique: bool) -> Path:
    """Rename the complete partial folder to its name; the first free ``-n`` one when ``unique``."""
    for n in itertools.count(1):
        final = wanted if n == 1 else wanted.with_name(f"{wanted.name}-{n}")
        try:
            os.rename(partial, final)          # atomic; refused when ``final`` holds something
            return final
        except OSError as exc:
            if exc.errno not in (errno.ENOTEMPTY, errno.EEXIST, errno.ENOTDIR):
                raise
            if not unique:
                raise UsageError(f"{wanted} already holds a report; choose another --out") from None
    raise AssertionError("unreachable")


def remove_leftovers(folder: Path, started: float | None = None) -> list[Path]:
    """Remove what interrupted runs left in ``folder``: partial run folders whose process is gone
    and which are older than ``started`` (the cleaning run's start, epoch seconds; default now),
    and run folders retention had begun to delete (``.deleting-*``).
    Return what was removed. A folder of a run still going is never touched."""
    started = started if started is not None else time.time()
    removed = []
    try:
        entries = list(folder.iterdir())
    except OSError:
        return removed
    for entry in entries:
        if not entry.name.startswith(".") or not entry.is_dir():
            continue
        doomed = entry.name.startswith(DELETING) or (PARTIAL in entry.name and _abandoned(entry, started))
        if doomed:
            shutil.rmtree(entry, ignore_errors=True)
            removed.append(entry)
            log.info("removed %s, left by an interrupted run", entry)
    return removed


def _abandoned(partial: Path, started: float) -> bool:
    """Whether a partial folder's process is gone: its pid is not running, and the folder is older than us."""
    try:
        pid = int(partial.name.split(PARTIAL, 1)[1].split("-", 1)[0])
        if partial.stat().st_mtime >= started:
            return False
    except (ValueError, IndexError, OSError):
        return False
    try:
        os.kill(pid, 0)                       # signal 0: only asks whether the process exists
    except ProcessLookupError:
        return True
    except PermissionError:                   # another user's process, alive
        return False
    return False


def purchase_rows(run: RunResult) -> pd.DataFrame:
    """purchase_discrepancies.csv: one row per order with a problem and per orphan event."""
    frame = run.purchases.discrepancies if run.purchases is not None else None
    return frame if frame is not None else pd.DataFrame(columns=PURCHASE_COLUMNS)


def results_json(run: RunResult, history_key: str | None = None) -> str:
    """results.json's text (also what ``reconcile check --json`` prints), led by the versions of
    its shape (results.schema.json beside this module) and of the reconcile that wrote it."""
    results = {"schema_version": RESULTS_SCHEMA_VERSION, "reconcile_version": __version__, **run.to_dict()}
    if history_key is not None:
        results["history_key"] = history_key
    return json.dumps(results, indent=2, default=_json_default) + "\n"


def _json_default(value):
    if isinstance(value, datetime):
        return value.isoformat()
    if hasattr(value, "item"):  # numpy scalars
        return value.item()
    raise TypeError(f"cannot serialise {type(value).__name__}")


__all__ = ["write_outputs", "render_outputs", "remove_leftovers", "DELETING", "results_json", "neutralise_formulas",
           "purchase_rows", "PURCHASES_CSV", "RESULTS_SCHEMA_VERSION"]
