"""A small, exactly known stage for the hostile-input, fault and leak tests (issue 7).

The shop (SQLite) and the sandbox workspace are built by rule, so every number is known:

* the shop has ``PEOPLE`` customers ``1..PEOPLE`` (integer ids, emails ``p<i>@shop.example``);
* segment ``BUYERS`` (31) holds customers ``1..PEOPLE-MISSING`` in a shuffled but fixed order,
  plus ``EXTRA`` profiles the shop does not know: so the truth ``SELECT id, email FROM customers``
  gives exactly ``matched = PEOPLE - MISSING``, ``missing = MISSING``, ``extra = EXTRA``, a
  mismatch of 0.4 %, a pass at the default 1 % tolerance; any member lost on the way would
  change those numbers (and could turn a near-miss into a pass);
* segment 32 is still building, 33 is empty, 34 holds the first three customers.

The membership is read in pages of ``PAGE`` (the client's default is 30,000: the fixture
``small_pages`` lowers it so three pages need only a few thousand people), and retries wait
``backoff_base = 0.01`` s (``fast_retries``), so no test spends its time sleeping.
"""

from __future__ import annotations

import random
import time
import sqlite3
from pathlib import Path

import pytest

from reconcile import audit
from reconcile.customerio import CustomerIOClient, RateLimiter
from reconcile.sandbox import Sandbox, Workspace

KEY = "cio-app-key-Kx7Qw2Zr9Lp4"          # distinctive: searched for in every artefact
PEOPLE, MISSING, EXTRA = 2_500, 5, 5
PAGE = 1_000
BUYERS, BUILDING, EMPTY, FIRST_THREE = 31, 32, 33, 34
MEMBERS = random.Random(31).sample(range(1, PEOPLE - MISSING + 1), PEOPLE - MISSING)
EXPECTED = {"truth_count": PEOPLE, "customerio_count": PEOPLE - MISSING + EXTRA, "matched": PEOPLE - MISSING,
            "missing_in_customerio": MISSING, "extra_in_customerio": EXTRA}


def build_shop(path: Path, people: int = PEOPLE, name=lambda i: f"Customer {i}", email=None) -> str:
    """A SQLite shop with ``customers(id, email, name)``; returns its SQLAlchemy URL."""
    email = email or (lambda i: f"p{i}@shop.example")
    with sqlite3.connect(path) as conn:
        conn.execute("CREATE TABLE customers (id INTEGER PRIMARY KEY, email TEXT, name TEXT)")
        conn.executemany("INSERT INTO customers VALUES (?, ?, ?)",
                         [(i, email(i), name(i)) for i in range(1, people + 1)])
    return f"sqlite:///{path}"


def build_workspace() -> Workspace:
    workspace = Workspace("email_or_id")
    for i in range(1, PEOPLE + 1):
        workspace.add_person(f"cio{i}", str(i), f"p{i}@shop.example")
    for j in range(1, EXTRA + 1):
        workspace.add_person(f"cio-x{j}", f"x{j}", f"stranger{j}@elsewhere.example")
    workspace.add_segment(BUYERS, "Buyers", [f"cio{i}" for i in MEMBERS] + [f"cio-x{j}" for j in range(1, EXTRA + 1)])
    workspace.add_segment(BUILDING, "Still building", ["cio1"], state="build", progress=40)
    workspace.add_segment(EMPTY, "Nobody")
    workspace.add_segment(FIRST_THREE, "First three", ["cio1", "cio2", "cio3"])
    return workspace


def config_text(db_url: str, base_url: str, *, key: str = KEY, segment_id: int = BUYERS,
                sql: str = "SELECT id, email FROM customers", customerio: str = "", database: str = "",
                extra: str = "") -> str:
    """A config with one segment "buyers"; ``customerio``/``database`` add keys, ``extra`` sections."""
    return (f'[database]\nurl = "{db_url}"\n{database}\n'
            f'[customerio]\nbase_url = "{base_url}"\napp_api_key = "{key}"\nmax_retries = 3\n{customerio}\n'
            f'[[segments]]\nname = "buyers"\ncustomerio_segment_id = {segment_id}\nsql = """\n{sql}\n"""\n{extra}')


def write_config(folder: Path, *args, **kwargs) -> Path:
    path = folder / "config.toml"
    path.write_text(config_text(*args, **kwargs), encoding="utf-8")
    return path


@pytest.fixture(scope="module")
def stage(tmp_path_factory):
    """(shop URL, sandbox) shared by a module's tests; the ``sandbox`` fixture gives each a clean plan."""
    url = build_shop(tmp_path_factory.mktemp("shop") / "shop.db")
    with Sandbox(build_workspace(), api_key=KEY, rate_limit=None) as sandbox:
        yield url, sandbox


@pytest.fixture
def sandbox(stage):
    """The stage's sandbox with no faults planned and no requests recorded (and none left afterwards)."""
    stage[1].faults.clear()
    stage[1].requests.clear()
    yield stage[1]
    stage[1].faults.clear()


@pytest.fixture
def fast_retries(monkeypatch):
    """The audit's client, with waits between retries of at most a few hundredths of a second and no throttle."""
    real = audit.client_from_settings

    def quick(settings):
        client = real(settings)
        client.backoff_base, client.backoff_cap = 0.01, 0.05
        client.limiter = RateLimiter(1_000)   # throttling has its own tests; here it would only add waiting
        client.sleep = lambda seconds: time.sleep(min(seconds, 0.05))   # retries and export polls
        return client
    monkeypatch.setattr(audit, "client_from_settings", quick)


@pytest.fixture
def small_pages(monkeypatch):
    """Membership pages of ``PAGE`` members instead of 30,000, so a few thousand people span three pages."""
    monkeypatch.setitem(CustomerIOClient.segment_membership.__kwdefaults__, "page_size", PAGE)


def segment_line(out: str, name: str = "buyers") -> str:
    """The summary line of one segment on stdout."""
    return next(line for line in out.splitlines() if line.startswith(name + " "))
