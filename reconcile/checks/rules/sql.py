"""reconcile's rules as SQL in the shop database, with the results of :mod:`.pandas`.

With the events in a database (``checks.engine = "database"``), each rule on events is one
aggregate query and one query for its first offenders, on the events query of its event name
(:meth:`reconcile.checks.sql.events.EventsQuery.events`); no event is read into Python. The
meanings are those of the pandas rules, spelled once per dialect in
:mod:`reconcile.checks.sql.dialects`:

* a number is a JSON number, or text that is one (:func:`.pandas.numbers`); true is not;
* values compared as keys (order ids, cart ids, people) are text as pandas prints them, compared
  by code point (PostgreSQL ``COLLATE "C"``, MariaDB ``utf8mb4_bin``);
* of repeated orders, the first is the earliest, ties going to the smaller event_id, then value.

Property names and timestamp units also run on line items (``on = "items"``), on the items
exploded in SQL (:meth:`reconcile.checks.sql.events.EventsQuery.items`). Rules on columns whose
names are not plain identifiers stay in memory (:func:`runs_in_database`). Counts and first
offenders come from one pass per rule (:func:`_tally`), because the joins and rankings the
rules need are the expensive part and computing them twice would double a rule's cost.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from ..flatten import BASE_COLUMNS, ITEM_BASE, ITEMS, ITEMS_TYPE, items_in_text
from ..gx import plain
from ..sql.events import EventsQuery
from ..sql.plan import plain_identifier
from ..model import EVENTS, CheckResult, Expectation
from . import (CountedOnce, EventsFollow, ItemsArrays, PropertyNames, RuleContext, RuleTable, TimestampUnit,
               arguments, conclude, could_not, expected_spelling, is_property, new_check, settle, spelling_groups)

#: offending rows read per rule: enough for the event ids (max_ids, 4 rows each) and samples
_OFFENDERS = 500
_ON_ITEMS_TOO = {"expect_property_names_to_be_consistent", "expect_timestamps_to_be_in_unit"}


def runs_in_database(expectation: Expectation) -> bool:
    """Whether a rule runs as SQL: on events, naming only plainly spelled columns."""
    if not expectation.rule or expectation.type not in _IN_DATABASE:
        return False
    return all(plain_identifier(c) and c not in (ITEMS, ITEMS_TYPE) for c in arguments(expectation).columns())


def run_rule_in_database(expectation: Expectation, query: EventsQuery, event: str, context: RuleContext
                         ) -> CheckResult:
    args = arguments(expectation)
    check = new_check(expectation, args)
    on = expectation.on if expectation.type in _ON_ITEMS_TOO else EVENTS
    _IN_DATABASE[expectation.type](check, args, _Events(query, event, on), context)
    return settle(check, args)


class _Events:
    """SQL for one event name's events or line items (alias ``e``): a column as text, as a number,
    its presence."""

    def __init__(self, query: EventsQuery, event: str, on: str = EVENTS):
        self.query, self.event, self.on, self.json = query, event, on, query.json
        self.p = "e.reconcile_properties"
        self.base = BASE_COLUMNS if on == EVENTS else ITEM_BASE
        self.noun = "events" if on == EVENTS else "line items"

    def source(self, event: str | None = None) -> str:
        return f"({self.query.relation(event or self.event, self.on)}) AS e"

    def fetch(self, sql: str) -> list[tuple]:
        return self.query.fetch(sql, self.event)

    def guarded(self, expression: str) -> str:
        """``expression`` on the properties, NULL where they are not a JSON object (checked as empty)."""
        return f"CASE WHEN {self.json.is_object(self.p)} THEN {expression} END"

    def text(self, column: str) -> str:
        if column in self.base:
            value = f"e.{self.json.quote(column)}"
            return self.json.binary(self.json.as_string(value) if column in ("timestamp", "item_index") else value)
        return self.json.binary(self.guarded(self.json.as_text(self.p, column)))

    def number(self, column: str) -> str:
        value = f"e.{self.json.quote(column)}"
        if column == "timestamp" and self.on == EVENTS:
            return self.query.timestamp_number(value)
        if column in self.base:   # ids and the item index
            return self.json.base_number(value, column == "item_index")
        return self.guarded(self.json.key_number(self.p, column))

    def present(self, column: str) -> str:
        """1 where the row has the column at all (a property's key, even with null), else 0."""
        return "1" if column in self.base else self.json.present(self.p, column)

    def seconds(self) -> str:
        return self.json.seconds(self.number("timestamp"))

    def person(self) -> str:
        """customer_id, else anonymous_id, as :func:`.pandas._person` spells it."""
        json = self.json
        return json.binary(f"COALESCE({json.concat(json.literal('c:'), 'e.customer_id')}, "
                           f"{json.concat(json.literal('a:'), 'COALESCE(e.anonymous_id, ' + json.literal('') + ')')})")


@dataclass
class _Group:
    """One group of a tally: its rows, the sums asked for, and its first rows."""

    rows: int = 0
    sums: list[float] = field(default_factory=list)
    first: list[tuple] = field(default_factory=list)


def _tally(events: _Events, rows: str, group: str, sums: list[str], keep: list[str]) -> dict[Any, _Group]:
    """Per value of ``group`` over ``rows`` (a query aliased ``r``): how many rows, the ``sums``,
    and the first :data:`_OFFENDERS` rows' ``keep`` columns, in one pass (computing a join or a
    ranking twice, once for counts and once for offenders, would double the rule's cost)."""
    windows = ", ".join(["COUNT(*) OVER (PARTITION BY w.g)"] + [f"SUM(w.s{i}) OVER (PARTITION BY w.g)"
                                                                for i in range(len(sums))])
    inner = ", ".join([f"{group} AS g"] + [f"{sum_} AS s{i}" for i, sum_ in enumerate(sums)]
                      + [f"{column} AS k{i}" for i, column in enumerate(keep)])
    kept = ", ".join(f"w.k{i}" for i in range(len(keep)))
    found = events.fetch(f"SELECT t.* FROM (SELECT w.g, {windows}, {kept}, ROW_NUMBER() OVER (PARTITION BY w.g) AS rn "
                         f"FROM (SELECT {inner} FROM ({rows}) AS r) AS w) AS t WHERE t.rn <= {_OFFENDERS}")
    groups: dict[Any, _Group] = {}
    for row in found:
        value, count, totals, columns = row[0], row[1], row[2:2 + len(sums)], row[2 + len(sums):-1]
        group_ = groups.setdefault(value, _Group(int(count), [float(t or 0) for t in totals]))
        group_.first.append(tuple(columns))
    return groups


def _lacks(check: CheckResult, groups: dict[Any, _Group], column: str, events: _Events, context: RuleContext) -> bool:
    """As :func:`.pandas._lacks`: a column no row has fails the rule, unless there are no rows.
    The groups' first sum counts the rows that have the column."""
    if sum(g.sums[0] for g in groups.values()):
        return False
    if groups:
        could_not(check, f"the {events.event} {events.noun} have no {column}")
    else:
        conclude(check, 0, 0, [], [], context)
    return True


def _first(groups: dict[Any, _Group], wanted: set) -> list[tuple]:
    return [row for value, group in groups.items() if value in wanted for row in group.first]


def _sample(number: Any, text_value: Any) -> Any:
    """A value as the report shows it: the number where it is one (whole numbers as integers)."""
    if number is None:
        return text_value
    return int(number) if float(number).is_integer() else float(number)


# --------------------------------------------------------------------------- the rules

_IN_DATABASE = RuleTable()


@_IN_DATABASE.runs(PropertyNames)
def property_names(check: CheckResult, args: PropertyNames, events: _Events, context: RuleContext) -> None:
    json = events.json
    join, key, is_null = json.keys(events.p)
    found = events.fetch(f"SELECT {key}, SUM(CASE WHEN {is_null} THEN 0 ELSE 1 END) "
                         f"FROM {events.source()}{join} GROUP BY {key}")
    excluded = ITEMS if events.on == EVENTS else None   # an event's items are not a property
    used = {str(k): int(n or 0) for k, n in found if is_property(str(k)) and str(k) != excluded}
    variants: dict[str, dict[str, int]] = {}
    for spellings in spelling_groups(sorted(used)):
        canonical = expected_spelling(spellings, used, args.expected)
        variants[canonical] = {s: used[s] for s in spellings if s != canonical}
    others = [s for found_ in variants.values() for s in found_]
    unexpected = " OR ".join(f"({json.sent(events.p, s)})" for s in others) or "1 = 0"
    flagged = _tally(events, f"SELECT e.event_id AS event_id, CASE WHEN COALESCE({events.guarded(unexpected)}, 1 = 0) "
                             f"THEN 1 ELSE 0 END AS bad FROM {events.source()}", "r.bad", [], ["r.event_id"])
    conclude(check, sum(g.rows for g in flagged.values()), flagged[1].rows if 1 in flagged else 0,
             [i for i, in _first(flagged, {1})], [], context, what="use another spelling of a property name")
    check.sample_values = [f"{s} (expected {c})" for c, found_ in variants.items() for s in found_][: context.sample_size]
    check.details = {"variants": variants}


@_IN_DATABASE.runs(ItemsArrays)
def items_arrays(check: CheckResult, args: ItemsArrays, events: _Events, context: RuleContext) -> None:
    json = events.json
    rows = (f"SELECT e.event_id AS event_id, {events.guarded(json.items_kind(events.p))} AS kind, "
            f"{events.guarded(json.as_text(events.p, ITEMS))} AS raw FROM {events.source()}")
    kinds = _tally(events, rows, "r.kind", [], ["r.event_id", "CASE WHEN r.kind = 'text' THEN r.raw END"])
    if not any(kind is not None for kind in kinds):
        conclude(check, 0, 0, [], [], context)
        check.message = "no event of this name carries items"
        return
    counts = {kind: kinds[kind].rows if kind in kinds else 0 for kind in ("array", "string", "other")}
    if "text" in kinds:    # PostgreSQL: strings that may hold an array, parsed here
        for raw, in events.fetch(f"SELECT r.raw FROM ({rows}) AS r WHERE r.kind = 'text'"):
            counts[_string_kind(raw)] += 1
    offenders = [(i, kind, raw) for kind in ("string", "other", "text") if kind in kinds for i, raw in kinds[kind].first]
    conclude(check, sum(counts.values()), counts["string"] + counts["other"], [i for i, _, _ in offenders],
             [_string_kind(raw) if kind == "text" else kind for _, kind, raw in offenders], context,
             what="carry line items that are not an array")
    check.details = counts
    if counts["string"]:
        check.message += f" ({counts['string']:,} as a JSON string)"


def _string_kind(raw: str) -> str:
    return "string" if items_in_text(raw) is not None else "other"


@_IN_DATABASE.runs(TimestampUnit)
def timestamps_in_unit(check: CheckResult, args: TimestampUnit, events: _Events, context: RuleContext) -> None:
    rows = (f"SELECT e.event_id AS event_id, {events.text(args.column)} AS t, {events.number(args.column)} AS n, "
            f"{events.present(args.column)} AS has FROM {events.source()}")
    units = _tally(events, rows, f"CASE WHEN r.t IS NULL THEN NULL ELSE {events.json.unit('r.n')} END",
                   ["r.has"], ["r.event_id", "r.n", "r.t"])
    if _lacks(check, units, args.column, events, context):
        return
    present = {unit: group.rows for unit, group in units.items() if unit is not None}
    wrong = {unit for unit in present if unit != args.unit}
    offenders = _first(units, wrong)
    conclude(check, sum(present.values()), sum(present[u] for u in wrong), [i for i, _, _ in offenders],
             [_sample(n, t) for _, n, t in offenders], context,
             what={"s": "not in seconds", "ms": "not in milliseconds"}[args.unit])
    check.details = dict(sorted(present.items(), key=lambda item: -item[1]))


@_IN_DATABASE.runs(EventsFollow)
def events_follow(check: CheckResult, args: EventsFollow, events: _Events, context: RuleContext) -> None:
    key = events.text(args.key)
    mine = (f"SELECT e.event_id AS event_id, {key} AS k, {events.person()} AS person, {events.seconds()} AS ts, "
            f"{events.present(args.key)} AS has FROM {events.source()}")
    earlier = (f"SELECT {key} AS k, {events.person()} AS person, {events.seconds()} AS ts "
               f"FROM {events.source(args.after)}")
    by = "b.k, b.person" if args.same_person else "b.k"
    on = "f.k = m.k AND f.person = m.person" if args.same_person else "f.k = m.k"
    reasons = {"none": f"no {args.after}", "other": f"{args.after} by another person",
               "later": f"{args.after} came later"}
    judged = (f"SELECT m.event_id, m.k, m.has, CASE WHEN m.k IS NULL THEN NULL WHEN a.k IS NULL THEN 'none' "
              "WHEN f.first_ts IS NULL THEN 'other' WHEN f.first_ts <= m.ts THEN 'ok' ELSE 'later' END AS reason "
              f"FROM ({mine}) AS m "
              f"LEFT JOIN (SELECT DISTINCT b.k FROM ({earlier}) AS b WHERE b.k IS NOT NULL) AS a ON a.k = m.k "
              f"LEFT JOIN (SELECT {by}, MIN(b.ts) AS first_ts FROM ({earlier}) AS b WHERE b.k IS NOT NULL "
              f"GROUP BY {by}) AS f ON {on}")
    found = _tally(events, judged, "r.reason", ["r.has"], ["r.event_id", "r.k"])
    if _lacks(check, found, args.key, events, context):
        return
    counts = {reason: group.rows for reason, group in found.items() if reason is not None}
    offenders = _first(found, set(reasons))
    conclude(check, sum(counts.values()), sum(n for reason, n in counts.items() if reason != "ok"),
             [i for i, _ in offenders], [k for _, k in offenders], context,
             what=f"have no earlier {args.after} with the same {args.key}" + (" and person" if args.same_person else ""))
    check.details = {reasons[r]: n for r, n in sorted(counts.items(), key=lambda item: -item[1]) if r != "ok"}


@_IN_DATABASE.runs(CountedOnce)
def counted_once(check: CheckResult, args: CountedOnce, events: _Events, context: RuleContext) -> None:
    json = events.json
    rows = (f"SELECT e.event_id AS event_id, {events.text(args.column)} AS k, {events.seconds()} AS ts, "
            f"{events.number(args.value_column)} AS v, {events.present(args.column)} AS has FROM {events.source()}")
    last = "CASE WHEN {0} IS NULL THEN 1 ELSE 0 END, {0}"
    order = ", ".join((last.format("x.ts"), last.format(json.binary("x.event_id")), last.format("x.v")))
    ranked = f"SELECT x.*, ROW_NUMBER() OVER (PARTITION BY x.k ORDER BY {order}) AS n FROM ({rows}) AS x"
    # per order with copies, exactly one row is its second: their number is the orders affected
    found = _tally(events, ranked, "CASE WHEN r.k IS NULL THEN NULL WHEN r.n > 1 THEN 1 ELSE 0 END",
                   ["r.has", "CASE WHEN r.n > 1 THEN r.v END", "CASE WHEN r.n = 2 THEN 1 ELSE 0 END"],
                   ["r.event_id", "r.k"])
    if _lacks(check, found, args.column, events, context):
        return
    copies = found[1] if 1 in found else _Group(0, [0.0, 0.0, 0.0])
    doubled, orders = round(copies.sums[1], 2), int(copies.sums[2])
    conclude(check, sum(g.rows for value, g in found.items() if value is not None), copies.rows,
             [i for i, _ in copies.first], [k for _, k in copies.first], context,
             what=f"repeat an earlier event's {args.column}")
    check.details = {"orders_affected": orders, f"{args.value_column}_double_counted": doubled}
    if copies.rows:
        check.message += f"; {orders:,} orders, {args.value_column} counted twice: {plain(doubled):,}"


__all__ = ["runs_in_database", "run_rule_in_database"]
