"""reconcile's rules on the flattened frames, vectorised in pandas.

The engine for JSON Lines, ``checks.engine = "pandas"``, and whatever cannot run as SQL. Each
rule is a function ``(check, arguments, table, context, on)`` that fills ``check`` from boolean
masks over the event name's frame; :func:`run_rule` validates the arguments and settles the
result. The meanings both engines share (a number, a unit, the expected spelling, the result)
live in :mod:`reconcile.checks.rules`, so :mod:`.sql` gives the same results.
"""

from __future__ import annotations

from decimal import Decimal

import numpy as np
import pandas as pd

from ..flatten import ITEMS_TYPE, EventTable
from ..gx import plain
from ..model import ITEMS, CheckResult, Expectation
from . import (JSON_NUMBER, CountedOnce, EventsFollow, ItemsArrays, PropertyNames, RuleContext, RuleTable,
               TimestampUnit, arguments, conclude, could_not, expected_spelling, is_property, new_check, settle,
               spelling_groups)


def run_rule(expectation: Expectation, context: RuleContext, event: str) -> CheckResult:
    args = arguments(expectation)
    check = new_check(expectation, args)
    _PANDAS[expectation.type](check, args, context.table(event), context, expectation.on)
    return settle(check, args)


def _finish(check: CheckResult, frame: pd.DataFrame, unexpected: pd.Series, checked: int, context: RuleContext,
            values: pd.Series | None = None, what: str = "unexpected") -> None:
    """Fill counts, ids and samples from a boolean mask over ``frame``."""
    count = int(unexpected.sum())
    offenders = frame.loc[unexpected.to_numpy()] if count else frame.iloc[0:0]
    ids = offenders["event_id"].dropna().astype(str) if "event_id" in offenders.columns else pd.Series([], dtype=object)
    samples = values[unexpected.to_numpy()].head(500).tolist() if values is not None and count else []
    conclude(check, checked, count, ids.head(context.max_ids * 4).tolist(), samples, context, what)


def _lacks(check: CheckResult, frame: pd.DataFrame, column: str, table: EventTable, context: RuleContext) -> bool:
    """True (and the check settled) when ``column`` is absent: a failure, unless there are no rows at all."""
    if column in frame.columns:
        return False
    if len(frame):
        could_not(check, f"the {table.name} {'line items' if check.on == ITEMS else 'events'} have no {column}")
    else:
        _finish(check, frame, pd.Series(False, index=frame.index), 0, context)
    return True


# --------------------------------------------------------------------------- the rules

_PANDAS = RuleTable()


@_PANDAS.runs(PropertyNames)
def property_names(check: CheckResult, args: PropertyNames, table: EventTable, context: RuleContext, on: str) -> None:
    frame = table.items if on == ITEMS else table.events
    unexpected = pd.Series(False, index=frame.index)
    variants: dict[str, dict[str, int]] = {}
    for spellings in spelling_groups(c for c in frame.columns if is_property(c)):
        used = {s: int(frame[s].notna().sum()) for s in spellings}
        canonical = expected_spelling(spellings, used, args.expected)
        others = [s for s in spellings if s != canonical]
        variants[canonical] = {s: used[s] for s in others}
        unexpected |= frame[others].notna().any(axis=1)
    _finish(check, frame, unexpected, len(frame), context, what="use another spelling of a property name")
    check.sample_values = [f"{s} (expected {c})" for c, found in variants.items() for s in found][: context.sample_size]
    check.details = {"variants": variants}


@_PANDAS.runs(ItemsArrays)
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


@_PANDAS.runs(TimestampUnit)
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


@_PANDAS.runs(EventsFollow)
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


@_PANDAS.runs(CountedOnce)
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


__all__ = ["run_rule", "numbers", "timestamp_units", "to_seconds"]
