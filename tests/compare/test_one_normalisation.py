"""One normalisation (issue 14, point 6): ``diff = "database"`` equals ``diff = "memory"`` on every
identifier, Unicode included, on SQLite, PostgreSQL and MariaDB.

Property tests generate truth keys and Customer.io members from an alphabet built to break a
database's own rules (no-break and other Unicode spaces around and as whole ids, ``É``/``é``,
``İ`` whose lower case is two characters in Python, ``ß``, the three sigmas, a combining accent,
a zero-width space, an emoji) plus any other character, and members that are the truth's keys
spelled another way; both diffs must find the same people. Key columns the database would spell
differently from Python (a float id) are refused with a message on PostgreSQL and MariaDB.
"""

from __future__ import annotations

import itertools
from datetime import datetime, timezone

import pytest
from hypothesis import HealthCheck, given, settings, strategies as st
from sqlalchemy import create_engine, text

from reconcile.compare.diff import diff_segment
from reconcile.compare.in_database import diff_in_database
from reconcile.config import DatabaseConfig, SegmentConfig
from reconcile.customerio import MemoryMembership
from reconcile.errors import DatabaseError
from reconcile.shop import open_engine, run_truth

AS_OF = datetime(2026, 11, 28, 9, 30, tzinfo=timezone.utc)
AWKWARD = " \t\x1c\x85\xa0\u1680\u2003\u2028\u3000" + "AaÉéİıiIßẞΣσςSs\u0301\u200b😀07@."
anything = st.characters(blacklist_categories=("Cs",), blacklist_characters="\x00")
identifier = st.one_of(st.text(st.sampled_from(AWKWARD), max_size=5), st.text(anything, max_size=6))
spellings = [str.upper, str.lower, str.casefold, lambda v: f"\u00a0{v}\u00a0", lambda v: f" {v}\t", str.strip,
             lambda v: v + "\u200b"]
spelled_again = st.tuples(st.integers(0, 30), st.sampled_from(spellings))   # a truth key, spelled another way
member = st.one_of(st.none(), identifier, spelled_again, spelled_again, spelled_again)
TABLES = itertools.count(1)
EXAMPLES = settings(max_examples=40, deadline=None,
                    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow])


def spelled(drawn, truth: list[str | None]) -> str | None:
    """A drawn member: as drawn, or (n, spelling): the n-th truth key spelled another way."""
    if not isinstance(drawn, tuple):
        return drawn
    n, spell = drawn
    return spell(truth[n % len(truth)] or "") if truth else None


def people(diff, columns=("id", "email", "cio_id")) -> list[tuple]:
    frame = diff.extra if "cio_id" in columns else diff.missing
    return sorted(tuple("" if v is None else str(v) for v in row)
                  for row in frame[list(columns)].astype(object).where(frame[list(columns)].notna(), None).values.tolist())


def both_diffs(engine, table: str, key: str, members: list[str | None]):
    segment = SegmentConfig(name="s", customerio_segment_id=1, sql=f"SELECT id, email FROM {table}")
    membership = MemoryMembership(1)
    membership.add_page({"identifiers": [{"id": value, "email": value, "cio_id": f"c{n}"}
                                         for n, value in enumerate(members)]})
    memory = diff_segment(run_truth(engine, segment, key, AS_OF).people, membership, key)
    return memory, diff_in_database(engine, segment, key, AS_OF, membership)[1]


@EXAMPLES
@given(truth=st.lists(st.one_of(st.none(), identifier), max_size=12), members=st.lists(member, max_size=14))
def test_the_database_diff_is_the_memory_diff_on_any_unicode(any_db_url, truth, members):
    members = [spelled(m, truth) for m in members]
    table = f"people_{next(TABLES)}"
    setup = create_engine(any_db_url)
    with setup.begin() as conn:
        conn.execute(text(f"CREATE TABLE {table} (id VARCHAR(64), email VARCHAR(64))"))
        if truth:
            conn.execute(text(f"INSERT INTO {table} VALUES (:v, :v)"), [{"v": v} for v in truth])
    setup.dispose()
    engine = open_engine(DatabaseConfig(url=any_db_url))
    try:
        for key in ("id", "email"):
            memory, database = both_diffs(engine, table, key, members)
            for name in ("truth_count", "customerio_count", "matched", "duplicate_profiles", "keyless_profiles"):
                assert getattr(database, name) == getattr(memory, name), (key, name)
            assert people(database, ("id", "email")) == people(memory, ("id", "email")), key
            assert people(database) == people(memory), key
    finally:
        engine.dispose()


@pytest.mark.parametrize("value, member", [
    ("\u00a0", "x"), ("\u00a0ann@x.com\u00a0", "ann@x.com"), ("ÉMILE@x.com", "émile@x.com"),
    ("İNCI@x.com", "inci@x.com"), ("İNCI@x.com", "i\u0307nci@x.com"), ("STRASSE@x.com", "straße@x.com"),
    ("ΣΑΣ@x.com", "σας@x.com"), ("ΣΑΣ@x.com", "σασ@x.com"),
])
def test_the_identifiers_the_two_diffs_used_to_disagree_on(any_db_url, value, member):
    """The issue's cases, each on its own: both diffs agree (and match Python's own rule)."""
    setup = create_engine(any_db_url)
    with setup.begin() as conn:
        conn.execute(text("CREATE TABLE people_fixed (id VARCHAR(64), email VARCHAR(64))"))
        conn.execute(text("INSERT INTO people_fixed VALUES (:v, :v)"), {"v": value})
    setup.dispose()
    engine = open_engine(DatabaseConfig(url=any_db_url))
    try:
        for key in ("id", "email"):
            memory, database = both_diffs(engine, "people_fixed", key, [member])
            assert (database.truth_count, database.matched, database.customerio_count) == \
                (memory.truth_count, memory.matched, memory.customerio_count), (key, value, member)
    finally:
        engine.dispose()


def test_a_person_with_several_rows_is_their_first_row_in_both_diffs(any_db_url):
    """One person, several truth rows spelled differently: both diffs show the row the truth SQL
    returns first (the table's insertion order here). MariaDB's ROW_NUMBER() OVER () reorders
    rows it has no sort key for, in some tables and not others; forty fresh tables catch it."""
    rows = [None, None, None, "0", "0\x85", "ann@x.com", "\u00a0ANN@x.com", None, "Ann@X.com "]
    setup = create_engine(any_db_url)
    engine = open_engine(DatabaseConfig(url=any_db_url))
    try:
        for n in range(40):
            with setup.begin() as conn:
                conn.execute(text(f"CREATE TABLE several_{n} (id VARCHAR(64), email VARCHAR(64))"))
                conn.execute(text(f"INSERT INTO several_{n} VALUES (:v, :v)"), [{"v": v} for v in rows])
            memory, database = both_diffs(engine, f"several_{n}", "email", [])
            assert people(memory, ("id", "email")) == [("0", "0"), ("ann@x.com", "ann@x.com")]
            assert people(database, ("id", "email")) == people(memory, ("id", "email")), n
    finally:
        engine.dispose()
        setup.dispose()


@pytest.mark.parametrize("column", ["DOUBLE PRECISION", "DECIMAL(10, 2)"])
def test_a_key_column_the_database_spells_otherwise_is_refused_or_read_by_python(any_db_url, column):
    """417.0 is "417" in Python: SQLite hands such values to Python's rule; PostgreSQL and MariaDB,
    which would spell them "417" "417.0" or "417.00", refuse the segment with what to do."""
    column = "DOUBLE" if column == "DOUBLE PRECISION" and "mysql" in any_db_url else column
    setup = create_engine(any_db_url)
    with setup.begin() as conn:
        conn.execute(text(f"CREATE TABLE numbered (id {column}, email VARCHAR(64))"))
        conn.execute(text("INSERT INTO numbered VALUES (417, 'a@x.com'), (7.5, 'b@x.com')"))
    setup.dispose()
    engine = open_engine(DatabaseConfig(url=any_db_url))
    try:
        if any_db_url.startswith("sqlite"):
            memory, database = both_diffs(engine, "numbered", "id", ["417", "7.5"])
            assert database.matched == memory.matched == 2
            return
        with pytest.raises(DatabaseError) as refused:
            both_diffs(engine, "numbered", "id", ["417"])
        assert str(refused.value).startswith('segment s: diff = "database" compares the id as text, and the truth '
                                             "SQL's id column is ")
        assert str(refused.value).endswith('cast it in the SQL (CAST(id AS BIGINT), or to text) or set diff = '
                                           '"memory" for this segment')
    finally:
        engine.dispose()
