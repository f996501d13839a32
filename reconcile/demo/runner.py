"""``reconcile demo`` and ``reconcile sandbox``: the embedded default, end to end.

The demo generates a SQLite shop, derives the drifted Customer.io workspace from it, serves
that workspace from the sandbox over real HTTP on loopback, and runs the ordinary audit with
the shipped config. Nothing is special-cased: the only differences from a production run are
the database URL and the API base URL.
"""

from __future__ import annotations

import json
import tempfile
from dataclasses import replace
from datetime import datetime, timezone
from importlib import resources
from pathlib import Path

from ..audit import run_audit
from ..checks import SHIPPED_SUITES
from ..config import Config, EmailConfig, HistoryConfig, parse_config
from ..report import History, write_outputs
from ..results import RunResult
from ..sandbox import Sandbox, Workspace
from . import build_demo

DEMO_CONFIG = "config.toml"


def demo_config(database_url: str, base_url: str) -> Config:
    """The shipped demo config, pointed at this run's shop and sandbox."""
    text = resources.files(__package__).joinpath(DEMO_CONFIG).read_text(encoding="utf-8")
    config = parse_config(text, Path.cwd() / DEMO_CONFIG)
    checks = replace(config.checks, suites=SHIPPED_SUITES) if config.checks else None  # wherever it runs from
    return replace(config, database=replace(config.database, url=database_url),
                   customerio=replace(config.customerio, base_url=base_url), checks=checks)


def demo_history(reports_dir: Path, keep: bool = True) -> History:
    """The demo's runs form one history of their own (key ``demo``), whatever their seed."""
    return History(reports_dir, "demo", HistoryConfig(), keep)


def demo_email_settings() -> EmailConfig:
    """Where ``reconcile demo --email`` sends without ``--config``: a debugging SMTP server on
    loopback (``python -m aiosmtpd -n -l 127.0.0.1:1025`` prints what it receives)."""
    return EmailConfig(smtp_host="127.0.0.1", smtp_port=1025, starttls=False, sender="reconcile-demo@example.com",
                       to=("retention-team@example.com",), subject_prefix="[reconcile demo]", source="the demo")


def audit_demo(*, as_of: datetime | None = None, seed: int = 7, customers: int = 3000, progress=None,
               history: History | None = None) -> tuple[RunResult, dict[str, str]]:
    """Generate the shop and workspace, serve it, audit it; return the run and the files its
    folder holds beside the report (the generator's record)."""
    as_of = (as_of or datetime.now(timezone.utc)).astimezone(timezone.utc)
    with tempfile.TemporaryDirectory(prefix="reconcile-demo-") as scratch:
        url = f"sqlite:///{Path(scratch) / 'shop.db'}"
        demo = build_demo(url, as_of=as_of, seed=seed, customers=customers)
        baselines = history.volume_baselines(as_of) if history is not None else None
        with Sandbox(Workspace.from_dict(demo.workspace), api_key=demo.api_key) as sandbox:
            run = run_audit(demo_config(url, sandbox.url), as_of=as_of, progress=progress, baselines=baselines)
    return run, {"demo-record.json": json.dumps(demo.record.to_dict(), indent=1, default=str)}


def run_demo(*, out: Path, as_of: datetime | None = None, seed: int = 7, customers: int = 3000,
             progress=None, history: History | None = None) -> tuple[RunResult, Path]:
    """:func:`audit_demo`, written into ``out``; return the run and its folder."""
    run, files = audit_demo(as_of=as_of, seed=seed, customers=customers, progress=progress, history=history)
    return run, write_outputs(run, out, files, history=history)


def sandbox_workspace(workspace_path: Path | None, data_dir: Path, seed: int = 7) -> tuple[Workspace, str, Path | None]:
    """``(workspace, api_key, demo shop)`` for ``reconcile sandbox``: a given JSON file, or the
    demo's workspace with its shop written to ``data_dir`` (so a config can point at it)."""
    if workspace_path is not None:
        return Workspace.load(workspace_path), "sandbox-key", None
    data_dir.mkdir(parents=True, exist_ok=True)
    shop = data_dir / "shop.db"
    shop.unlink(missing_ok=True)
    demo = build_demo(f"sqlite:///{shop.resolve()}", as_of=datetime.now(timezone.utc), seed=seed)
    return Workspace.from_dict(demo.workspace), demo.api_key, shop
