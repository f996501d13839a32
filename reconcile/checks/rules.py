"""The rules Great Expectations has no expectation for, as vectorised pandas checks.

They are named and written in a suite like GX's expectations and produce the same
:class:`~reconcile.checks.model.CheckResult`; ``mostly`` works as in GX (the share of rows that
must be fine, default 1.0). Rows with no value in the checked column are skipped, as GX's map
expectations skip nulls (``expect_column_values_to_not_be_null`` is the check for those).

``expect_property_names_to_be_consistent``
    Keys that differ only by case or separators within one event name (``productId``,
    ``product_id``, ``ProductID``). The spelling in ``expected`` wins, else the most used one;
    every event that uses another spelling is unexpected. ``on = "items"`` checks item keys.
``expect_items_to_be_arrays``
    Line items sent sometimes as an array and sometimes as a JSON string (or anything else).
``expect_timestamps_to_be_in_unit``
    ``unit = "s"`` (default) or ``"ms"``: a value's magnitude tells its unit (seconds below
    1e11, milliseconds below 1e14, then micro- and nanoseconds); another unit is unexpected.
``expect_events_to_follow``
    Journey order: each event of this suite needs an ``after`` event (``added_to_cart`` before
    ``checkout_started``) with the same ``key`` (default ``cart_id``), no later than it, from the
    same person (customer_id, else anonymous_id) unless ``same_person = false``.
``expect_orders_to_be_counted_once``
    One event per ``column`` (default ``order_id``); every later copy is unexpected and its
    ``value_column`` (default ``revenue``) is revenue counted twice.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from decimal import Decimal
from typing import Any, Callable, Literal

import numpy as np
import pandas as pd
from pydantic import BaseModel, ConfigDict, Field, ValidationError

from .flatten import BASE_COLUMNS, ITEMS_TYPE, EventTable
from .gx import distinct_samples, plain
from .model import ITEMS, CheckResult, Expectation

_SEPARATORS = re.compile(r"[\s_.\-]+")
_NOT_PROPERTIES = set(BASE_COLUMNS) | {ITEMS_TYPE, "item_index"}


class _Arguments(BaseModel):
    model_config = ConfigDict(extra="forbid", strict=True)
    mostly: float = Field(1.0, ge=0.0, le=1.0)


class PropertyNames(_Arguments):
    expected: list[str] = []


class ItemsArrays(_Arguments):
    pass


class TimestampUnit(_Arguments):
    column: str = "timestamp"
    unit: Literal["s", "ms"] = "s"


class EventsFollow(_Arguments):
    after: str
    key: str = "cart_id"
    same_person: bool = True


class CountedOnce(_Arguments):
    column: str = "order_id"
    value_column: str = "revenue"


@dataclass
class RuleContext:
    """What a rule sees: every event table read, and how much evidence to keep."""

    tables: dict[str, EventTable]
    max_ids: int = 100
    sample_size: int = 5

    def table(self, name: str) -> EventTable:
        return self.tables.get(name) or EventTable.empty(name)


def validate_rule(kind: str, kwargs: dict[str, Any]) -> str | None:
    """The first problem with a rule's arguments as one phrase, or None."""
    model = RULES[kind][0]
    try:
        model(**kwargs)
    except ValidationError as exc:
        first = exc.errors()[0]
        loc = ".".join(str(p) for p in first.get("loc", ()))
        if first.get("type") == "extra_forbidden":
            return f"{loc}: unknown argument (allowed: {', '.join(sorted(model.model_fields))})"
        if first.get("type") == "missing":
            return f"{loc}: is required"
        return f"{loc}: {first.get('msg', 'invalid')}"
    return None


def run_rule(expectation: Expectation, context: RuleContext, event: str) -> CheckResult:
    model, function = RULES[expectation.type]
    arguments = model(**expectation.kwargs)
    check = new_check(expectation, arguments)
    function(check, arguments, context.table(event), context, expectation.on)
    return settle(check, arguments)


def new_check(expectation: Expectation, arguments: _Arguments) -> CheckResult:
    return CheckResult(suite=expectation.suite, expectation=expectation.type, severity=expectation.severity,
                       column=getattr(arguments, "column", None) or getattr(arguments, "key", None),
                       on=expectation.on, kwargs=dict(expectation.kwargs))


def settle(check: CheckResult, arguments: _Arguments) -> CheckResult:
    """Percent and success from the counts, with ``mostly`` as in GX."""
    if check.unexpected_count is not None and check.element_count is not None and not check.message.startswith("could"):
        check.unexpected_percent = (100.0 * check.unexpected_count / check.element_count) if check.element_count else 0.0
        allowed = (1.0 - arguments.mostly) * check.element_count
        check.success = check.unexpected_count <= allowed + 1e-9
    return check


def _finish(check: CheckResult, frame: pd.DataFrame, unexpected: pd.Series, checked: int, context: RuleContext,
            values: pd.Series | None = None, what: str = "unexpected") -> None:
    """Fill counts, ids and samples from a boolean mask over ``frame``."""
    count = int(unexpected.sum())
    offenders = frame.loc[unexpected.to_numpy()] if count else frame.iloc[0:0]
    ids = offenders["event_id"].dropna().astype(str) if "event_id" in offenders.columns else pd.Series([], dtype=object)
    samples = values[unexpected.to_numpy()].head(500).tolist() if values is not None and count else []
    conclude(check, checked, count, ids.head(context.max_ids * 4).tolist(), samples, context, what)


def conclude(check: CheckResult, checked: int, unexpected: int, ids: list, samples: list, context: RuleContext,
             what: str = "unexpected") -> None:
    """Counts, the first offending event ids and distinct sample values, and the message."""
    check.element_count, check.unexpected_count = int(checked), int(unexpected)
    check.event_ids = list(dict.fromkeys(str(i) for i in ids if i is not None))[: context.max_ids]
    check.sample_values = distinct_samples(samples, context.sample_size) if samples else []
    noun = "line items" if check.on == ITEMS else "events"
    if check.unexpected_count:
        check.message = f"{check.unexpected_count:,} of {check.element_count:,} {noun} {what}"
    else:
        check.message = f"all {check.element_count:,} {noun} as expected"


def _could_not(check: CheckResult, why: str) -> None:
    check.success = False
    check.message = f"could not be evaluated: {why}"


def _lacks(check: CheckResult, frame: pd.DataFrame, column: str, table: EventTable, context: RuleContext) -> bool:
    """True (and the check settled) when ``column`` is absent: a failure, unless there are no rows at all."""
    if column in frame.columns:
        return False
    if len(frame):
        _could_not(check, f"the {table.name} {'line items' if check.on == ITEMS else 'events'} have no {column}")
    else:
        _finish(check, frame, pd.Series(False, index=frame.index), 0, context)
    return True


# --------------------------------------------------------------------------- the rules


def normal_key(name: str) -> str:
    """``ProductID``, ``product_id``, ``product-id`` → ``productid``."""
    return _SEPARATORS.sub("", str(name)).lower()


def property_names(check: CheckResult, args: PropertyNames, table: EventTable, context: RuleContext, on: str) -> None:
    frame = table.items if on == ITEMS else table.events
    columns = [c for c in frame.columns if c not in _NOT_PROPERTIES and not str(c).startswith(("properties.", "item."))]
    groups: dict[str, list[str]] = {}
    for column in columns:
        groups.setdefault(normal_key(column), []).append(column)
    expected = {normal_key(name): name for name in args.expected}
    unexpected = pd.Series(False, index=frame.index)
    variants: dict[str, dict[str, int]] = {}
    for key, spellings in groups.items():
        if len(spellings) < 2:
            continue
        used = {s: int(frame[s].notna().sum()) for s in spellings}
        canonical = expected.get(key) or min(spellings, key=lambda s: (-used[s], s != s.lower(), s))
        others = [s for s in spellings if s != canonical]
        variants[canonical] = {s: used[s] for s in others}
        unexpected |= frame[others].notna().any(axis=1)
    _finish(check, frame, unexpected, len(frame), context, what="use another spelling of a property name")
    check.sample_values = [f"{s} (expected {c})" for c, found in variants.items() for s in found][: context.sample_size]
    check.details = {"variants": variants}


def items_arrays(check: CheckResult, args: ItemsArrays, table: EventTable, context: RuleContext, on: str) -> None:
    frame = table.events
    if ITEMS_TYPE not in frame.columns:
        _finish(check, frame, pd.Series(False, index=frame.index), 0, context)
        check.message = "no event of this name carries items"
        return
    kinds = frame[ITEMS_TYPE]
    carried = kinds.notna() & (kinds != "missing")
    unexpected = carried & (kinds != "array")
    _finish(check, frame, unexpected, int(carried.sum()), context, values=kinds,
            what="carry line items that are not an array")
    counts = kinds[carried].value_counts()
    check.details = {kind: int(counts.get(kind, 0)) for kind in ("array", "string", "other")}
    if check.details["string"]:
        check.message += f" ({check.details['string']:,} as a JSON string)"


_UNIT_LIMITS = ((1e11, "s"), (1e14, "ms"), (1e17, "us"))


#: text that is a JSON number, with JSON's whitespace around it (the same test runs in SQL)
JSON_NUMBER = r"[ \t\n\r]*-?(?:0|[1-9][0-9]*)(?:\.[0-9]+)?(?:[eE][-+]?[0-9]+)?[ \t\n\r]*"


def numbers(values: pd.Series) -> pd.Series:
    """``values`` as float64: numbers (not true/false) and text that is a JSON number; NaN for
    anything else. One definition for pandas and every database, so the engines agree."""
    if pd.api.types.is_bool_dtype(values.dtype):
        return pd.Series(np.nan, index=values.index, dtype="float64")
    if pd.api.types.is_numeric_dtype(values.dtype):
        return values.astype("float64")
    objects = values.astype(object)
    text = objects.map(lambda v: isinstance(v, str))
    number = objects.map(lambda v: isinstance(v, (int, float, Decimal)) and not isinstance(v, bool))
    converted = pd.Series(np.nan, index=values.index, dtype="float64")
    if number.any():
        converted[number] = objects[number].astype("float64")
    if text.any():
        strings = objects[text].astype(str)
        parsed = strings.str.fullmatch(JSON_NUMBER)
        converted[parsed[parsed].index] = strings[parsed].astype("float64")
    return converted


def timestamp_units(values: pd.Series) -> pd.Series:
    """Each value's unit from its magnitude: "s", "ms", "us", "ns"; "nan" for what is not a
    number (:func:`numbers`), None for nulls."""
    return _units(values, numbers(values))


def to_seconds(values: pd.Series) -> pd.Series:
    """Timestamps in any of the four units as float seconds (NaN for what is not a number)."""
    converted = numbers(values)
    divisor = _units(values, converted).map({"s": 1.0, "ms": 1e3, "us": 1e6, "ns": 1e9})
    return converted / divisor.astype("float64")


def _units(values: pd.Series, converted: pd.Series) -> pd.Series:
    magnitude = converted.abs().to_numpy(dtype="float64", na_value=np.nan)
    units = np.select([magnitude < limit for limit, _ in _UNIT_LIMITS], [unit for _, unit in _UNIT_LIMITS], "ns")
    units = pd.Series(units, index=values.index, dtype=object)
    units[converted.isna().to_numpy()] = "nan"
    units[values.isna().to_numpy()] = None
    return units


def timestamps_in_unit(check: CheckResult, args: TimestampUnit, table: EventTable, context: RuleContext,
                       on: str) -> None:
    frame = table.items if on == ITEMS else table.events
    if _lacks(check, frame, args.column, table, context):
        return
    units = timestamp_units(frame[args.column])
    present = units.notna()
    unexpected = present & (units != args.unit)
    what = {"s": "not in seconds", "ms": "not in milliseconds"}[args.unit]
    _finish(check, frame, unexpected, int(present.sum()), context, values=frame[args.column], what=what)
    counts = units[present].value_counts()
    check.details = {unit: int(n) for unit, n in counts.items()}


def _person(frame: pd.DataFrame) -> pd.Series:
    customer = frame["customer_id"] if "customer_id" in frame.columns else pd.Series(None, index=frame.index)
    anonymous = frame["anonymous_id"] if "anonymous_id" in frame.columns else pd.Series(None, index=frame.index)
    person = ("c:" + customer.astype(object).where(customer.notna(), "").astype(str))
    return person.where(customer.notna(), "a:" + anonymous.astype(object).where(anonymous.notna(), "").astype(str))


def events_follow(check: CheckResult, args: EventsFollow, table: EventTable, context: RuleContext, on: str) -> None:
    frame = table.events
    if _lacks(check, frame, args.key, table, context):
        return
    before = context.table(args.after).events
    keyed = frame[args.key].notna()
    mine = pd.DataFrame({"key": frame[args.key].astype(object).astype(str), "person": _person(frame),
                         "ts": to_seconds(frame["timestamp"])}, index=frame.index)
    if args.key in before.columns and len(before):
        earlier = pd.DataFrame({"key": before[args.key].astype(object).astype(str), "person": _person(before),
                                "ts": to_seconds(before["timestamp"])})[before[args.key].notna().to_numpy()]
    else:
        earlier = pd.DataFrame({"key": pd.Series([], dtype=object), "person": pd.Series([], dtype=object),
                                "ts": pd.Series([], dtype="float64")})
    first_by_key = earlier.groupby("key")["ts"].min()
    group = ["key", "person"] if args.same_person else ["key"]
    first = earlier.groupby(group)["ts"].min().rename("first_ts").reset_index()
    joined = mine.reset_index().merge(first, on=group, how="left").set_index("index")
    has_key_anywhere = mine["key"].isin(first_by_key.index)
    matched = joined["first_ts"].notna()
    in_order = matched & (joined["first_ts"] <= joined["ts"])
    reason = pd.Series(np.select([~has_key_anywhere, ~matched, ~in_order],
                                 [f"no {args.after}", f"{args.after} by another person", f"{args.after} came later"],
                                 "ok"), index=frame.index)
    unexpected = keyed & (reason != "ok")
    _finish(check, frame, unexpected, int(keyed.sum()), context, values=frame[args.key],
            what=f"have no earlier {args.after} with the same {args.key}"
                 + (" and person" if args.same_person else ""))
    counts = reason[unexpected].value_counts()
    check.details = {k: int(v) for k, v in counts.items()}


def counted_once(check: CheckResult, args: CountedOnce, table: EventTable, context: RuleContext, on: str) -> None:
    frame = table.events
    if _lacks(check, frame, args.column, table, context):
        return
    keyed = frame[args.column].notna()
    value = numbers(frame[args.value_column]) if args.value_column in frame.columns \
        else pd.Series(np.nan, index=frame.index)
    # the first copy is the earliest; ties go to the smaller event_id, then value (as in SQL)
    order = pd.DataFrame({"ts": to_seconds(frame["timestamp"]), "id": frame["event_id"], "value": value,
                          "at": np.arange(len(frame))}, index=frame.index)
    ranked = order.sort_values(["ts", "id", "value", "at"], kind="stable", na_position="last").index
    keys = frame.loc[ranked, args.column].astype(object).astype(str)
    copies = pd.Series(keys.duplicated(keep="first").to_numpy() & keyed.loc[ranked].to_numpy(), index=ranked)
    copies = copies.reindex(frame.index)
    _finish(check, frame, copies, int(keyed.sum()), context, values=frame[args.column],
            what=f"repeat an earlier event's {args.column}")
    doubled = float(value[copies.to_numpy()].sum()) if check.unexpected_count else 0.0
    orders = int(frame.loc[copies.to_numpy(), args.column].astype(object).astype(str).nunique())
    check.details = {"orders_affected": orders, f"{args.value_column}_double_counted": round(doubled, 2)}
    if check.unexpected_count:
        check.message += f"; {orders:,} orders, {args.value_column} counted twice: {plain(round(doubled, 2)):,}"


RULES: dict[str, tuple[type[_Arguments], Callable[..., None]]] = {
    "expect_property_names_to_be_consistent": (PropertyNames, property_names),
    "expect_items_to_be_arrays": (ItemsArrays, items_arrays),
    "expect_timestamps_to_be_in_unit": (TimestampUnit, timestamps_in_unit),
    "expect_events_to_follow": (EventsFollow, events_follow),
    "expect_orders_to_be_counted_once": (CountedOnce, counted_once),
}

__all__ = ["RULES", "RuleContext", "run_rule", "new_check", "settle", "conclude", "validate_rule", "normal_key",
           "numbers", "timestamp_units", "to_seconds", "JSON_NUMBER"]
