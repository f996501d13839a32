"""The diff pushed into the shop database: ``diff = "database"``.

Customer.io's members are staged into a TEMPORARY table on the same connection as the truth
query, and the missing/extra people are found there with anti-joins, so the truth set never
comes into Python (only the differing people do, and a few counts).

Why it looks like this:

* **No write access beyond temporary tables.** PostgreSQL refuses ``CREATE TEMP TABLE`` inside
  a read-only transaction (checked: "cannot execute CREATE TABLE in a read-only transaction"),
  so the temporary table is created and filled in its own short transaction that touches
  nothing else (COPY on PostgreSQL, ``executemany`` in batches elsewhere), committed, and the
  truth SQL then runs exactly as in memory: in a read-only, time-limited transaction that is
  rolled back. Grants: PostgreSQL ``GRANT TEMPORARY ON DATABASE shop TO shop_ro``; MySQL and
  MariaDB ``GRANT CREATE TEMPORARY TABLES ON shop.* TO shop_ro``. The table lives only as long
  as the connection.
* **The same counting rules.** The Customer.io side is normalised in Python
  (:func:`reconcile.columnar.normalize_keys`, exact) before it is staged, with its position in
  the API's order, so surplus profiles and keyless members are decided as in memory. The truth
  side is normalised by the database: ``CAST(key AS text)``, an id that is only blanks has no
  key, an email is trimmed and lower-cased. That equals Python's rules for integer and text
  columns (tested on PostgreSQL and MariaDB); a float or decimal id column renders the
  database's way ("417.0"), so cast such a column in the SQL.
* **Comparisons are exact strings.** MariaDB/MySQL compare with the no-pad binary collation,
  not the default case- and trailing-space-insensitive one.
"""

from __future__ import annotations

import time
import uuid
from datetime import datetime

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.csv as pacsv
from .columnar import membership_table, normalize_keys, string_index
from .config import SegmentConfig
from .diff import SegmentDiff, _truth_rows
from .errors import DatabaseError
from .truth import TruthSet, Window, bound_statement, truth_errors

BATCH = 20_000
BLANKS = (32, 9, 10, 11, 12, 13, 28, 29, 30, 31)   # what str.strip() removes among ASCII characters


def pushdown_diff(engine, segment: SegmentConfig, key: str, as_of: datetime, membership) -> tuple[TruthSet, SegmentDiff]:
    """``(truth, diff)`` computed in the database; ``truth.people`` holds only the missing people."""
    started = time.perf_counter()
    members = membership_table(membership)
    keys = normalize_keys(members.column(key), key)
    table = f"reconcile_cio_{uuid.uuid4().hex[:12]}"
    dialect = engine.dialect.name
    with truth_errors(segment, engine), engine.connect() as conn:
        _stage(conn, dialect, table, keys, members)
        truth, diff = _compare(conn, dialect, table, segment, key, as_of, members, keys)
    truth.seconds = time.perf_counter() - started
    return truth, diff


# ---------------------------------------------------------------------- staging


def _stage(conn, dialect: str, table: str, keys: pa.Array, members: pa.Table) -> None:
    """Create and fill the temporary table in its own transaction, outside the read-only one.

    The driver connection is used directly, before SQLAlchemy begins a transaction on this
    connection, so the engine's read-only guard applies to the truth query only.
    """
    raw = conn.connection.dbapi_connection
    text_type = "text" if dialect in ("postgresql", "sqlite") else \
        "VARCHAR(512) CHARACTER SET utf8mb4 COLLATE utf8mb4_nopad_bin"
    create = (f"CREATE TEMPORARY TABLE {table} (pos BIGINT NOT NULL, k {text_type}, "
              f"id {text_type}, email {text_type}, cio_id {text_type})")
    staged = pa.table({"pos": pa.array(np.arange(len(keys), dtype=np.int64)), "k": keys,
                       **{name: members.column(name) for name in ("id", "email", "cio_id")}})
    distinct = pa.table({"k": pc.unique(keys.filter(pc.is_valid(keys)))})
    cursor = raw.cursor()
    try:
        cursor.execute(create)
        _load(cursor, dialect, table, staged)
        cursor.execute(f"CREATE INDEX {table}_k ON {table} (k)")
        # the distinct Customer.io keys, and an empty table the truth's keys are read into
        cursor.execute(f"CREATE TEMPORARY TABLE {table}_d (k {text_type} PRIMARY KEY)")
        _load(cursor, dialect, f"{table}_d", distinct)
        cursor.execute(f"CREATE TEMPORARY TABLE {table}_t (k {text_type})")
        if dialect in ("mysql", "mariadb"):
            # the truth SQL as a derived table is then run once, as written, not merged into the
            # anti-join (merged, one demo segment's plan took 24 s instead of 0.05 s)
            cursor.execute("SET SESSION optimizer_switch = 'derived_merge=off'")
        cursor.execute(f"CREATE INDEX {table}_tk ON {table}_t (k)")
        raw.commit()
    except BaseException:
        raw.rollback()
        raise
    finally:
        cursor.close()


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


def _normalised(dialect: str, key: str) -> str:
    """SQL for the normalised key of the truth row ``t`` (NULL where it has none)."""
    if dialect == "postgresql":
        chars = " || ".join(f"chr({c})" for c in BLANKS)
        value, trimmed = f"CAST(t.{key} AS text)", f"btrim(CAST(t.{key} AS text), {chars})"
        return f"NULLIF(lower({trimmed}), '')" if key == "email" else \
            f"CASE WHEN {trimmed} = '' THEN NULL ELSE {value} END"
    if dialect in ("mysql", "mariadb"):
        value = f"CAST(t.{key} AS CHAR CHARACTER SET utf8mb4) COLLATE utf8mb4_nopad_bin"
        trimmed = f"REGEXP_REPLACE({value}, '^[[:space:]\\\\x1c-\\\\x1f]+|[[:space:]\\\\x1c-\\\\x1f]+$', '')"
        return f"NULLIF(LOWER({trimmed}), '')" if key == "email" else \
            f"CASE WHEN {trimmed} = '' THEN NULL ELSE {value} END"
    value = f"CAST(t.{key} AS TEXT)"
    chars = " || ".join(f"char({c})" for c in BLANKS)
    trimmed = f"trim({value}, {chars})"
    return f"NULLIF(lower({trimmed}), '')" if key == "email" else f"CASE WHEN {trimmed} = '' THEN NULL ELSE {value} END"


def _compare(conn, dialect: str, table: str, segment: SegmentConfig, key: str, as_of: datetime,
             members: pa.Table, keys: pa.Array) -> tuple[TruthSet, SegmentDiff]:
    naive = dialect != "postgresql"
    window = Window.ending(as_of, segment.window_days)
    sql = segment.sql.strip().rstrip(";").strip()
    bound_statement(sql, naive)                         # the parameter check, as in memory
    truth_rows = f"(SELECT {_normalised(dialect, key)} AS reconcile_key, t.* FROM ({sql}) t) tr"

    def run(query: str):
        return conn.execute(bound_statement(query, naive), window.parameters(naive))

    # On PostgreSQL the truth's keys are read once into a temporary table (allowed in a read-only
    # transaction). Elsewhere the truth query is a derived table in each statement: SQLite's
    # query_only forbids the INSERT, and MariaDB's INSERT ... SELECT planned the demo's EXISTS
    # segment 200 times slower than the same SELECT. A derived truth table inside a correlated
    # NOT EXISTS took minutes on PostgreSQL at 1M, hence the LEFT JOINs on distinct keys.
    materialised = dialect == "postgresql"
    truth_keys = f"{table}_t" if materialised else f"(SELECT tr.reconcile_key AS k FROM {truth_rows})"
    with conn.begin() as transaction:       # the engine's guard: read-only, time-limited
        if materialised:
            run(f"INSERT INTO {table}_t (k) SELECT tr.reconcile_key FROM {truth_rows}")
        counts = run(f"SELECT COUNT(*), COUNT(t.k), COUNT(DISTINCT t.k), COUNT(DISTINCT d.k) "
                     f"FROM {truth_keys} t LEFT JOIN {table}_d d ON d.k = t.k").one()
        missing_result = run(f"SELECT tr.* FROM {truth_rows} LEFT JOIN {table}_d d ON d.k = tr.reconcile_key "
                             f"WHERE tr.reconcile_key IS NOT NULL AND d.k IS NULL")
        missing_columns = list(missing_result.keys())
        missing_rows = [tuple(row) for row in missing_result]
        extra_rows = [tuple(row) for row in run(
            f"SELECT c.pos, c.k, c.id, c.email, c.cio_id FROM {table} c LEFT JOIN "
            f"(SELECT DISTINCT k FROM {truth_keys} tt WHERE k IS NOT NULL) tk ON tk.k = c.k "
            f"WHERE c.k IS NULL OR tk.k IS NULL ORDER BY c.pos")]
        transaction.rollback()

    rows_read, keyed_rows, truth_count, matched = (int(value or 0) for value in counts)
    truth_columns = missing_columns[1:]
    if not any(c == key or c.lower() == key.lower() for c in truth_columns):
        raise DatabaseError(f"segment {segment.name}: the truth SQL returns no column named \"{key}\" (identity.key)")
    missing_frame = pd.DataFrame.from_records(missing_rows, columns=missing_columns)
    missing_frame = missing_frame.drop_duplicates("reconcile_key", keep="first")
    people = missing_frame.drop(columns="reconcile_key")
    people.index = string_index(pa.array(missing_frame["reconcile_key"].astype(object).tolist(), pa.string()))
    truth = TruthSet(key=key, people=people, rows_read=rows_read, rows_without_key=rows_read - keyed_rows,
                     columns=truth_columns)

    keyless = int(pc.sum(pc.is_null(keys)).as_py() or 0)
    distinct = len(pc.unique(keys.filter(pc.is_valid(keys))))
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
    diff = SegmentDiff(truth_count=truth_count, customerio_count=distinct + keyless, customerio_profiles=len(members),
                       matched=matched, missing=_truth_rows(people, key), extra=extra_frame,
                       duplicate_profiles=len(members) - keyless - distinct, keyless_profiles=keyless)
    return truth, diff


__all__ = ["pushdown_diff"]
