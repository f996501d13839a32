"""The demo's shop, config and record as the tests use them: the shipped config pointed at a
test's shop and sandbox, and the check that a run's outputs hold exactly the people the
generator's record says each segment must show."""

from __future__ import annotations

import re
from contextlib import contextmanager
from importlib import resources
from pathlib import Path
from typing import Iterator

import pytest

from reconcile.checks import SHIPPED_SUITES


def person_key(row: dict) -> str:
    """The record's key for a differing person: the id, or cio:<cio_id> when there is none."""
    return row["id"] if row["id"] else f"cio:{row['cio_id']}"


def assert_matches_record(results: dict, rows: list[dict], record: dict) -> None:
    for segment in results["segments"]:
        expected = record["segments"][segment["name"]]
        assert segment["status"] in ("pass", "fail"), segment
        assert segment["error"] is None
        assert segment["truth_count"] == len(expected["truth"]), segment["name"]
        assert segment["customerio_count"] == len(expected["customerio"]), segment["name"]
        assert segment["matched"] == expected["matched"], segment["name"]
        assert segment["missing_in_customerio"] == len(expected["missing_in_customerio"]), segment["name"]
        assert segment["extra_in_customerio"] == len(expected["extra_in_customerio"]), segment["name"]
        differing = len(expected["missing_in_customerio"]) + len(expected["extra_in_customerio"])
        assert segment["mismatch_rate"] == pytest.approx(differing / len(expected["truth"]))
        for side in ("missing_in_customerio", "extra_in_customerio"):
            people = sorted(person_key(r) for r in rows if r["segment"] == segment["name"] and r["side"] == side)
            assert people == sorted(expected[side]), (segment["name"], side)


def write_config(folder: Path, shop, email: str = "") -> Path:
    """The demo's config.toml pointed at this shop and sandbox, plus an optional [email] section."""
    url, base_url, api_key = shop
    text = resources.files("reconcile.demo").joinpath("config.toml").read_text(encoding="utf-8")
    text = re.sub(r'(?m)^url = ".*"$', f'url = "{url}"', text, count=1)
    text = re.sub(r'(?m)^base_url = ".*"$', f'base_url = "{base_url}"', text, count=1)
    text = re.sub(r'(?m)^app_api_key = ".*"', f'app_api_key = "{api_key}"', text, count=1)
    text = re.sub(r'(?m)^suites = ".*"$', f'suites = "{SHIPPED_SUITES}"', text, count=1)  # [checks], from anywhere
    folder.mkdir(parents=True, exist_ok=True)
    path = folder / "config.toml"
    path.write_text(text + email, encoding="utf-8")
    return path


def email_section(port: int, send: str = "always") -> str:
    return (f'\n[email]\nsmtp_host = "127.0.0.1"\nsmtp_port = {port}\nstarttls = false\n'
            f'from = "reconcile@shop.example"\nto = ["retention@shop.example"]\nsend = "{send}"\n')


@contextmanager
def served_demo_shop(folder: Path, as_of, customers: int = 1500) -> Iterator[tuple[str, str, str]]:
    """The demo shop in SQLite and its drifted workspace served by the sandbox:
    ``(database URL, API URL, API key)`` while the sandbox runs."""
    from reconcile.demo import build_demo
    from reconcile.sandbox import Sandbox, Workspace

    url = f"sqlite:///{folder / 'shop.db'}"
    demo = build_demo(url, as_of=as_of, seed=7, customers=customers)
    with Sandbox(Workspace.from_dict(demo.workspace), api_key=demo.api_key) as sandbox:
        yield url, sandbox.url, demo.api_key
