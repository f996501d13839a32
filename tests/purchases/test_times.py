"""An instant of any type as whole unix seconds: Python's rule and each database's SQL give the
same number, and the number the test computes from the instant itself."""

from __future__ import annotations

from datetime import date, datetime, timezone
from decimal import Decimal

import pytest
from sqlalchemy import create_engine, text

from reconcile.checks.sql import dialect_for
from reconcile.purchases.times import NUMBER, TEXT, TIME, SqlTimes, as_number, column_kinds, epoch_seconds, ours
from reconcile.shop.database import Window

NOON = int(datetime(2026, 11, 28, 9, 0, tzinfo=timezone.utc).timestamp())
WINDOW = Window.ending(datetime(2026, 12, 1, tzinfo=timezone.utc), 30)

NUMBERS = [(NOON, NOON), (NOON * 1000 + 999, NOON), (NOON * 1_000_000 + 5, NOON), (NOON + 0.9, NOON), (None, None)]
TEXTS = [
    (str(NOON), NOON), (str(NOON * 1000 + 123), NOON), (f" {NOON} ", NOON), (f"{NOON}.75", NOON),
    ("2026-11-28T09:00:00Z", NOON), ("2026-11-28 09:00:00", NOON), ("2026-11-28T11:00:00+02:00", NOON),
    ("2026-11-28T04:30:00-04:30", NOON), ("2026-11-28 09:00:00.999999", NOON), ("2026-11-28T09:00:59.5Z", NOON + 59),
    ("2026-11-28", None), ("yesterday", None), ("", None), ("1e3x", None), (None, None),
]


def test_python_reads_every_kind():
    assert epoch_seconds(datetime(2026, 11, 28, 9, 0, 0, 999_999)) == NOON                    # naive: UTC
    assert epoch_seconds(datetime(2026, 11, 28, 10, 0, tzinfo=timezone.utc).astimezone()) == NOON + 3600
    assert epoch_seconds(date(2026, 11, 28)) == NOON - 9 * 3600
    assert epoch_seconds(Decimal(NOON * 1000 + 123)) == NOON
    assert epoch_seconds(True) is None and epoch_seconds(float("nan")) is None
    assert epoch_seconds("2026-02-30 10:00:00") is None                                       # no such day
    for value, expected in NUMBERS + TEXTS:
        assert epoch_seconds(value) == expected, value
    assert as_number("24.30") == 24.3 and as_number(Decimal("24.30")) == 24.3 and as_number(True) is None
    assert as_number("24,30") is None and as_number(float("inf")) is None


def test_each_database_reads_them_as_python_does(any_db_url):
    engine = create_engine(any_db_url)
    dialect = engine.dialect.name
    native = {"postgresql": "TIMESTAMP WITH TIME ZONE", "sqlite": "TEXT"}.get(dialect, "DATETIME(6)")
    with engine.begin() as conn:
        conn.execute(text(f"CREATE TABLE t (id INTEGER PRIMARY KEY, n DOUBLE PRECISION, b BIGINT, s VARCHAR(40), "
                          f"d {native})"))
        rows = max(len(NUMBERS), len(TEXTS))
        for i in range(rows):
            number = NUMBERS[i][0] if i < len(NUMBERS) else None
            when = datetime.fromtimestamp(NOON + i, timezone.utc).replace(microsecond=999_000)
            conn.execute(text("INSERT INTO t VALUES (:i, :n, :b, :s, :d)"), {
                "i": i, "n": number, "b": int(number) if number is not None else None,
                "s": TEXTS[i][0] if i < len(TEXTS) else None,
                "d": when if dialect == "postgresql" else when.replace(tzinfo=None) if dialect != "sqlite"
                else when.strftime("%Y-%m-%d %H:%M:%S.%f")})
    try:
        kinds = column_kinds(engine, "SELECT n, b, s, d FROM t", WINDOW)
        if dialect != "sqlite":
            assert kinds == {"n": NUMBER, "b": NUMBER, "s": TEXT, "d": TIME}
        times = SqlTimes(dialect_for(engine), dialect)
        columns = ", ".join(times.seconds(column, kinds[column]) for column in "nbsd")
        with engine.connect() as conn:
            read = conn.execute(text(ours(f"SELECT id, n, b, s, d, {columns} FROM t ORDER BY id"))).all()
    finally:
        engine.dispose()
    for i, n, b, s, d, *sql in read:
        python = [epoch_seconds(value) for value in (n, b, s, d)]
        assert [None if v is None else int(v) for v in sql] == python, (i, n, b, s, d)
        assert python[3] == NOON + i                                              # the fraction is dropped
        if i < len(TEXTS):
            assert python[2] == TEXTS[i][1], s
        if i < len(NUMBERS):
            assert python[0] == NUMBERS[i][1] and python[1] == (NUMBERS[i][1] if b is not None else None)


@pytest.mark.parametrize("kind", [NUMBER, TIME, TEXT, "any"])
def test_the_sql_never_carries_a_bare_colon(kind):
    """text() would take ``:0`` in a regex for a bind parameter; ours() escapes every colon."""
    from reconcile.checks.sql.dialects import MySQLJson, PostgresJson, SQLiteJson

    for json, dialect in ((PostgresJson, "postgresql"), (MySQLJson, "mysql"), (SQLiteJson, "sqlite")):
        engine = create_engine({"postgresql": "postgresql+psycopg://", "mysql": "mysql+pymysql://",
                                "sqlite": "sqlite://"}[dialect])
        escaped = ours(SqlTimes(json(engine), dialect).seconds("x", kind))
        assert not text(escaped)._bindparams
