"""``reconcile init``: a new project in a folder: a commented ``config.toml``, the shipped suites in
``checks/``, and ``config.schema.json`` for editors.

The config as written audits the demo's shop against the sandbox (``reconcile sandbox``), so
``reconcile validate`` and ``reconcile run`` work before anything is changed; its comments say
what to change for a real shop. Nothing is ever overwritten: if any file it would write exists,
nothing is written and the error names the file.
"""

from __future__ import annotations

import shutil
from importlib import resources
from pathlib import Path

from ..checks import SHIPPED_SUITES
from ..config.schema import config_schema_json
from ..errors import UsageError

TEMPLATE = "config.toml"


def project_files(folder: Path) -> dict[Path, str | Path]:
    """What ``reconcile init`` writes: destination → text, or the shipped file to copy."""
    files: dict[Path, str | Path] = {
        folder / "config.toml": resources.files(__package__).joinpath(TEMPLATE).read_text(encoding="utf-8"),
        folder / "config.schema.json": config_schema_json(),
    }
    for suite in sorted(SHIPPED_SUITES.glob("*.toml")):
        files[folder / "checks" / suite.name] = suite
    return files


def init_project(folder: str | Path) -> list[Path]:
    """Write the project into ``folder`` (created if needed); return the files written."""
    folder = Path(folder)
    files = project_files(folder)
    existing = [path for path in files if path.exists() or path.is_symlink()]
    if existing:
        shown = ", ".join(str(path) for path in existing[:3]) + (" …" if len(existing) > 3 else "")
        raise UsageError(f"{shown} already exists; reconcile init never overwrites: choose an empty folder "
                         "(reconcile init DIR) or move the files away")
    for path, content in files.items():
        path.parent.mkdir(parents=True, exist_ok=True)
        if isinstance(content, Path):
            shutil.copyfile(content, path)
        else:
            path.write_text(content, encoding="utf-8")
    return list(files)


__all__ = ["init_project", "project_files"]
