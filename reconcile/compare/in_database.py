"""The diff pushed into the shop database: ``diff = "database"``.

Customer.io's members are staged into a TEMPORARY table on the same connection as the truth
query, page by page as the API returns them (:class:`DatabaseMembership`, a
:class:`~reconcile.customerio.membership.Membership`), and the missing/extra people are found
there with joins: neither side is held in Python, only the differing people and a few counts.

Why it looks like this:

* **No write access beyond temporary tables.** The temporary table is created and filled
  through :func:`reconcile.shop.database.own_statements`, in short transactions that touch
  nothing else (one per page: COPY on PostgreSQL, ``executemany`` in batches elsewhere), and the
  truth SQL then runs exactly as in memory: in a read-only, time-limited transaction that is
  rolled back. Grants: PostgreSQL ``GRANT TEMPORARY ON DATABASE shop TO shop_ro``; MySQL and
  MariaDB ``GRANT CREATE TEMPORARY TABLES ON shop.* TO shop_ro``. The table lives only as long
  as the connection.
* **The same counting rules.** The Customer.io side is normalised in Python
  (:func:`reconcile.identity.normalize_keys`, exact) before it is staged, with its position in
  the API's order, so surplus profiles and keyless members are decided as in memory. The truth
  side is normalised by the database where it can be exact (ASCII text, integers) and by
  Python's own rule everywhere else (:mod:`.keys_in_database`), so the two diffs are equal on
  every identifier; a key column the database would spell differently (float, decimal) is
  refused with a message, never compared another way.
* **Comparisons are exact strings.** MariaDB/MySQL compare with the no-pad binary collation,
  not the default case- and trailing-space-insensitive one.
"""

from __future__ import annotations

import logging
import time
import uuid
from datetime import datetime
from typing import Any, Callable

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.csv as pacsv
from sqlalchemy import text

from ..config import SegmentConfig
from ..customerio.membership import MEMBER, Membership, members_table, read_page
from ..errors import DatabaseError, first_line
from ..identity import normalize_keys, string_index
from ..shop.database import Window, bind_window, database_cause, own_statements
from ..shop.truth import TruthSet, truth_errors
from .diff import SegmentDiff, truth_rows
from .keys_in_database import BLANKS, check_key_type, key_relation, map_python_keys, register_python_rule

log = logging.getLogger(__name__)

BATCH = 20_000
STAGED_CHARACTERS = 512      # MariaDB and MySQL index a VARCHAR of at most this many utf8mb4 characters


def diff_in_database(engine, segment: SegmentConfig, key: str, as_of: datetime, membership: Membership
                     ) -> tuple[TruthSet, SegmentDiff]:
    """``(truth, diff)`` computed in the database; ``truth.people`` holds only the missing people.

    ``membership`` is a :class:`DatabaseMembership` (the pages went straight into the database) or
    any other membership, staged here at once and dropped afterwards."""
    started = time.perf_counter()
    given = isinstance(membership, DatabaseMembership)
    staged = membership if given else DatabaseMembership.of(engine, segment, key, membership)
    try:
        with truth_errors(segment, engine):
            staged.prepare()
            truth, diff = _compare(staged, segment, key, as_of)
    finally:
        if not given:
            staged.close()
    truth.seconds = time.perf_counter() - started
    return truth, diff


# ---------------------------------------------------------------------- staging


class DatabaseMembership:
    """A segment's members in a TEMPORARY table of the shop database, written page by page as the
    API returns them: with ``diff = "database"`` only counts stay in Python, so the diff's memory
    does not grow with the segment.

    The table lives as long as the connection this object holds, until :meth:`close`. Each page
    is written in a short transaction of its own, outside the read-only one the truth SQL runs in
    (PostgreSQL refuses ``CREATE TEMP TABLE`` in a read-only transaction). The diagnosis reads the
    identifiers back in the API's order (:meth:`table`), only when it runs.
    """

    def __init__(self, engine, segment: SegmentConfig, key: str):
        self.segment, self.segment_id, self.key = segment, segment.customerio_segment_id, key
        self.dialect = engine.dialect.name
        self.name = f"reconcile_cio_{uuid.uuid4().hex[:12]}"
        self.pages = self.keyless = self._count = 0
        self._text = "text" if self.dialect in ("postgresql", "sqlite") else \
            f"VARCHAR({STAGED_CHARACTERS}) CHARACTER SET utf8mb4 COLLATE utf8mb4_nopad_bin"
        self._dbapi_error = engine.dialect.dbapi.Error
        with truth_errors(segment, engine):
            self.connection = engine.connect()
        try:
            self._own(f"CREATE TEMPORARY TABLE {self.name} (pos BIGINT NOT NULL, k {self._text}, id {self._text}, "
                      f"email {self._text}, cio_id {self._text})")
        except BaseException:
            self.close()
            raise

    @classmethod
    def of(cls, engine, segment: SegmentConfig, key: str, membership: Membership) -> "DatabaseMembership":
        """Any membership staged at once."""
        staged = cls(engine, segment, key)
        try:
            staged.add(membership.table())
        except BaseException:
            staged.close()
            raise
        staged.pages = membership.pages
        return staged

    def __len__(self) -> int:
        return self._count

    def add_page(self, page: dict[str, Any]) -> None:
        """One membership page (:func:`~reconcile.customerio.membership.read_page`) into the table."""
        self.add_chunk(read_page(page))

    def add_chunk(self, chunk: pa.StructArray) -> None:
        """Members already read (:data:`~reconcile.customerio.membership.MEMBER`), e.g. a batch of an export file."""
        self.add(pa.table({name: chunk.field(name) for name in ("id", "email", "cio_id")}))

    def add(self, members: pa.Table) -> None:
        """Members (``id``, ``email``, ``cio_id``) appended in the API's order, with their
        normalised key (:func:`reconcile.identity.normalize_keys`: exact, so surplus profiles and
        keyless members are decided as in memory) and their position."""
        keys = normalize_keys(members.column(self.key), self.key)
        rows = pa.table({"pos": pa.array(np.arange(self._count, self._count + len(keys), dtype=np.int64)), "k": keys,
                         **{name: members.column(name) for name in ("id", "email", "cio_id")}})
        self._own(lambda cursor: _load(cursor, self.dialect, self.name, rows))
        self._count += len(keys)
        self.keyless += keys.null_count

    def prepare(self) -> None:
        """After the last page: the distinct keys, and an empty table the truth's keys are read into."""
        name, text_type = self.name, self._text
        if self.dialect == "postgresql":
            # the truth's keys, the missing and the extra keys (:func:`_compare_postgresql`);
            # hash joins need no index; autovacuum never analyses a temporary table
            statements = [f"CREATE TEMPORARY TABLE {name}_t (k {text_type}, raw {text_type})"]
            statements += [f"CREATE TEMPORARY TABLE {name}{suffix} (k {text_type})" for suffix in ("_m", "_x")]
            statements.append(f"ANALYZE {name}")
        else:
            # the distinct Customer.io keys (:func:`_compare_joined`); indexes built once the rows
            # are in (a B-tree filled in the API's random order is slower)
            statements = [f"CREATE TEMPORARY TABLE {name}_d (k {text_type})",
                          f"INSERT INTO {name}_d (k) SELECT DISTINCT k FROM {name} WHERE k IS NOT NULL",
                          f"CREATE INDEX {name}_k ON {name} (k)", f"CREATE UNIQUE INDEX {name}_dk ON {name}_d (k)"]
        if self.dialect != "sqlite":   # the keys Python normalises (:mod:`.keys_in_database`)
            statements.append(f"CREATE TEMPORARY TABLE {name}_u (raw {text_type}, k {text_type})")
        if self.dialect in ("mysql", "mariadb"):
            statements.append(f"CREATE INDEX {name}_ur ON {name}_u (raw)")
            # the truth SQL as a derived table is then run once, as written, not merged into the
            # anti-join, whose merged plans MariaDB can make orders of magnitude slower
            statements.append("SET SESSION optimizer_switch = 'derived_merge=off'")
        self._own(*statements)

    def table(self) -> pa.Table:
        """The members' ``id``, ``email`` and ``cio_id`` in the API's order, read back in batches."""
        chunks = []
        with truth_errors(self.segment, self.connection.engine), self.connection.begin() as transaction:
            result = self.connection.execute(text(f"SELECT id, email, cio_id FROM {self.name} ORDER BY pos"),
                                             execution_options={"stream_results": True})
            for rows in result.partitions(BATCH * 5):
                chunks.append(pa.StructArray.from_arrays([pa.array(column, pa.string()) for column in zip(*rows)],
                                                         fields=list(MEMBER)))
            transaction.rollback()
        return members_table(chunks)

    def close(self) -> None:
        """Close the connection for good (invalidated, so that no pool keeps it): the temporary
        tables go with it. Never raises: the comparison is done by then; a second call does nothing."""
        if self.connection.closed:
            return
        try:
            self.connection.invalidate()
            self.connection.close()
        except Exception as exc:
            log.warning("could not close the connection of %s (%s)", self.name, exc.__class__.__name__)

    def _own(self, *work: str | Callable[[Any], None]) -> None:
        """Statements (or functions of a cursor) of reconcile's own, on its own tables, committed
        at once (:func:`~reconcile.shop.database.own_statements`)."""
        try:
            with own_statements(self.connection) as cursor:
                for step in work:
                    step(cursor) if callable(step) else cursor.execute(step)
        except self._dbapi_error as exc:
            raise DatabaseError(f"segment {self.segment.name}: {self._staging_failure(first_line(exc))}") from None

    def _staging_failure(self, message: str) -> str:
        """What stopped the staging, in words that name the cause and what to do."""
        cause = database_cause(message)
        if cause == "nul":
            return (f"a Customer.io identifier holds a NUL character (0x00), which {self.dialect} cannot store "
                    f"({message}); set diff = \"memory\" for this segment, or fix that profile")
        if cause == "too_long":
            return (f"a Customer.io identifier is longer than the {STAGED_CHARACTERS} characters the staging table "
                    f"holds ({message}); set diff = \"memory\" for this segment")
        if cause in ("lost", "cancelled", "timeout", "connect"):
            said = {"lost": "the staging connection was lost", "cancelled": "the staging was cancelled on the server",
                    "timeout": "the staging ran past database.statement_timeout_seconds",
                    "connect": "the staging connection could not be opened"}[cause]
            return f"diff = \"database\": {said} ({message}); check the server's log, then re-run"
        return (f"diff = \"database\" could not write Customer.io's members into a temporary table ({message}); "
                "grant the TEMPORARY privilege (see README) or set diff = \"memory\"")


def _load(cursor, dialect: str, table: str, data: pa.Table) -> None:
    """Rows into a staged table in batches: CSV through COPY on PostgreSQL, executemany elsewhere."""
    names = ", ".join(data.column_names)
    for batch in data.to_batches(max_chunksize=BATCH if dialect != "postgresql" else 10 * BATCH):
        if dialect == "postgresql":
            # Arrow quotes every string and leaves nulls bare: COPY's CSV reads "" as "" and bare as NULL
            buffer = pa.BufferOutputStream()
            pacsv.write_csv(batch, buffer, pacsv.WriteOptions(include_header=False))
            with cursor.copy(f"COPY {table} ({names}) FROM STDIN WITH (FORMAT csv)") as copy:
                copy.write(buffer.getvalue().to_pybytes())
        else:
            marks = ", ".join(["?" if dialect == "sqlite" else "%s"] * data.num_columns)
            cursor.executemany(f"INSERT INTO {table} ({names}) VALUES ({marks})",
                               list(zip(*(column.to_pylist() for column in batch.columns))))


# ---------------------------------------------------------------------- comparing


def normalised_key(dialect: str, column: str, key: str) -> str:
    """SQL for ``column`` normalised as the identity ``key`` (``"id"`` or ``"email"``), NULL
    where it has none: the database's own spelling of :func:`reconcile.identity.normalizer`, for
    the purchases' comparison (:mod:`reconcile.purchases.in_database`). Exact for integers and
    ASCII text; the segments' diff goes further, to every identifier (:mod:`.keys_in_database`)."""
    if dialect == "postgresql":
        chars = " || ".join(f"chr({c})" for c in BLANKS)
        value, trimmed = f"CAST({column} AS text)", f"btrim(CAST({column} AS text), {chars})"
        return f"NULLIF(lower({trimmed}), '')" if key == "email" else \
            f"CASE WHEN {trimmed} = '' THEN NULL ELSE {value} END"
    if dialect in ("mysql", "mariadb"):
        value = f"CAST({column} AS CHAR CHARACTER SET utf8mb4) COLLATE utf8mb4_nopad_bin"
        trimmed = f"REGEXP_REPLACE({value}, '^[[:space:]\\\\x1c-\\\\x1f]+|[[:space:]\\\\x1c-\\\\x1f]+$', '')"
        return f"NULLIF(LOWER({trimmed}), '')" if key == "email" else \
            f"CASE WHEN {trimmed} = '' THEN NULL ELSE {value} END"
    value = f"CAST({column} AS TEXT)"
    chars = " || ".join(f"char({c})" for c in BLANKS)
    trimmed = f"trim({value}, {chars})"
    return f"NULLIF(lower({trimmed}), '')" if key == "email" else f"CASE WHEN {trimmed} = '' THEN NULL ELSE {value} END"


# Each comparison gives the counts (truth rows, rows with a key, distinct truth keys, keys matched,
# distinct Customer.io keys), the missing people's truth rows and the extra members' staged rows.
# The truth's keys are normalised as :mod:`.keys_in_database` says; the keys Python must
# normalise are mapped into ``<table>_u`` before the counts that need them.


def _compare_postgresql(run, table: str, keyed: Callable[..., str], key: str):
    """The truth's keys read once into a temporary table (allowed in a read-only transaction), and
    one full join of both sides' distinct keys that counts and writes down the missing and extra
    keys; the rows are then fetched by those few keys. One join reads each side once, where three
    anti-joins would read both sides three times, and a correlated NOT EXISTS would probe the
    truth query once per key. Keys beyond ASCII are normalised by Python and written back."""
    run(f"INSERT INTO {table}_t (k, raw) SELECT tr.reconcile_key, tr.reconcile_raw FROM {keyed(False)}")
    raws = [raw for raw, in run(f"SELECT DISTINCT raw FROM {table}_t WHERE raw IS NOT NULL")]
    if raws:
        map_python_keys(run, table, key, raws)
        run(f"UPDATE {table}_t SET k = u.k FROM {table}_u u WHERE {table}_t.raw = u.raw")
    run(f"ANALYZE {table}_t")                  # allowed read-only: it writes statistics only
    counts = run(
        f"WITH g AS (SELECT k, COUNT(*) AS n FROM {table}_t GROUP BY k), "
        f"c AS (SELECT DISTINCT k FROM {table} WHERE k IS NOT NULL), "
        "j AS (SELECT g.k AS tk, g.n, c.k AS ck FROM g FULL JOIN c ON c.k = g.k), "
        f"m AS (INSERT INTO {table}_m (k) SELECT tk FROM j WHERE tk IS NOT NULL AND ck IS NULL), "
        f"x AS (INSERT INTO {table}_x (k) SELECT ck FROM j WHERE n IS NULL) "
        "SELECT SUM(n), SUM(CASE WHEN tk IS NOT NULL THEN n END), COUNT(tk), "
        "COUNT(CASE WHEN tk IS NOT NULL AND ck IS NOT NULL THEN 1 END), COUNT(ck) FROM j").one()
    run(f"ANALYZE {table}_m, {table}_x")
    extra = [tuple(row) for row in run(f"SELECT c.pos, c.k, c.id, c.email, c.cio_id FROM {table} c "
                                       f"WHERE c.k IS NULL OR c.k IN (SELECT k FROM {table}_x) ORDER BY c.pos")]
    missing = run(f"SELECT tr.* FROM {keyed(bool(raws), True)} JOIN {table}_m m ON m.k = tr.reconcile_key "
                  "ORDER BY tr.reconcile_row")
    return counts, missing, extra     # (the missing rows last: the caller reads them)


def _compare_joined(run, table: str, keyed: Callable[..., str], key: str):
    """The truth query as a derived table in each statement, anti-joined to the distinct
    Customer.io keys: SQLite's query_only forbids writing its keys down, and MariaDB plans an
    INSERT ... SELECT of an EXISTS truth query far worse than the same SELECT. On MariaDB, keys
    beyond ASCII (counted by the first pass) are normalised by Python and the counts read again."""
    def count(mapped: bool) -> tuple:
        truth_keys = f"(SELECT tr.reconcile_key AS k, tr.reconcile_raw AS r FROM {keyed(mapped)})"
        # grouped: a hash, not the sort COUNT(DISTINCT) makes
        return run(f"SELECT SUM(g.n), SUM(CASE WHEN g.k IS NOT NULL THEN g.n END), COUNT(g.k), COUNT(d.k), SUM(g.r) "
                   f"FROM (SELECT t.k, COUNT(*) AS n, COUNT(t.r) AS r FROM {truth_keys} t GROUP BY t.k) g "
                   f"LEFT JOIN {table}_d d ON d.k = g.k").one()

    *counts, raws = count(False)
    if raws:
        map_python_keys(run, table, key, [raw for raw, in run(
            f"SELECT DISTINCT tr.reconcile_raw FROM {keyed(False)} WHERE tr.reconcile_raw IS NOT NULL")])
        *counts, _ = count(True)
    truth_keys = f"(SELECT tr.reconcile_key AS k FROM {keyed(bool(raws))})"
    extra = [tuple(row) for row in run(
        f"SELECT c.pos, c.k, c.id, c.email, c.cio_id FROM {table} c LEFT JOIN "
        f"(SELECT DISTINCT k FROM {truth_keys} tt WHERE k IS NOT NULL) tk ON tk.k = c.k "
        f"WHERE c.k IS NULL OR tk.k IS NULL ORDER BY c.pos")]
    distinct = run(f"SELECT COUNT(*) FROM {table}_d").scalar()
    missing = run(f"SELECT tr.* FROM {keyed(bool(raws), True)} LEFT JOIN {table}_d d ON d.k = tr.reconcile_key "
                  f"WHERE tr.reconcile_key IS NOT NULL AND d.k IS NULL ORDER BY tr.reconcile_row")
    return (*counts, distinct), missing, extra     # (the missing rows last: the caller reads them)


def _compare(staged: DatabaseMembership, segment: SegmentConfig, key: str, as_of: datetime
             ) -> tuple[TruthSet, SegmentDiff]:
    conn, dialect, table = staged.connection, staged.dialect, staged.name
    window = Window.ending(as_of, segment.window_days)
    sql = segment.sql.strip().rstrip(";").strip()
    bind_window(sql, dialect, window)                   # the parameter check, as in memory
    if dialect == "sqlite":
        register_python_rule(conn, key)

    def run(query, rows=None):
        return conn.execute(query, rows) if rows is not None else conn.execute(*bind_window(query, dialect, window))

    with conn.begin() as transaction:       # the engine's guard: read-only, time-limited
        check_key_type(conn, dialect, sql, key, window, segment.name)
        utf8 = dialect != "postgresql" or run("SELECT current_setting('server_encoding')").scalar() == "UTF8"

        def keyed(mapped: bool, numbered: bool = False) -> str:
            return key_relation(dialect, key, sql, table, mapped, utf8, numbered)

        compare = _compare_postgresql if dialect == "postgresql" else _compare_joined
        counts, missing_result, extra_rows = compare(run, table, keyed, key)
        missing_columns = list(missing_result.keys())
        missing_rows = [tuple(row) for row in missing_result]
        transaction.rollback()

    rows_read, keyed_rows, truth_count, matched, distinct = (int(value or 0) for value in counts)
    truth_columns = missing_columns[3:]
    if not any(c == key or c.lower() == key.lower() for c in truth_columns):
        raise DatabaseError(f"segment {segment.name}: the truth SQL returns no column named \"{key}\" (identity.key)")
    missing_frame = pd.DataFrame.from_records(missing_rows, columns=missing_columns)
    missing_frame = missing_frame.drop_duplicates("reconcile_key", keep="first")
    people = missing_frame.drop(columns=["reconcile_key", "reconcile_raw", "reconcile_row"])
    people.index = string_index(pa.array(missing_frame["reconcile_key"].astype(object).tolist(), pa.string()))
    truth = TruthSet(key=key, people=people, rows_read=rows_read, rows_without_key=rows_read - keyed_rows,
                     columns=truth_columns)

    keyless = staged.keyless
    extra, seen = [], set()
    for pos, k, id_, email, cio_id in extra_rows:
        if k is not None:
            if k in seen:
                continue
            seen.add(k)
        extra.append((pos, k, id_, email, cio_id))
    keyed_extra = [row for row in extra if row[1] is not None]
    keyless_extra = [row for row in extra if row[1] is None]
    extra_frame = pd.DataFrame([row[2:] for row in keyed_extra + keyless_extra], columns=["id", "email", "cio_id"],
                               dtype=object)
    extra_frame = extra_frame.astype(object).where(extra_frame.notna(), None)
    diff = SegmentDiff(truth_count=truth_count, customerio_count=distinct + keyless, customerio_profiles=len(staged),
                       matched=matched, missing=truth_rows(people, key), extra=extra_frame,
                       duplicate_profiles=len(staged) - keyless - distinct, keyless_profiles=keyless)
    return truth, diff


__all__ = ["diff_in_database", "DatabaseMembership", "normalised_key"]
