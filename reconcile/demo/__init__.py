"""The embedded demo: a realistic shop, the Customer.io workspace that drifted from it, and the record.

:func:`build_demo` writes a DTC skincare shop (one year of history ending at ``as_of``) into an
empty database through SQLAlchemy Core, so the same generator fills SQLite, PostgreSQL and
MySQL/MariaDB; derives the Customer.io workspace from the same objects with drift injected on
purpose (:mod:`.drift`); and returns both with a :class:`DemoRecord` that says, person by person,
what every segment's reconciliation must show and why. ``reconcile demo`` serves the workspace
from the sandbox and audits the shop with the shipped ``config.toml``; the tests hold the
truth SQL in that config to the record on all three databases.

    >>> demo = build_demo("sqlite:///shop.db", as_of=datetime.now(timezone.utc))   # doctest: +SKIP
    >>> demo.record.segments["sms_consent"].missing_in_customerio[:3]              # doctest: +SKIP
    ['1043', '1187', '1422']
"""

from __future__ import annotations

import random
from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import create_engine
from sqlalchemy.engine import URL, Engine

from . import format_and_grace
from .drift import DemoRecord, SegmentRecord, customerio_side, demo_segments, inject, scaled
from .purchases import plant_purchases, purchase_side
from .shop import generate, write_shop

DEMO_API_KEY = "sandbox-demo-key"
DEMO_SITE_ID = "sandbox-demo-site"             # the Track API's credentials; config.toml names the same site
DEMO_TRACK_API_KEY = "sandbox-demo-track-key"


@dataclass
class Demo:
    workspace: dict        # the Customer.io workspace, in the sandbox's format
    record: DemoRecord     # what was injected and what every segment's reconciliation must show
    api_key: str = DEMO_API_KEY


def build_demo(engine_or_url: Engine | URL | str, *, as_of: datetime, seed: int = 7, customers: int = 3000) -> Demo:
    """Write the demo shop into an empty database and return its drifted workspace and record.

    Deterministic for a given ``(seed, as_of, customers)``: one ``random.Random(seed)`` drives
    everything and nothing reads the clock. ``as_of`` must be timezone-aware. The shop's tables
    must not exist yet (a ``ValueError`` says which do).
    """
    if customers < 300:
        raise ValueError(f"the demo needs at least 300 customers for every kind of drift to occur; got {customers}")
    rng = random.Random(seed)
    segments = demo_segments()
    deleted = scaled("deleted_in_shop", customers)
    shop = generate(rng, as_of, customers + deleted)
    plan = inject(shop, rng, segments, customers, deleted)
    # drawn from a generator of their own, so the people of every other kind stay who they were
    more = random.Random(f"reconcile-demo-{seed}-format-and-grace")
    format_and_grace.lose_orders_in_grace(shop, more, segments, customers, plan)
    format_and_grace.shift_id_formats(shop, more, segments, customers, plan)
    shop.freeze(rng, scale=customers / 3000)
    purchases = plant_purchases(shop, plan, seed)      # the outbox's purchase problems, before it is written
    owned = not isinstance(engine_or_url, Engine)
    engine = create_engine(engine_or_url) if owned else engine_or_url
    try:
        write_shop(engine, shop)
    finally:
        if owned:
            engine.dispose()
    workspace, record = customerio_side(shop, plan, segments, rng, seed)
    format_and_grace.record(record, shop, plan, segments)
    record.purchases = purchase_side(shop, purchases, workspace)
    return Demo(workspace=workspace, record=record)


__all__ = ["Demo", "DemoRecord", "SegmentRecord", "build_demo", "DEMO_API_KEY", "DEMO_SITE_ID", "DEMO_TRACK_API_KEY"]
