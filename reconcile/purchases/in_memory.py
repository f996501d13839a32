"""The order–event comparison in Python: orders from ``purchases.orders_sql``, events from the
``[checks]`` source (SQL or JSON Lines), matched by order_id.

The orders are read through the shop's read-only, streamed transaction
(:func:`reconcile.shop.database.stream_rows`); the events through the checks' sources
(:func:`reconcile.checks.sources.event_partitions`), a partition at a time, keeping only the
purchase events' order_id, person, revenue and time. Values are read the way the SQL reads them:
ids and order_ids as :mod:`reconcile.identity` normalises them, a property as the checks' JSON
text (``True`` for true, ``5`` for 5), times by :func:`.times.epoch_seconds`, money by
:func:`.times.as_number`.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from typing import Any, Iterable

from sqlalchemy.engine import Engine
from sqlalchemy.exc import DBAPIError, SQLAlchemyError

from ..checks.sources import event_partitions
from ..config import ChecksConfig
from ..errors import ConfigError, DatabaseError
from ..identity import normalize_email, normalize_id
from ..shop.database import Window, describe_database_error, find_column, stream_rows
from .problems import Matched, Order, Orphan, Settings
from .times import as_number, column_kinds, epoch_seconds

WHERE = "purchases.orders_sql"


def order_columns(columns: list[str], key: str) -> dict[str, str | None]:
    """The orders query's column for each field (``order_id``, the key, ``completed_at``
    required; ``id``, ``email``, ``revenue`` optional); a missing one is a DatabaseError that says what to select."""
    found = {name: find_column(columns, name) for name in ("order_id", "id", "email", "completed_at", "revenue")}
    for name in ("order_id", key, "completed_at"):
        if found[name] is None:
            raise DatabaseError(f"{WHERE} returns no column named \"{name}\"; it returns {', '.join(columns) or 'nothing'}; "
                                f"select it AS {name}")
    return found


def json_text(value: Any) -> str | None:
    """A property as the checks' SQL reads it as text: JSON null is none, true is ``True``."""
    if value is None:
        return None
    if isinstance(value, bool):
        return "True" if value else "False"
    if isinstance(value, (dict, list)):
        return json.dumps(value, separators=(", ", ": "))
    return str(value)


def properties_of(value: Any) -> dict | None:
    if isinstance(value, dict):
        return value
    if isinstance(value, (str, bytes)):
        try:
            parsed = json.loads(value)
        except ValueError:
            return None
        return parsed if isinstance(parsed, dict) else None
    return None


def read_orders(engine: Engine, sql: str, window: Window, key: str) -> tuple[list[Order], int, bool]:
    """(the orders, how many rows had no order_id, whether the query has a revenue column); an
    order_id on two rows is a DatabaseError."""
    orders, seen, without, has_revenue = [], set(), 0, False
    try:
        for columns, rows in stream_rows(engine, sql, window):
            found = order_columns(columns, key)
            has_revenue = found["revenue"] is not None
            at = {name: (columns.index(column) if column else None) for name, column in found.items()}
            for row in rows:
                order = _order(row, at, key)
                if order is None:
                    without += 1
                    continue
                if order.order_id in seen:
                    raise DatabaseError(f"{WHERE} returns order {order.order_id} on more than one row; "
                                        "return one row per order (aggregate the rest)")
                seen.add(order.order_id)
                orders.append(order)
        if not orders and not without:   # no row to read the columns from: ask the database for them
            has_revenue = order_columns(list(column_kinds(engine, sql, window)), key)["revenue"] is not None
    except ConfigError as exc:
        raise DatabaseError(f"{WHERE}: {exc}") from None
    except DBAPIError as exc:
        raise DatabaseError(describe_database_error(exc, engine, WHERE)) from None
    except SQLAlchemyError as exc:
        raise DatabaseError(f"{WHERE} failed ({exc.__class__.__name__}); check it against the database") from None
    return orders, without, has_revenue


def _order(row: tuple, at: dict[str, int | None], key: str) -> Order | None:
    def cell(name: str) -> Any:
        return row[at[name]] if at[name] is not None else None

    order_id = normalize_id(cell("order_id"))
    if order_id is None:
        return None
    ids, emails = normalize_id(cell("id")), normalize_email(cell("email"))
    return Order(order_id=order_id, person=emails if key == "email" else ids, id=ids, email=emails,
                 revenue=as_number(cell("revenue")), t=epoch_seconds(cell("completed_at")))


@dataclass
class _Events:
    """An order's events as they arrive: folded into a :class:`Matched`."""

    n: int = 0
    mine: bool = False
    revenues: list[float] = field(default_factory=list)
    times: list[int] = field(default_factory=list)
    people: list[str] = field(default_factory=list)
    anonymous: list[str] = field(default_factory=list)

    def matched(self) -> Matched:
        return Matched(n=self.n, mine=self.mine, revenue=min(self.revenues, default=None),
                       t=min(self.times, default=None), person=min(self.people, default=None),
                       anonymous_id=min(self.anonymous, default=None))


def purchase_events(partitions: Iterable[list[tuple]], event: str, key: str) -> Iterable[tuple]:
    """``(event_id, order_id, person, anonymous_id, revenue, t)`` of every purchase event."""
    for partition in partitions:
        for event_id, name, customer_id, anonymous_id, timestamp, raw in partition:
            if name != event:
                continue
            properties = properties_of(raw)
            get = properties.get if properties is not None else (lambda _: None)
            person = normalize_email(json_text(get("email"))) if key == "email" else normalize_id(customer_id)
            yield (None if event_id is None else str(event_id), normalize_id(json_text(get("order_id"))), person,
                   None if anonymous_id is None else str(anonymous_id), as_number(get("revenue")),
                   epoch_seconds(timestamp))


def compare_in_memory(orders: list[Order], events: Iterable[tuple], settings: Settings
                      ) -> tuple[list[tuple[Order, Matched]], list[Orphan]]:
    """Every order with its events reduced (:class:`Matched`), and the window's orphan events."""
    by_id = {order.order_id: order for order in orders}
    found: dict[str, _Events] = {}
    orphans = []
    for event_id, order_id, person, anonymous_id, revenue, t in events:
        order = by_id.get(order_id) if order_id is not None else None
        if order is None:
            if t is not None and settings.window_start <= t < settings.as_of:
                orphans.append(Orphan(event_id, order_id, person, anonymous_id, t))
            continue
        seen = found.setdefault(order_id, _Events())
        seen.n += 1
        seen.mine = seen.mine or (person is not None and person == order.person)
        for values, value in ((seen.revenues, revenue), (seen.times, t), (seen.people, person),
                              (seen.anonymous, anonymous_id)):
            if value is not None:
                values.append(value)
    checked = [(order, found[order.order_id].matched() if order.order_id in found else Matched())
               for order in orders]
    return checked, orphans


def read_events(checks: ChecksConfig, engine: Engine | None, window: Window, settings: Settings) -> Iterable[tuple]:
    """The purchase events of the ``[checks]`` source, as :func:`purchase_events` reads them."""
    return purchase_events(event_partitions(checks, engine, window), settings.event, settings.key)


__all__ = ["read_orders", "read_events", "purchase_events", "compare_in_memory", "order_columns", "json_text",
           "properties_of"]
