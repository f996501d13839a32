"""A few buyers, known by construction, on both sides: the shop (any database) and a sandbox
workspace, for the diagnosis tests.

``base()`` gives three buyers who agree on both sides; a test adds the people it makes differ
(``buyer`` rows, ``profile`` profiles) and runs the ordinary audit on them with :data:`CONFIG`
(one segment "buyers", id 5: buyers of the last 30 days with email consent, diagnosed with a
lookup) or its own config. Timestamps go into the shop as each database stores them: aware for
PostgreSQL's timestamptz, naive UTC for SQLite and MariaDB.
"""

from __future__ import annotations

from contextlib import contextmanager
from datetime import datetime, timedelta, timezone
from typing import Iterable, Iterator

from sqlalchemy import Boolean, Column, DateTime, Integer, MetaData, String, Table, create_engine

from reconcile.audit import run_audit
from reconcile.config import parse_config
from reconcile.results import RunResult
from reconcile.sandbox import Sandbox, Workspace

AS_OF = datetime(2026, 11, 28, 12, 0, 0, tzinfo=timezone.utc)
WINDOW_START = AS_OF - timedelta(days=30)
DAY = timedelta(days=1)
RECENT = AS_OF - 5 * DAY


def customers_table(id_type=Integer) -> Table:
    """``customers(id, email, email_consent, last_order_at)``; ``id_type`` String(20) for text ids."""
    return Table("customers", MetaData(), Column("id", id_type, primary_key=True, autoincrement=False),
                 Column("email", String(100), nullable=False), Column("email_consent", Boolean, nullable=False),
                 Column("last_order_at", DateTime(timezone=True)))


def seconds(at: datetime) -> str:
    return str(int(at.timestamp()))


def base() -> tuple[list[dict], list[dict]]:
    """Three buyers who agree on both sides: (shop rows, Customer.io profiles)."""
    shop = [{"id": i, "email": f"p{i}@shop.test", "email_consent": True, "last_order_at": AS_OF - i * DAY}
            for i in (1, 2, 3)]
    profiles = [{"cio_id": f"c{r['id']}", "id": str(r["id"]), "email": r["email"], "member": True,
                 "attributes": {"email": r["email"], "email_consent": "true",
                                "last_order_at": seconds(r["last_order_at"])}} for r in shop]
    return shop, profiles


def buyer(at: datetime | None, consent: bool = True, id=10, email: str = "ten@shop.test") -> dict:
    return {"id": id, "email": email, "email_consent": consent, "last_order_at": at}


def profile(at: datetime | str | None, cio_id: str = "c10", id: str | None = "10", email: str = "ten@shop.test",
            member: bool | Iterable[int] = False, consent: str = "true", attribute: str = "last_order_at") -> dict:
    """A profile; ``member``: in segment 5 (True) or in the given segment ids."""
    attributes = {"email": email, "email_consent": consent}
    if at is not None:
        attributes[attribute] = at if isinstance(at, str) else seconds(at)
    return {"cio_id": cio_id, "id": id, "email": email, "member": member, "attributes": attributes}


CONFIG = """
[database]
url = "{url}"
[customerio]
base_url = "{base_url}"
app_api_key = "test-key"
max_retries = 1
[diagnosis]
lookup_sql = '''
SELECT id, email, email_consent, last_order_at FROM customers
WHERE CAST(id AS CHAR(20)) IN :ids OR LOWER(email) IN :emails
'''
[[segments]]
name = "buyers"
customerio_segment_id = 5
window_days = 30
tolerance = 0.5
window_column = "last_order_at"
sql = '''
SELECT id, email, email_consent, last_order_at FROM customers
WHERE email_consent AND last_order_at >= :window_start
'''
[segments.compare]
last_order_at = "last_order_at"
email_consent = "email_consent"
"""


def fill_shop(url: str, rows: list[dict], table: Table | None = None) -> None:
    """The customers table with ``rows`` (instants as the database stores them)."""
    table = table if table is not None else customers_table()
    engine = create_engine(url)
    aware = engine.dialect.name == "postgresql"
    table.metadata.create_all(engine)
    with engine.begin() as conn:
        conn.execute(table.insert(), [{**row, "last_order_at": row["last_order_at"] if aware or row["last_order_at"]
                                       is None else row["last_order_at"].replace(tzinfo=None)} for row in rows])
    engine.dispose()


def workspace_of(profiles: list[dict], segments: dict[int, str] | None = None, identifiers: str = "email_or_id"
                 ) -> Workspace:
    workspace = Workspace(identifiers)
    for p in profiles:
        workspace.add_person(p["cio_id"], p["id"], p["email"], p["attributes"], unsubscribed=p.get("unsubscribed", False))
    for sid, name in (segments or {5: "buyers"}).items():
        workspace.add_segment(sid, name, [p["cio_id"] for p in profiles
                                          if (p["member"] is True and sid == 5) or (not isinstance(p["member"], bool)
                                                                                   and sid in p["member"])])
    return workspace


@contextmanager
def served(profiles: list[dict], segments: dict[int, str] | None = None) -> Iterator[Sandbox]:
    """The profiles served by the sandbox, without its rate limit: a test may run several audits
    within a second, each with a fresh client (the limit has tests of its own)."""
    with Sandbox(workspace_of(profiles, segments), api_key="test-key", rate_limit=None) as sandbox:
        yield sandbox


def run_buyers(url: str, rows: list[dict], profiles: list[dict], config_text: str = CONFIG,
               segments: dict[int, str] | None = None, table: Table | None = None) -> RunResult:
    """The audit of a shop holding ``rows`` against a workspace holding ``profiles``."""
    fill_shop(url, rows, table)
    with served(profiles, segments) as sandbox:
        config = parse_config(config_text.format(url=url, base_url=sandbox.url), "config.toml")
        return run_audit(config, as_of=AS_OF)
