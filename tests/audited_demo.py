"""A demo shop audited once, for the repair tests: the run's folder, the generator's record, and a
fresh sandbox holding the workspace exactly as the audit saw it, as often as a test needs one.

The shop (SQLite) and the run's folder are read only by the plan, so one audit serves a module;
every test that writes to Customer.io gets its own sandbox (``serve``), whose Track API writes
into a fresh copy of the drifted workspace. ``expected_kinds`` is what the plan must do for each
person, derived from the record's causes; ``person_key`` is the record's key for a plan's person.
"""

from __future__ import annotations

import copy
import json
from contextlib import contextmanager
from dataclasses import dataclass, replace
from datetime import datetime, timezone
from pathlib import Path
from typing import Iterator

from reconcile.audit import run_audit
from reconcile.config import Config
from reconcile.customerio import CustomerIOClient, TrackClient
from reconcile.demo import DEMO_SITE_ID, DEMO_TRACK_API_KEY, build_demo
from reconcile.demo.runner import demo_config
from reconcile.report import write_outputs
from reconcile.sandbox import Sandbox, Workspace

AS_OF = datetime(2026, 11, 28, 9, 30, tzinfo=timezone.utc)
KNOWN = {"attribute_stale": "update", "timestamp_unit": "update", "consent_mismatch": "update",
         "profile_missing": "identify", "idless_profile": "merge", "duplicate_profile": "merge",
         "not_in_shop": "delete", "window_edge": "none"}


@dataclass
class Audited:
    url: str                 # the shop
    workspace: dict          # the drifted workspace, as the audit read it
    record: dict             # the generator's record, as JSON
    run_dir: Path
    api_key: str

    def config(self, sandbox: Sandbox, url: str | None = None) -> Config:
        """The shipped demo config pointed at this shop (or ``url``) and this sandbox, without checks
        (and so without the purchases, which compare the orders with the checks' events)."""
        return replace(demo_config(url or self.url, sandbox.url), checks=None, purchases=None)

    @contextmanager
    def serve(self, **options) -> Iterator[Sandbox]:
        workspace = Workspace.from_dict(copy.deepcopy(self.workspace))
        with Sandbox(workspace, api_key=self.api_key, site_id=DEMO_SITE_ID, track_api_key=DEMO_TRACK_API_KEY,
                     **options) as sandbox:
            yield sandbox

    def causes(self) -> dict[str, set[str]]:
        """Each differing person (the record's key) and the causes they show across segments."""
        found: dict[str, set[str]] = {}
        for segment in self.record["segments"].values():
            for key, cause in segment["causes"].items():
                found.setdefault(key, set()).add(cause)
        return found

    def people_with(self, *causes: str) -> set[str]:
        return {key for key, found in self.causes().items() if found & set(causes)}


def audit_demo(folder: Path, customers: int = 600, seed: int = 7) -> Audited:
    url = f"sqlite:///{folder / 'shop.db'}"
    demo = build_demo(url, as_of=AS_OF, seed=seed, customers=customers)
    audited = Audited(url, demo.workspace, json.loads(json.dumps(demo.record.to_dict(), default=str)),
                      folder / "run", demo.api_key)
    with audited.serve(rate_limit=None) as sandbox:
        write_outputs(run_audit(audited.config(sandbox), as_of=AS_OF), audited.run_dir)
    return audited


def clients(sandbox: Sandbox, **options) -> tuple[CustomerIOClient, TrackClient]:
    """The App and Track clients of the demo's sandbox (fast retries: the faults here are planned)."""
    settings = {"base_url": sandbox.url, "backoff_base": 0.01, "timeout": 5.0, **options}
    return (CustomerIOClient(api_key="sandbox-demo-key", **settings),
            TrackClient(site_id=DEMO_SITE_ID, api_key=DEMO_TRACK_API_KEY, **settings))


def person_key(person: dict) -> str:
    return person["id"] if person.get("id") else f"cio:{person['cio_id']}"


def track_writes(sandbox: Sandbox) -> list:
    """The requests that reached the Track API's writes (the workspace check is a read)."""
    return [r for r in sandbox.requests if r.path.startswith("/api/") and r.method != "GET"]
