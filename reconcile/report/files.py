"""What a run leaves on disk: results.json, discrepancies.csv and report.html, in one folder
(and purchase_discrepancies.csv with ``[purchases]``).

The folder is written under a temporary name and renamed when complete, so an interrupted run
never leaves something that looks like a finished report; it is created readable by its owner
only, since it holds customers' emails. Cells a spreadsheet would run as a formula are
neutralised, and CSV rows end in CRLF (RFC 4180), so a cell holding a carriage return is
quoted, never read as a new row.
"""

from __future__ import annotations

import json
import os
import shutil
from datetime import datetime
from pathlib import Path

import pandas as pd

from .. import __version__
from ..errors import UsageError
from ..results import PURCHASE_COLUMNS, RunResult
from .html import render_html

PURCHASES_CSV = "purchase_discrepancies.csv"
_FORMULA_START = ("=", "+", "-", "@", "\t", "\r")
#: results.json's shape: raised only when a key changes meaning or goes away (keys may be added).
RESULTS_SCHEMA_VERSION = 1


def neutralise_formulas(frame: pd.DataFrame) -> pd.DataFrame:
    """Prefix cells a spreadsheet would run as a formula with a quote (CSV injection)."""
    def cell(value):
        return "'" + value if isinstance(value, str) and value.startswith(_FORMULA_START) else value
    return frame.apply(lambda column: column.map(cell)) if len(frame) else frame


def write_outputs(run: RunResult, out_dir: str | Path, extra_files: dict[str, str] | None = None,
                  *, history=None) -> Path:
    """Write the outputs (and any ``extra_files``) into ``out_dir`` atomically.

    With ``history`` (a :class:`~reconcile.report.history.History`), the report compares the run with
    the earlier runs of the same config, results.json records the history key, and the oldest
    runs beyond the configured retention are removed once this one is complete.
    """
    final = Path(out_dir)
    if final.exists() and any(final.iterdir()):
        raise UsageError(f"{final} already holds a report; choose another --out")
    context = history.context(run, exclude=final) if history is not None else None
    final.parent.mkdir(parents=True, exist_ok=True)
    partial = final.with_name(f".{final.name}.partial-{os.getpid()}")
    shutil.rmtree(partial, ignore_errors=True)
    partial.mkdir(mode=0o700)
    try:
        (partial / "results.json").write_text(results_json(run, history.recorded_key if history is not None else None))
        # CRLF rows (RFC 4180): a cell holding a carriage return is then quoted, never read as a new row
        neutralise_formulas(run.discrepancies()).to_csv(partial / "discrepancies.csv", index=False, lineterminator="\r\n")
        if run.purchases is not None:
            neutralise_formulas(purchase_rows(run)).to_csv(partial / PURCHASES_CSV, index=False, lineterminator="\r\n")
        (partial / "report.html").write_text(render_html(run, context), encoding="utf-8")
        for name, content in (extra_files or {}).items():
            (partial / name).write_text(content, encoding="utf-8")
        if final.exists():
            final.rmdir()
        partial.rename(final)
    except BaseException:
        shutil.rmtree(partial, ignore_errors=True)
        raise
    if history is not None:
        history.prune()
    return final


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


__all__ = ["write_outputs", "results_json", "neutralise_formulas", "purchase_rows", "PURCHASES_CSV",
           "RESULTS_SCHEMA_VERSION"]
