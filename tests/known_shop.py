"""A small shop whose truth segments are known by construction (customers and their orders
around a 30-day window's start), on any database the tests run on."""

from __future__ import annotations

from datetime import datetime, timedelta, timezone

from sqlalchemy import (Boolean, Column, DateTime, Integer, MetaData, String, Table, create_engine, func,
                        insert, select)

AS_OF = datetime(2026, 11, 28, 12, 0, tzinfo=timezone.utc)
WINDOW_START = AS_OF - timedelta(days=30)

metadata = MetaData()
customers = Table("customers", metadata, Column("id", Integer, primary_key=True), Column("email", String(200)),
                  Column("code", String(20)), Column("email_consent", Boolean))
orders = Table("orders", metadata, Column("id", Integer, primary_key=True), Column("customer_id", Integer),
               Column("completed_at", DateTime(timezone=True)), Column("completed_epoch", Integer))


def _instant(url: str, value: datetime) -> datetime:
    return value if url.startswith("postgresql") else value.replace(tzinfo=None)


def build_shop(url: str) -> dict:
    """A shop whose segment membership is known by construction; returns that ground truth."""
    engine = create_engine(url)
    metadata.create_all(engine)
    people = [
        # id, email, code, consent, order offsets from WINDOW_START (seconds)
        (1, "a@x.com", "000417", True, [10, 20, 30]),       # three orders in the window: one person
        (2, "b@x.com", "000418", True, [0]),                # exactly at window_start: inside (>=)
        (3, "c@x.com", "000419", True, [-1]),               # one second before: outside
        (4, "d@x.com", None, True, [3600]),                 # no code: a row without key when keyed by code
        (5, "e@x.com", "000421", False, [3600]),            # no consent
        (6, " F@X.com ", "000422", True, [86400 * 29]),     # inside, email needs normalising
    ]
    with engine.begin() as conn:
        order_id = 0
        for cid, email, code, consent, offsets in people:
            conn.execute(insert(customers).values(id=cid, email=email, code=code, email_consent=consent))
            for offset in offsets:
                order_id += 1
                at = WINDOW_START + timedelta(seconds=offset)
                conn.execute(insert(orders).values(id=order_id, customer_id=cid, completed_at=_instant(url, at),
                                                   completed_epoch=int(at.timestamp())))
        rows = conn.execute(select(func.count()).select_from(orders)).scalar_one()
    engine.dispose()
    return {"order_rows": rows}
