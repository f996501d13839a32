"""A finished run's folder, read back: results.json and the differing people of discrepancies.csv.

The plan starts from what the audit left on disk, not from a live run, so that a person can
review a report on Monday and plan from exactly that report. The CSV was written for
spreadsheets: cells a spreadsheet would run as a formula carry a leading ``'``
(:func:`reconcile.report.files.neutralise_formulas`), which is taken off again here.
"""

from __future__ import annotations

import csv
import json
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import Any

from ..errors import UsageError

FORMULA_START = ("=", "+", "-", "@", "\t", "\r")
EVIDENCE = ("cause", "severity", "evidence", "attribute", "shop_value", "customerio_value")


@dataclass(frozen=True)
class RunFolder:
    """What one finished run found: its results and one row (a dict of text) per differing person and segment."""

    path: Path
    results: dict[str, Any]
    rows: list[dict[str, str]]

    @property
    def as_of(self) -> datetime:
        return datetime.fromisoformat(self.results["as_of"])

    @property
    def finished_at(self) -> datetime:
        return datetime.fromisoformat(self.results.get("finished_at") or self.results["as_of"])

    @property
    def status(self) -> str:
        return str(self.results.get("status") or "")

    @property
    def config_path(self) -> Path | None:
        return Path(self.results["config"]) if self.results.get("config") else None


def read_run(path: str | Path) -> RunFolder:
    """Read a run's folder; a folder that is not a finished, diagnosed run is a one-line UsageError."""
    folder = Path(path)
    if folder.name.startswith(".") and ".partial-" in folder.name:
        raise UsageError(f"{folder} is a run that never finished; plan from a finished run's folder")
    try:
        results = json.loads((folder / "results.json").read_text(encoding="utf-8"))
        with open(folder / "discrepancies.csv", newline="", encoding="utf-8") as handle:
            reader = csv.DictReader(handle)
            columns = reader.fieldnames or []
            rows = [{name: _cell(value) for name, value in row.items()} for row in reader]
    except FileNotFoundError as exc:
        raise UsageError(f"{folder} holds no {Path(exc.filename).name}: pass the folder of a finished run "
                         "(reports/<timestamp>/)") from None
    except (OSError, ValueError, csv.Error) as exc:
        raise UsageError(f"{folder}: the run's files cannot be read ({exc.__class__.__name__}); "
                         "pass the folder of a finished run") from None
    if not isinstance(results, dict) or "as_of" not in results or "segments" not in results:
        raise UsageError(f"{folder}/results.json is not a run's results; pass the folder of a finished run")
    missing = [name for name in EVIDENCE if name not in columns]
    if rows and missing:
        raise UsageError(f"{folder}: the run has no diagnosis (discrepancies.csv lacks {', '.join(missing)}): "
                         "a plan repairs causes, so run the audit with [diagnosis] enabled = true")
    return RunFolder(folder.resolve(), results, rows)


def _cell(value: Any) -> str:
    """A cell as the run had it: ``'=x`` back to ``=x`` (the spreadsheet guard), None to ``""``."""
    text = "" if value is None else str(value)
    if text[:1] == "'" and text[1:2] and text[1] in FORMULA_START:
        return text[1:]
    return text


__all__ = ["RunFolder", "read_run"]
