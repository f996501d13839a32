"""reconcile's own rules: what Great Expectations has no expectation for.

A rule is named and written in a suite like GX's expectations and produces the same
:class:`~reconcile.results.CheckResult`; ``mostly`` works as in GX (the share of rows that must
be fine, default 1.0). Rows with no value in the checked column are skipped, as GX's map
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

Each rule runs on two engines that must give the same results: :mod:`.pandas` on the flattened
frames, :mod:`.sql` in the shop database. This module holds what both read, so that a meaning
is spelled once: the argument models (and the columns each rule reads, :meth:`columns`), which
columns are not properties, what a JSON number is, which spelling of a property name is the
expected one, and how counts become a result. It imports neither engine: :data:`RULES` names
the argument model of each rule, and each engine keeps its own :class:`RuleTable` of functions.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Any, Callable, Iterable, Literal, Mapping

from pydantic import BaseModel, ConfigDict, Field, ValidationError

from ..flatten import BASE_COLUMNS, ITEMS_TYPE, EventTable
from ..gx import distinct_samples
from ..model import ITEMS, CheckResult, Expectation

#: columns of the flattened frames that are not properties: the property-name rule skips them
_NOT_PROPERTIES = set(BASE_COLUMNS) | {ITEMS_TYPE, "item_index"}
_SEPARATORS = re.compile(r"[\s_.\-]+")

#: text that is a JSON number, with JSON's whitespace around it (the same test runs in SQL)
JSON_NUMBER = r"[ \t\n\r]*-?(?:0|[1-9][0-9]*)(?:\.[0-9]+)?(?:[eE][-+]?[0-9]+)?[ \t\n\r]*"


class _Arguments(BaseModel):
    model_config = ConfigDict(extra="forbid", strict=True)
    mostly: float = Field(1.0, ge=0.0, le=1.0)

    def columns(self) -> tuple[str, ...]:
        """The columns (base columns or properties) the rule reads by name: what the in-memory
        pass must keep, and what must be a plain identifier for the rule to run as SQL."""
        return ()


class PropertyNames(_Arguments):
    expected: list[str] = []


class ItemsArrays(_Arguments):
    pass


class TimestampUnit(_Arguments):
    column: str = "timestamp"
    unit: Literal["s", "ms"] = "s"

    def columns(self) -> tuple[str, ...]:
        return (self.column,)


class EventsFollow(_Arguments):
    after: str
    key: str = "cart_id"
    same_person: bool = True

    def columns(self) -> tuple[str, ...]:
        return (self.key,)


class CountedOnce(_Arguments):
    column: str = "order_id"
    value_column: str = "revenue"

    def columns(self) -> tuple[str, ...]:
        return (self.column, self.value_column)


#: every rule by its type name, with the model that validates its arguments
RULES: dict[str, type[_Arguments]] = {
    "expect_property_names_to_be_consistent": PropertyNames,
    "expect_items_to_be_arrays": ItemsArrays,
    "expect_timestamps_to_be_in_unit": TimestampUnit,
    "expect_events_to_follow": EventsFollow,
    "expect_orders_to_be_counted_once": CountedOnce,
}


class RuleTable(dict[str, Callable[..., None]]):
    """One engine's function for each rule type; a function joins it by its decorator,
    ``@table.runs(TimestampUnit)``, so the pairing stands next to the code it names."""

    def runs(self, model: type[_Arguments]) -> Callable[[Callable[..., None]], Callable[..., None]]:
        kind, = (kind for kind, known in RULES.items() if known is model)

        def register(function: Callable[..., None]) -> Callable[..., None]:
            self[kind] = function
            return function
        return register


def arguments(expectation: Expectation) -> _Arguments:
    """A rule's arguments, validated (the suite was validated on load, so this does not fail)."""
    return RULES[expectation.type](**expectation.kwargs)


def validate_rule(kind: str, kwargs: dict[str, Any]) -> str | None:
    """The first problem with a rule's arguments as one phrase, or None."""
    model = RULES[kind]
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


@dataclass
class RuleContext:
    """What a rule sees: every event table read, and how much evidence to keep."""

    tables: dict[str, EventTable]
    max_ids: int = 100
    sample_size: int = 5

    def table(self, name: str) -> EventTable:
        return self.tables.get(name) or EventTable.empty(name)


def is_property(name: str) -> bool:
    """Whether a column of the flattened frames (or a key in the database) is a property the
    property-name rule compares, not a base column or one renamed to keep it apart."""
    return name not in _NOT_PROPERTIES and not str(name).startswith(("properties.", "item."))


def normal_key(name: str) -> str:
    """``ProductID``, ``product_id``, ``product-id`` → ``productid``."""
    return _SEPARATORS.sub("", str(name)).lower()


def spelling_groups(names: Iterable[str]) -> list[list[str]]:
    """The names that differ only by case or separators, in groups of two or more, in the order seen."""
    groups: dict[str, list[str]] = {}
    for name in names:
        groups.setdefault(normal_key(name), []).append(name)
    return [spellings for spellings in groups.values() if len(spellings) >= 2]


def expected_spelling(spellings: list[str], used: Mapping[str, int], expected: list[str]) -> str:
    """The spelling of a group the rule expects: the one in ``expected``, else the most used one
    (lower case first, then alphabetical, on a tie)."""
    wanted = {normal_key(name): name for name in expected}.get(normal_key(spellings[0]))
    return wanted or min(spellings, key=lambda s: (-used[s], s != s.lower(), s))


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


def could_not(check: CheckResult, why: str) -> None:
    check.success = False
    check.message = f"could not be evaluated: {why}"


__all__ = ["RULES", "RuleTable", "RuleContext", "PropertyNames", "ItemsArrays", "TimestampUnit", "EventsFollow",
           "CountedOnce", "arguments", "validate_rule", "is_property", "normal_key", "spelling_groups",
           "expected_spelling", "new_check", "settle", "conclude", "could_not", "JSON_NUMBER"]
