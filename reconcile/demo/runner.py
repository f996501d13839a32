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
from ..history import History
from ..report import write_outputs
from ..results import RunResult
from ..sandbox import Sandbox, Workspace, serve
from . import build_demo

DEMO_CONFIG = "config.toml"


def demo_config(database_url: str, base_url: str) -> Config:
    """The shipped demo config, pointed at this run's shop and sandbox."""
    text = resources.files(__package__).joinpath(DEMO_CONFIG).read_text(encoding="utf-8")
    config = parse_config(text, Path.cwd() / DEMO_CONFIG)
    checks = replace(config.checks, suites=SHIPPED_SUITES) if config.checks else None  # wherever it runs from
    return replace(config, database=replace(config.database, url=database_url),
                   customerio=replace(config.customerio, base_url=base_url), checks=checks)


def demo_history(reports_dir: Path) -> History:
    """The demo's runs form one history of their own (key ``demo``), whatever their seed."""
    return History(reports_dir, "demo", HistoryConfig())


def demo_email_settings() -> EmailConfig:
    """Where ``reconcile demo --email`` sends without ``--config``: a debugging SMTP server on
    loopback (``python -m aiosmtpd -n -l 127.0.0.1:1025`` prints what it receives)."""
    return EmailConfig(smtp_host="127.0.0.1", smtp_port=1025, starttls=False, sender="reconcile-demo@example.com",
                       to=("retention-team@example.com",), subject_prefix="[reconcile demo]", source="the demo")


def run_demo(*, out: Path, as_of: datetime | None = None, seed: int = 7, customers: int = 3000,
             progress=None, history: History | None = None) -> tuple[RunResult, Path]:
    """Generate the shop and workspace, serve it, audit it; return the run and its folder."""
    as_of = (as_of or datetime.now(timezone.utc)).astimezone(timezone.utc)
    with tempfile.TemporaryDirectory(prefix="reconcile-demo-") as scratch:
        url = f"sqlite:///{Path(scratch) / 'shop.db'}"
        demo = build_demo(url, as_of=as_of, seed=seed, customers=customers)
        with Sandbox(Workspace.from_dict(demo.workspace), api_key=demo.api_key) as sandbox:
            run = run_audit(demo_config(url, sandbox.url), as_of=as_of, progress=progress)
    record = json.dumps(demo.record.to_dict(), indent=1, default=str)
    return run, write_outputs(run, out, extra_files={"demo-record.json": record}, history=history)


def serve_sandbox(*, workspace_path: Path | None, port: int, data_dir: Path, seed: int = 7) -> int:
    """Serve a workspace until Ctrl-C: a given JSON file, or the demo's (shop written to data_dir)."""
    if workspace_path is not None:
        workspace, api_key = Workspace.load(workspace_path), "sandbox-key"
        shop_note = ""
    else:
        data_dir.mkdir(parents=True, exist_ok=True)
        shop = data_dir / "shop.db"
        shop.unlink(missing_ok=True)
        demo = build_demo(f"sqlite:///{shop.resolve()}", as_of=datetime.now(timezone.utc), seed=seed)
        workspace, api_key = Workspace.from_dict(demo.workspace), demo.api_key
        shop_note = f"demo shop: {shop}\n"

    def banner(sandbox: Sandbox) -> None:
        print(f"sandbox Customer.io App API at {sandbox.url}\n{shop_note}api key: {api_key}\n"
              "try: reconcile run --config config.toml   (Ctrl-C stops the sandbox)", flush=True)

    serve(workspace, api_key=api_key, port=port, on_ready=banner)
    return 0
