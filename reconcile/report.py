"""Write a run's outputs: results.json, discrepancies.csv and report.html.

Only this module knows about HTML. The folder is written under a temporary name and renamed
when complete, so an interrupted run never leaves something that looks like a finished
report; it is created readable by its owner only, since it holds customers' emails.
"""

from __future__ import annotations

import json
import math
import os
import shutil
from datetime import datetime, timezone
from pathlib import Path

import pandas as pd
from jinja2 import Environment, PackageLoader, select_autoescape

from .results import RunResult

EXAMPLES_PER_SIDE = 10
_FORMULA_START = ("=", "+", "-", "@", "\t", "\r")


def _environment() -> Environment:
    env = Environment(loader=PackageLoader("reconcile", "templates"),
                      autoescape=select_autoescape(["html", "j2"], default=True),
                      trim_blocks=True, lstrip_blocks=True)
    env.filters["count"] = format_count
    env.filters["percent"] = format_percent
    return env


def format_count(value) -> str:
    """12408 → "12,408"; None → "–"."""
    return "–" if value is None else f"{int(value):,}"


def format_percent(value, digits: int = 1) -> str:
    """0.031 → "3.1 %"; None → "–"."""
    if value is None or (isinstance(value, float) and math.isnan(value)):
        return "–"
    return f"{value * 100:.{digits}f} %"


def render_html(run: RunResult) -> str:
    examples = {}
    for segment in run.segments:
        frame = segment.discrepancies
        if frame is None:
            continue
        frame = frame.astype(object).where(frame.notna(), None)
        examples[segment.name] = {
            side: frame[frame["side"] == side].head(EXAMPLES_PER_SIDE).to_dict("records")
            for side in ("missing_in_customerio", "extra_in_customerio")
        }
    return _environment().get_template("report.html.j2").render(
        run=run, examples=examples, generated_at=datetime.now(timezone.utc))


def neutralise_formulas(frame: pd.DataFrame) -> pd.DataFrame:
    """Prefix cells a spreadsheet would run as a formula with a quote (CSV injection)."""
    def cell(value):
        return "'" + value if isinstance(value, str) and value.startswith(_FORMULA_START) else value
    return frame.apply(lambda column: column.map(cell)) if len(frame) else frame


def write_outputs(run: RunResult, out_dir: str | Path, extra_files: dict[str, str] | None = None) -> Path:
    """Write the three outputs (and any ``extra_files``) into ``out_dir`` atomically."""
    final = Path(out_dir)
    if final.exists() and any(final.iterdir()):
        raise FileExistsError(f"{final} already holds a report; choose another --out")
    final.parent.mkdir(parents=True, exist_ok=True)
    partial = final.with_name(f".{final.name}.partial-{os.getpid()}")
    shutil.rmtree(partial, ignore_errors=True)
    partial.mkdir(mode=0o700)
    try:
        (partial / "results.json").write_text(json.dumps(run.to_dict(), indent=2, default=_json_default) + "\n")
        neutralise_formulas(run.discrepancies()).to_csv(partial / "discrepancies.csv", index=False)
        (partial / "report.html").write_text(render_html(run), encoding="utf-8")
        for name, content in (extra_files or {}).items():
            (partial / name).write_text(content, encoding="utf-8")
        if final.exists():
            final.rmdir()
        partial.rename(final)
    except BaseException:
        shutil.rmtree(partial, ignore_errors=True)
        raise
    return final


def _json_default(value):
    if isinstance(value, datetime):
        return value.isoformat()
    if hasattr(value, "item"):  # numpy scalars
        return value.item()
    raise TypeError(f"cannot serialise {type(value).__name__}")
