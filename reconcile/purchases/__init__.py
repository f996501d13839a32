"""Purchases as truth: every shop order against its purchase event, what Customer.io recorded,
and the core events that must keep flowing.

Segments are built from events, and the purchase event is the one whose failures hurt most: a
lost one lets cart flows message people who already bought, a doubled one doubles revenue and
post-purchase sends, one under a ghost profile escapes suppression. This stage holds the
stream against the shop's own orders. It reads the shop like :mod:`reconcile.shop`, the events
like :mod:`reconcile.checks` (the ``[checks]`` source), and Customer.io through
:class:`reconcile.customerio.CustomerIOClient`::

    problems.py     the problems, their severities, the rule that picks an order's one problem
    in_memory.py    the comparison in Python (orders streamed, events from the checks' source)
    in_database.py  the same comparison as SQL in the shop database (checks.engine = "database")
    times.py        an instant of any type as whole unix seconds, in Python and per database
    activity.py     the sampled activity log: what Customer.io recorded for a sample of orders
    flow.py         each suite's event: its newest event and its count over the last day

:func:`compare_purchases` runs the comparison and the sample into a
:class:`~reconcile.results.PurchaseResult`, decided by :func:`reconcile.results.decide_purchases`;
:func:`read_flow` gives the events' :class:`~reconcile.results.FlowResult`\\ s, judged by
:func:`reconcile.results.decide_flow` once the history's baselines are known.
"""

from __future__ import annotations

import logging
import time
from datetime import datetime, timedelta

from sqlalchemy.engine import Engine

from ..checks.sql import supported
from ..config import Config
from ..customerio import CustomerIOClient
from ..errors import CompareError
from ..results import PurchaseResult, decide_purchases
from ..shop.database import Window
from .activity import GUARANTEED_DAYS, newest_first, read_activity, sample_positions
from .flow import read_flow
from .in_database import OrdersAndEvents
from .in_memory import compare_in_memory, read_events, read_orders
from .problems import Order, Settings, summarize

log = logging.getLogger(__name__)


def settings_for(config: Config, as_of: datetime) -> tuple[Settings, Window]:
    purchases = config.purchases
    window = Window.ending(as_of, purchases.window_days)
    return Settings(event=purchases.event, key=config.identity_key,
                    max_latency_seconds=purchases.max_latency_seconds,
                    revenue_tolerance=purchases.revenue_tolerance,
                    window_start=int(window.window_start.timestamp()), as_of=int(window.as_of.timestamp())), window


def in_database(config: Config, engine: Engine | None) -> bool:
    """Whether the comparison runs as SQL: the events are a query on a database reconcile speaks."""
    checks = config.checks
    return (checks.engine == "database" and checks.events_sql is not None and checks.events_jsonl is None
            and supported(engine))


def compare_purchases(config: Config, engine: Engine, client: CustomerIOClient | None, as_of: datetime,
                      database: bool | None = None) -> PurchaseResult:
    """The window's orders against their events, and the sampled activity log; never raises
    for what could not be read (the result is then ``error`` with the message)."""
    purchases = config.purchases
    settings, window = settings_for(config, as_of)
    result = PurchaseResult(event=purchases.event, window_days=purchases.window_days, tolerance=purchases.tolerance)
    started = time.perf_counter()
    checks = config.checks
    try:
        if checks is None or (checks.events_sql is None and checks.events_jsonl is None):
            raise CompareError("purchases: there are no events to compare the orders with; set checks.events_sql "
                               "(or checks.events_jsonl)")
        sampled = _compare(config, engine, window, settings, result,
                           in_database(config, engine) if database is None else database)
    except CompareError as exc:
        result.error = str(exc)
    except Exception as exc:   # a bug of ours must not pass for a verdict
        log.exception("the purchases comparison failed unexpectedly")
        result.error = f"internal error ({exc.__class__.__name__}); please report it with the log"
    result.seconds["compare"] = time.perf_counter() - started
    if result.error is None and purchases.activity_sample and client is not None:
        started = time.perf_counter()
        result.activity = read_activity(client, sampled, purchases.event, config.identity_key,
                                        purchases.revenue_tolerance, purchases.tolerance)
        result.seconds["activity"] = time.perf_counter() - started
    decide_purchases(result)
    return result


def _compare(config: Config, engine: Engine, window: Window, settings: Settings, result: PurchaseResult,
             database: bool) -> list[Order]:
    """Fill ``result`` with the comparison; return the orders the activity sample reads."""
    purchases, checks = config.purchases, config.checks
    since = settings.as_of - int(timedelta(days=GUARANTEED_DAYS).total_seconds())
    if database:
        query = OrdersAndEvents.build(engine, purchases.orders_sql, checks.events_sql, window, settings)
        orders, without, checked, orphans = query.compare()
        summarize(result, orders, checked, orphans, settings, query.has_revenue)
        wanted = purchases.activity_sample
        sampled = query.newest(since, sample_positions(query.recent(since), wanted)) if wanted else []
        result.engine = "database"
    else:
        found, without, has_revenue = read_orders(engine, purchases.orders_sql, window, config.identity_key)
        checked, orphans = compare_in_memory(found, read_events(checks, engine, window, settings), settings)
        summarize(result, len(found), checked, orphans, settings, has_revenue)
        recent = newest_first(found, since)
        sampled = [recent[i] for i in sample_positions(len(recent), purchases.activity_sample)]
        orders = len(found)
    if without:
        result.warnings.append(f"{without:,} rows of purchases.orders_sql have no order_id: they were not compared")
    if not orders:
        result.warnings.append(f"no orders in the last {purchases.window_days:g} days: check purchases.orders_sql")
    return sampled


__all__ = ["compare_purchases", "read_flow", "in_database", "settings_for", "sample_positions"]
