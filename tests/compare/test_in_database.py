"""The pushdown diff (``diff = "database"``) equals the in-memory diff exactly (issue 6).

Two kinds of data, each on PostgreSQL and MariaDB (and SQLite, which the tool also serves):

* the demo shop and its drifted workspace through the whole audit (the shipped segment SQL:
  joins, windows, people returned once per order), held to the generator's record and to the
  in-memory run person by person;
* a small table of awkward identifiers: integer and text ids, blanks, only-blank and empty
  keys, mixed-case emails with surrounding blanks, repeated truth rows, duplicate and keyless
  Customer.io profiles.
"""

from __future__ import annotations

import json
import time
from dataclasses import replace
from pathlib import Path
from datetime import datetime, timezone

import pytest
from sqlalchemy import create_engine, text

from reconcile.audit import run_audit
from reconcile.compare.diff import diff_segment
from reconcile.compare.in_database import DatabaseMembership, diff_in_database
from reconcile.config import DatabaseConfig, SegmentConfig
from reconcile.demo import build_demo
from reconcile.demo.drift import COUNTS
from reconcile.demo.runner import demo_config
from reconcile.config import parse_config
from reconcile.customerio import MemoryMembership
from reconcile.sandbox import Sandbox, Workspace
from reconcile.shop import open_engine, run_truth
from conftest import role_without_temporary
from demo_project import assert_matches_record

AS_OF = datetime(2026, 11, 28, 9, 30, tzinfo=timezone.utc)


def _people(frame, columns=("id", "email", "cio_id")) -> list[tuple]:
    rows = frame[list(columns)].astype(object).where(frame[list(columns)].notna(), None).values.tolist()
    return sorted(tuple("" if v is None else str(v) for v in row) for row in rows)


@pytest.mark.parametrize("server", ["pg_url", "mysql_url"])
def test_pushdown_audit_equals_the_in_memory_audit_on_the_demo(server, request):
    url = request.getfixturevalue(server)
    demo = build_demo(url, as_of=AS_OF)
    with Sandbox(Workspace.from_dict(demo.workspace), api_key=demo.api_key) as sandbox:
        config = demo_config(url, sandbox.url)
        config = replace(config, checks=None, purchases=None, diagnosis=replace(config.diagnosis, enabled=False))
        memory = run_audit(config, as_of=AS_OF)
        database = run_audit(replace(config, diff="database"), as_of=AS_OF)
    rows = database.discrepancies().astype(object).where(database.discrepancies().notna(), "").to_dict("records")
    assert_matches_record(database.to_dict(), rows, json.loads(json.dumps(demo.record.to_dict(), default=str)))
    for mine, theirs in zip(database.segments, memory.segments):
        for name in ("status", "truth_count", "customerio_count", "matched", "missing_in_customerio",
                     "extra_in_customerio", "mismatch_rate", "duplicate_profiles", "keyless_profiles",
                     "truth_rows", "truth_rows_without_key"):
            assert getattr(mine, name) == getattr(theirs, name), (mine.name, name)
        for side in ("missing_in_customerio", "extra_in_customerio"):
            assert _people(_rows(database, mine.name, side)) == _people(_rows(memory, mine.name, side)), \
                (mine.name, side)


@pytest.mark.parametrize("server", ["pg_url", "mysql_url"])
def test_with_the_diagnosis_the_pushdown_audit_explains_the_same_people_the_same_way(server, request):
    """The diagnosis reads the staged members back (identity health needs all of them): its
    causes and identity people equal the in-memory run's."""
    url = request.getfixturevalue(server)
    demo = build_demo(url, as_of=AS_OF)
    with Sandbox(Workspace.from_dict(demo.workspace), api_key=demo.api_key) as sandbox:
        config = replace(demo_config(url, sandbox.url), checks=None, purchases=None)
        memory = run_audit(config, as_of=AS_OF)
        database = run_audit(replace(config, diff="database"), as_of=AS_OF)
    assert [s.causes for s in database.segments] == [s.causes for s in memory.segments]
    assert [s.identity_people for s in database.segments] == [s.identity_people for s in memory.segments]
    # the demo's drift: 4 email-only profiles, 6 people with a second profile (12 profiles share an email)
    assert database.identity_health == memory.identity_health == {
        "duplicate_emails": 2 * COUNTS["duplicate_profile"], "idless_profiles": COUNTS["idless_profile"],
        "case_or_blank_ids": 0, "conflicting_identity": 0}


def _rows(run, segment: str, side: str):
    rows = run.discrepancies()
    return rows[(rows["segment"] == segment) & (rows["side"] == side)]


SHOP = [  # id, email, in the segment
    (1, "Ann@X.com ", True), (2, " bob@x.com", True), (2, " bob@x.com", True), (3, None, True),
    (4, "   ", True), (5, "e5@x.com", True), (6, "E6@X.COM", True), (7, "e7@x.com", False), (8, "\tann@x.com", True),
]
MEMBERS = [  # id, email, cio_id as the API gives them
    {"id": "1", "email": "ann@x.com", "cio_id": "c1"}, {"id": "2", "email": "BOB@x.com", "cio_id": "c2"},
    {"id": "2", "email": "bob2@x.com", "cio_id": "c2b"}, {"id": "", "email": "e6@x.com", "cio_id": "c6"},
    {"id": None, "email": None, "cio_id": "c0"}, {"id": "7", "email": "e7@x.com", "cio_id": "c7"},
    {"id": " ", "email": " E5@x.com", "cio_id": "c5"}, {"id": "9", "email": "e9@x.com", "cio_id": "c9"},
    {"id": "9", "email": "e9@x.com", "cio_id": "c9b"},
]


def _awkward_shop(url: str) -> None:
    setup = create_engine(url)
    with setup.begin() as conn:
        conn.execute(text("CREATE TABLE shop_people (id INTEGER, email VARCHAR(100), member BOOLEAN)"))
        conn.execute(text("CREATE TABLE text_people (id VARCHAR(20), email VARCHAR(100))"))
        conn.execute(text("INSERT INTO shop_people VALUES (:i, :e, :m)"), [dict(i=i, e=e, m=m) for i, e, m in SHOP])
        conn.execute(text("INSERT INTO text_people VALUES (:i, :e)"),
                     [dict(i=i, e=e) for i, e in [("000417", "x@x.com"), (" 2", None), ("  ", "y@x.com"),
                                                  ("", "z@x.com"), ("Ab", "ab@x.com"), ("ab", "AB@x.com ")]])
    setup.dispose()


def _assert_same_diff(pushed, memory, context) -> None:
    for name in ("truth_count", "customerio_count", "customerio_profiles", "matched", "duplicate_profiles",
                 "keyless_profiles", "mismatch_rate"):
        assert getattr(pushed, name) == getattr(memory, name), (context, name)
    assert _people(pushed.missing, ("id", "email")) == _people(memory.missing, ("id", "email")), context
    assert _people(pushed.extra) == _people(memory.extra), context


@pytest.mark.parametrize("key", ["id", "email"])
def test_pushdown_equals_memory_on_awkward_identifiers(any_db_url, key):
    _awkward_shop(any_db_url)
    membership = MemoryMembership(1)
    membership.add_page({"identifiers": MEMBERS + [{"id": "000417", "email": "x@x.com", "cio_id": "c417"},
                                                   {"id": "417", "email": None, "cio_id": "c417b"},
                                                   {"id": "ab", "email": "AB@X.com", "cio_id": "cab"}]})
    engine = open_engine(DatabaseConfig(url=any_db_url))
    try:
        for sql in ("SELECT id, email FROM shop_people WHERE member",
                    "SELECT id, email FROM text_people",
                    "SELECT p.id, p.email, t.id AS other FROM shop_people p LEFT JOIN text_people t ON 1 = 1;"):
            segment = SegmentConfig(name="s", customerio_segment_id=1, sql=sql)
            truth = run_truth(engine, segment, key, AS_OF)
            memory = diff_segment(truth.people, membership, key)
            pushed_truth, pushed = diff_in_database(engine, segment, key, AS_OF, membership)
            _assert_same_diff(pushed, memory, sql)
            assert (pushed_truth.rows_read, pushed_truth.rows_without_key) == (truth.rows_read, truth.rows_without_key)
    finally:
        engine.dispose()


# three pages as the API may send them: identifiers, a bare ids page ("" is no id), identifiers again
PAGES = [{"identifiers": MEMBERS[:4]}, {"ids": ["9", "", "1"]},
         {"identifiers": MEMBERS[4:] + [{"id": "ab", "email": "AB@X.com", "cio_id": "cab"}]}]


@pytest.mark.parametrize("key", ["id", "email"])
def test_pages_go_into_the_database_one_by_one_and_give_the_in_memory_diff(any_db_url, key):
    """With diff = "database" each page is written to the temporary table as it arrives (no member
    is kept in Python); read back, the members are the columnar membership's, in the API's order."""
    _awkward_shop(any_db_url)
    engine = open_engine(DatabaseConfig(url=any_db_url))
    segment = SegmentConfig(name="s", customerio_segment_id=1, sql="SELECT id, email FROM shop_people WHERE member")
    columnar, staged = MemoryMembership(1), DatabaseMembership(engine, segment, key)
    try:
        for page in PAGES:
            columnar.add_page(page)
            staged.add_page(page)
        assert len(staged) == len(columnar) == 13
        # no key: ids "", None, " " and the bare page's ""; emails None and the bare page's three
        assert staged.keyless == 4
        assert staged.table().to_pylist() == columnar.table().to_pylist()
        memory = diff_segment(run_truth(engine, segment, key, AS_OF).people, columnar, key)
        _, pushed = diff_in_database(engine, segment, key, AS_OF, staged)
        _assert_same_diff(pushed, memory, key)
        assert (pushed.customerio_profiles, pushed.keyless_profiles) == (13, 4)
    finally:
        staged.close()
        engine.dispose()
    assert staged.connection.closed
    if any_db_url.startswith("postgresql"):     # the temporary tables go with the connection's backend
        admin = create_engine(any_db_url)
        with admin.connect() as conn:
            def tables_left() -> int:
                return conn.execute(text("SELECT COUNT(*) FROM pg_class WHERE relname LIKE :name"),
                                    {"name": staged.name + "%"}).scalar()
            for _ in range(200):                # the backend exits just after the client hangs up
                if not tables_left():
                    break
                time.sleep(0.05)
            assert tables_left() == 0
        admin.dispose()


def test_without_the_temporary_grant_the_segment_is_an_error_that_says_what_to_do(pg_url):
    """A role that may read but not create temporary tables: the segment cannot be compared (an
    error, exit 3), and the message names the grant and the way around it."""
    _awkward_shop(pg_url)
    workspace = Workspace.from_dict({"identifiers": "email_or_id", "people": [
        {"cio_id": "c1", "id": "1", "email": "ann@x.com"}], "segments": [{"id": 1, "name": "s", "members": ["c1"]}]})
    with role_without_temporary(pg_url, "shop_people") as restricted, Sandbox(workspace, api_key="k") as sandbox:
        config = parse_config(MINIMAL.format(top='diff = "database"', customerio=f'base_url = "{sandbox.url}"',
                                             segment="").replace("sqlite:///shop.db", restricted)
                              .replace("SELECT 1 AS id", "SELECT id, email FROM shop_people"), Path("config.toml"))
        run = run_audit(config, as_of=AS_OF)
    segment, = run.segments
    assert segment.status == "error" and run.status == "error"
    assert segment.error.startswith("segment a: diff = \"database\" could not write Customer.io's members into "
                                    "a temporary table (permission denied")
    assert segment.error.endswith('grant the TEMPORARY privilege (see README) or set diff = "memory"')


MINIMAL = """{top}
[database]
url = "sqlite:///shop.db"
[customerio]
app_api_key = "k"
{customerio}
[[segments]]
name = "a"
customerio_segment_id = 1
sql = "SELECT 1 AS id"
{segment}
"""


def test_diff_and_membership_keys_default_inherit_and_name_their_path():
    from reconcile.config import parse_config
    from reconcile.errors import ConfigError
    plain = parse_config(MINIMAL.format(top="", customerio="", segment=""))
    assert (plain.diff, plain.customerio.membership, plain.customerio.export_above) == ("memory", "pages", 1_000_000)
    assert (plain.diff_for(plain.segments[0]), plain.membership_for(plain.segments[0])) == ("memory", "pages")
    config = parse_config(MINIMAL.format(top='diff = "database"', customerio='membership = "auto"\nexport_above = 5',
                                         segment='diff = "memory"\nmembership = "export"'))
    assert (config.diff, config.diff_for(config.segments[0])) == ("database", "memory")
    assert (config.customerio.export_above, config.membership_for(config.segments[0])) == (5, "export")
    for top, customerio, segment, where in [('diff = "db"', "", "", ": diff: expected one of"),
                                            ("", 'membership = "all"', "", "customerio.membership: expected one of"),
                                            ("", "export_above = 0", "", "customerio.export_above: expected a positive"),
                                            ("", "", 'diff = "warehouse"', "segments[0].diff: expected one of")]:
        with pytest.raises(ConfigError, match=where.replace("[", r"\[").replace("]", r"\]")):
            parse_config(MINIMAL.format(top=top, customerio=customerio, segment=segment))
