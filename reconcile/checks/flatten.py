"""Events → one table per event name, properties as columns, line items exploded.

Input partitions are lists of canonical tuples ``(event_id, name, customer_id, anonymous_id,
timestamp, properties)``; ``properties`` is a JSON object or its text. Each partition is parsed
and reduced to compact per-event frames before the next is read, so the raw JSON text of a
million events is never held at once; the frames are concatenated once at the end.

* Top-level property keys become columns as they are spelled (``productId`` and ``product_id``
  are two columns: the property-name rule reports that). A key that collides with a base column
  is kept as ``properties.<key>``.
* ``items`` is replaced by ``items_type`` ("array", "string" for a JSON string holding the list,
  "missing", or "other"), and each line item of an array, or of a string that parses to one,
  becomes a row of the event's items table: ``event_id, item_index`` and the item's keys. The
  string form is reported by its own rule; its items are still checked.
* Ids are text (an integer ``417`` becomes ``"417"``), so SQL and JSON Lines sources agree.
* The timestamp is read as every check reads it (:func:`.values.event_timestamps`): a number as
  sent, an instant (native, or ISO 8601 text) as unix seconds, anything else null.
* Integer properties stay integers where some events lack them (pandas would make them floats,
  ``11`` → ``11.0``): such columns become pandas' nullable ``Int64``.
* With :class:`Needs` per event name (when GX's expectations run in the database and only the
  rules are left), only the properties the remaining checks read keep their values; the others
  become presence marks (True where the key was sent, else missing) for the property-name rule,
  or are dropped, and line items are exploded only when something checks them.
"""

from __future__ import annotations

import json
from collections import defaultdict
from dataclasses import dataclass, field
from typing import Any, Iterable

import pandas as pd

from .values import event_timestamps

BASE_COLUMNS = ("event_id", "customer_id", "anonymous_id", "timestamp")
ITEMS = "items"
ITEMS_TYPE = "items_type"
ITEM_BASE = ("event_id", "item_index")


@dataclass
class Needs:
    """What the in-memory checks of one event name read; ``None`` for columns means all of them."""

    columns: set[str] | None = field(default_factory=set)
    presence: bool = False                      # other property keys as presence marks
    items: bool = False
    item_columns: set[str] | None = field(default_factory=set)


def _lean(frame: pd.DataFrame, keep: set[str] | None, presence: bool) -> pd.DataFrame:
    """``frame`` with only the ``keep`` properties' values; the others become presence marks
    (True where sent, else missing) when ``presence``, or are dropped. ``None`` keeps all."""
    if keep is None:
        return frame
    changed = {}
    for column in frame.columns:
        if column in keep or column in BASE_COLUMNS or column in ITEM_BASE or column == ITEMS_TYPE:
            continue
        sent = frame[column].notna()
        changed[column] = sent.astype("boolean").where(sent, pd.NA) if presence else None
    dropped = [c for c, v in changed.items() if v is None]
    marks = {c: v for c, v in changed.items() if v is not None}
    return frame.drop(columns=dropped).assign(**marks) if changed else frame


@dataclass
class EventTable:
    """One event name's events (one row each) and line items (one row per item)."""

    name: str
    events: pd.DataFrame
    items: pd.DataFrame
    properties_not_json: int = 0

    @staticmethod
    def empty(name: str) -> "EventTable":
        return EventTable(name=name, events=pd.DataFrame(columns=list(BASE_COLUMNS)),
                          items=pd.DataFrame(columns=list(ITEM_BASE)))


class Flattener:
    """Accumulates partitions; :meth:`tables` returns the per-event tables."""

    def __init__(self, names: Iterable[str] | None = None, needs: dict[str, Needs] | None = None):
        self.names = set(names) if names is not None else None      # None: keep every event name
        self.needs = needs                                           # None: keep every property
        self._events: dict[str, list[pd.DataFrame]] = defaultdict(list)
        self._items: dict[str, list[pd.DataFrame]] = defaultdict(list)
        self._not_json: dict[str, int] = defaultdict(int)
        self._integers: dict[str, set[str]] = defaultdict(set)   # columns whose values arrived as int
        self.rows = 0

    def add(self, rows: list[tuple]) -> None:
        self.rows += len(rows)
        grouped: dict[str, list[tuple]] = defaultdict(list)
        for row in rows:
            name = row[1]
            if self.names is None or name in self.names:
                grouped[str(name)].append(row)
        for name, group in grouped.items():
            self._add_group(name, group)

    def _add_group(self, name: str, rows: list[tuple]) -> None:
        needs = self.needs.get(name, Needs()) if self.needs is not None else None
        explode = needs is None or needs.items
        records, item_records = [], []
        for event_id, _, customer_id, anonymous_id, timestamp, properties in rows:
            props = _object(properties)
            if props is None:
                self._not_json[name] += 1
                props = {}
            event_id = _text(event_id)
            record = {"event_id": event_id, "customer_id": _text(customer_id),
                      "anonymous_id": _text(anonymous_id), "timestamp": timestamp}
            for key, value in props.items():
                record[f"properties.{key}" if key in record or key == ITEMS_TYPE else key] = value
            if ITEMS in record:
                kind, items = _items(record.pop(ITEMS))
                record[ITEMS_TYPE] = kind
                for index, item in enumerate(items if explode else ()):
                    row = {"event_id": event_id, "item_index": index}
                    if isinstance(item, dict):
                        row.update({k if k not in ITEM_BASE else f"item.{k}": v for k, v in item.items()})
                    else:
                        row["item.value"] = item
                    item_records.append(row)
            else:
                record[ITEMS_TYPE] = None
            records.append(record)
        events, items = self._frame(name, records), self._frame(name, item_records) if item_records else None
        events["timestamp"] = event_timestamps(events["timestamp"])
        if needs is not None:
            events = _lean(events, needs.columns, needs.presence)
            items = _lean(items, needs.item_columns, False) if items is not None else None
        self._events[name].append(events)
        if items is not None:
            self._items[name].append(items)

    def _frame(self, name: str, records: list[dict]) -> pd.DataFrame:
        frame = pd.DataFrame.from_records(records)
        for column in frame.columns[frame.dtypes == "float64"]:
            present = frame[column].notna().to_numpy()
            if present.any() and type(records[int(present.argmax())][column]) is int:
                self._integers[name].add(column)
        return _integers(frame, self._integers[name])

    def tables(self) -> dict[str, EventTable]:
        """Concatenate each event name's partitions (releasing them as it goes)."""
        names = set(self._events) | (self.names or set())
        tables = {}
        for name in sorted(names):
            parts, item_parts = self._events.pop(name, []), self._items.pop(name, [])
            table = EventTable.empty(name)
            if parts:
                table.events = parts[0] if len(parts) == 1 else pd.concat(parts, ignore_index=True)
            if item_parts:
                table.items = item_parts[0] if len(item_parts) == 1 else pd.concat(item_parts, ignore_index=True)
            table.events = _integers(table.events, self._integers[name])
            table.items = _integers(table.items, self._integers[name])
            if ITEMS_TYPE in table.events.columns and table.events[ITEMS_TYPE].isna().all():
                table.events = table.events.drop(columns=[ITEMS_TYPE])
            table.properties_not_json = self._not_json.get(name, 0)
            del parts, item_parts
            tables[name] = table
        return tables


def _integers(frame: pd.DataFrame, columns: set[str]) -> pd.DataFrame:
    """Float columns that hold integers (floats only because some rows lack them) → ``Int64``."""
    floats = [c for c in frame.columns if c in columns and frame[c].dtype == "float64"]
    if not floats:
        return frame
    converted = {}
    for column in floats:
        values = frame[column]
        whole = values.dropna()
        if (whole == whole.round()).all():
            converted[column] = values.astype("Int64")
    return frame.assign(**converted) if converted else frame


#: The deepest nesting of objects and arrays an event's properties may have. MariaDB's JSON
#: functions refuse 32 levels, so deeper properties are malformed on every engine and database
#: (the SQL dialects apply the same limit), and Python never recurses into them.
MAX_DEPTH = 31


def _object(properties: Any) -> dict | None:
    """The properties as a dict; None when they are malformed (not JSON, not an object, too deep)."""
    if properties is None:
        return {}
    if isinstance(properties, (bytes, bytearray)):
        properties = properties.decode("utf-8", "replace")
    if isinstance(properties, str):
        if not properties.strip():
            return {}
        try:
            value = json.loads(properties)
        except (ValueError, RecursionError):
            return None
        deep = properties.count("{") + properties.count("[") > MAX_DEPTH      # cheap: few events can be
        return value if isinstance(value, dict) and not (deep and nested_too_deep(value)) else None
    return properties if isinstance(properties, dict) and not nested_too_deep(properties) else None


def nested_too_deep(value: Any) -> bool:
    """Whether objects and arrays nest more than :data:`MAX_DEPTH` levels (iteratively: a hostile
    document cannot exhaust the stack)."""
    stack = [(value, 1)]
    while stack:
        item, depth = stack.pop()
        children = item.values() if isinstance(item, dict) else item if isinstance(item, list) else None
        if children is None:
            continue
        if depth > MAX_DEPTH:
            return True
        stack.extend((child, depth + 1) for child in children)
    return False


def _items(value: Any) -> tuple[str, list]:
    """(how the line items arrived, the items as a list)."""
    if isinstance(value, list):
        return "array", value
    if value is None:
        return "missing", []
    if isinstance(value, str):
        parsed = items_in_text(value)
        return ("string", parsed) if parsed is not None else ("other", [])
    return "other", []


def items_in_text(value: str) -> list | None:
    """The line items a JSON string holds, or None. Strict JSON, as every database parses it:
    no NaN or Infinity, and no NUL character (PostgreSQL's jsonb refuses it)."""
    try:
        parsed = json.loads(value, parse_constant=_not_json)
    except (ValueError, RecursionError):
        return None
    return parsed if isinstance(parsed, list) and "\\u0000" not in value and "\x00" not in value else None


def _not_json(constant: str) -> Any:
    raise ValueError(f"{constant} is not JSON")


def _text(value: Any) -> str | None:
    if value is None:
        return None
    if isinstance(value, float):
        if value != value:
            return None
        if value.is_integer():
            return str(int(value))
    if isinstance(value, (bytes, bytearray)):
        return value.decode("utf-8", "replace")
    return str(value)


__all__ = ["EventTable", "Flattener", "Needs", "BASE_COLUMNS", "ITEMS", "ITEMS_TYPE", "ITEM_BASE", "items_in_text"]
