"""What runs in the shop database, and what the in-memory pass must read.

Each expectation is planned once, before anything is read (:func:`plan`): it runs in the
database when its meaning there is the same as on the flattened frame, and stays in memory
otherwise. In the database:

* ``not_be_null``, ``be_null``, ``match_regex``, ``not_match_regex``: on the value as pandas
  prints it (JSON null and a missing key are NULL; true/false are ``True``/``False``; text
  compares case-sensitively, also on MariaDB);
* ``be_unique``, and ``be_in_set``/``not_be_in_set`` with text values: on the value as text,
  with a mark before anything that is not a JSON string, so ``5`` and ``"5"`` stay different
  as they are in pandas;
* ``be_between`` with numeric bounds: on the value if it is a JSON number; as in pandas (where
  GX refuses to compare mixed types), a column that also holds other values fails with
  "could not be evaluated";
* ``be_in_type_list``/``be_of_type``: GX's ``be_in_set`` on the value's JSON type, named as
  Python names it (``int``, ``float``, ``str``, ``bool``, ``list``, ``dict``), with pandas'
  per-value meaning (``int`` admits true/false; ``int64`` names a dtype and admits no value).
  Where pandas sees a column of numbers only, it checks the dtype instead; the shipped suites
  list both spellings (``["int", "float", "int64", "float64"]``) so the two agree;
* ``expect_column_to_exist``: a property exists when at least one event carries its key.

A planned expectation names the *kind* of value it reads (:data:`TEXT`, :data:`TYPED`,
:data:`NUMBER`, :data:`TYPE`); each kind is a column of its own in the query GX validates
(:func:`value_column`), so a property used as text and as a number is extracted both ways.

What stays in memory (columns whose names are not plain identifiers, any other GX expectation,
rules that cannot run as SQL) is read by one lean pass over the events; :func:`memory_needs`
says which event names, properties and line items that pass keeps, so the rest is never held in
Python (:func:`event_names`: the names to read when every check runs in memory).
The plan lives apart from the SQL (:mod:`.dialects`, :mod:`.events`) because it is a decision
about meanings, made without a database.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, replace
from typing import Any, Iterable, Iterator

from ..flatten import BASE_COLUMNS, ITEM_BASE, ITEMS, ITEMS_TYPE, Needs
from ..model import EVENTS, Expectation, Suite
from ..rules import EventsFollow, arguments

TEXT, TYPED, NUMBER, TYPE = "text", "typed", "number", "type"
_PLAIN = re.compile(r"^[A-Za-z_][A-Za-z0-9_]*$")

_ON_TEXT = {"expect_column_values_to_not_be_null", "expect_column_values_to_be_null",
            "expect_column_values_to_match_regex", "expect_column_values_to_not_match_regex",
            "expect_column_values_to_match_regex_list", "expect_column_values_to_not_match_regex_list"}
_ON_TYPED = {"expect_column_values_to_be_unique", "expect_column_values_to_be_in_set",
             "expect_column_values_to_not_be_in_set"}
# GX on a pandas object column tests each value with isinstance against the named Python type
# (so True is an int); numpy names (int64, float64) match no Python value there, only a dtype.
_TYPE_NAMES = {"int": ("int", "bool"), "float": ("float",), "str": ("str",), "bool": ("bool",), "list": ("list",),
               "dict": ("dict",), "int64": (), "int32": (), "Int64": (), "float64": (), "float32": ()}
_SUFFIX = {TEXT: "", TYPED: "__typed", NUMBER: "__number", TYPE: "__type"}

#: GX expectations about which columns exist: they see the frame as read, and name no column it must hold
SEES_MISSING_COLUMNS = {"expect_column_to_exist", "expect_table_columns_to_match_set",
                        "expect_table_columns_to_match_ordered_list", "expect_table_column_count_to_equal",
                        "expect_table_column_count_to_be_between"}


def plain_identifier(name: str) -> bool:
    """Whether ``name`` can be a column of the query GX validates, and a JSON key in its SQL."""
    return bool(_PLAIN.match(name))


def value_column(column: str, kind: str) -> str:
    """The column holding ``column``'s values as ``kind`` in the query GX validates."""
    return column + _SUFFIX[kind]


@dataclass(frozen=True)
class Routed:
    """An expectation run in the database: what GX runs, on which extracted column."""

    expectation: Expectation          # as the suite wrote it (results are reported under it)
    gx_form: Expectation              # what GX validates: same index, column renamed, maybe retyped
    column: str | None                # the property or base column it reads
    kind: str | None                  # TEXT, NUMBER, TYPE; None for expect_column_to_exist


def _number(value: Any) -> bool:
    return isinstance(value, (int, float)) and not isinstance(value, bool)


def plan(expectation: Expectation) -> Routed | None:
    """How ``expectation`` runs in the database, or None when it must run in memory."""
    kwargs, kind = dict(expectation.kwargs), expectation.type
    column = kwargs.get("column")
    if expectation.rule or not isinstance(column, str) or not plain_identifier(column) \
            or (expectation.on == EVENTS and column in (ITEMS, ITEMS_TYPE)):   # derived while flattening
        return None
    base = column in (BASE_COLUMNS if expectation.on == EVENTS else ITEM_BASE)
    if kind == "expect_column_to_exist":
        return None if set(kwargs) - {"column"} else Routed(expectation, expectation, column, None)
    if kind in _ON_TEXT:
        if base and kind != "expect_column_values_to_not_be_null":
            return None
        return _routed(expectation, column, TEXT, kind, kwargs, base)
    if kind in _ON_TYPED:
        values = kwargs.get("value_set")
        if kind != "expect_column_values_to_be_unique" and not (values and all(isinstance(v, str) for v in values)):
            return None   # numbers or mixed sets compare typed values: in memory
        return _routed(expectation, column, TYPED, kind, kwargs, base)
    if kind == "expect_column_values_to_be_between":
        bounds = [kwargs.get("min_value"), kwargs.get("max_value")]
        if not all(b is None or _number(b) for b in bounds) or kwargs.get("parse_strings_as_datetimes"):
            return None
        return _routed(expectation, column, NUMBER, kind, kwargs, base)
    if kind in ("expect_column_values_to_be_in_type_list", "expect_column_values_to_be_of_type") and not base:
        names = kwargs.pop("type_list", None) or [kwargs.pop("type_", None)]
        kwargs.pop("type_", None)
        if not names or any(n not in _TYPE_NAMES for n in names):
            return None
        kwargs["value_set"] = sorted({t for n in names for t in _TYPE_NAMES[n]}) or ["none"]
        return _routed(expectation, column, TYPE, "expect_column_values_to_be_in_set", kwargs, base)
    return None


def _routed(expectation: Expectation, column: str, kind: str, gx_type: str, kwargs: dict, base: bool) -> Routed:
    kind = TEXT if base else kind     # base columns are read as the query returns them
    kwargs["column"] = column if base else value_column(column, kind)
    return Routed(expectation, replace(expectation, type=gx_type, kwargs=kwargs), column, kind)


def kinds_by_column(routed: list[Routed]) -> dict[str, set[str]]:
    """The kinds each column is read as by ``routed``: the value columns the query GX validates selects."""
    columns: dict[str, set[str]] = {}
    for r in routed:
        columns.setdefault(r.column, set()).add(r.kind)
    return columns


def memory_needs(suites: list[Suite], in_memory: dict[str, list[Expectation]]) -> dict[str, Needs]:
    """Per event name, what the checks left in memory read (the rest is not kept)."""
    needs: dict[str, Needs] = {}
    for suite in suites:
        for expectation in in_memory[suite.name]:
            need = needs.setdefault(suite.event, Needs())
            if expectation.rule:
                _rule_needs(expectation, need, needs)
                continue
            every = expectation.type in SEES_MISSING_COLUMNS or not list(named_columns([expectation]))
            if expectation.on == ITEMS:
                need.items = True
                need.item_columns = None if every or need.item_columns is None \
                    else need.item_columns | set(named_columns([expectation]))
            else:
                need.columns = None if every or need.columns is None \
                    else need.columns | set(named_columns([expectation]))
    return needs


def _rule_needs(expectation: Expectation, need: Needs, needs: dict[str, Needs]) -> None:
    args = arguments(expectation)
    on_items = expectation.on == ITEMS
    if expectation.type == "expect_property_names_to_be_consistent":
        if on_items:
            need.items, need.item_columns = True, None
        else:
            need.presence = True
        return
    wanted = set(args.columns())
    if on_items:
        need.items = True
        if need.item_columns is not None:
            need.item_columns |= wanted
    elif need.columns is not None:
        need.columns |= wanted | {ITEMS_TYPE}
    if isinstance(args, EventsFollow):   # the key is read on the events it follows, too
        before = needs.setdefault(args.after, Needs())
        if before.columns is not None:
            before.columns.add(args.key)


def event_names(suites: Iterable[Suite]) -> set[str]:
    """The event names the suites need: their own and those their journey rules refer to."""
    names = set()
    for suite in suites:
        if suite.event is None:
            continue
        names.add(suite.event)
        names.update(e.kwargs["after"] for e in suite.expectations if e.type == "expect_events_to_follow")
    return names


def named_columns(expectations: list[Expectation]) -> Iterator[str]:
    """The columns GX expectations name (none for those that see the frame as read)."""
    for expectation in expectations:
        if expectation.type in SEES_MISSING_COLUMNS:
            continue
        for key in ("column", "column_A", "column_B"):
            if isinstance(expectation.kwargs.get(key), str):
                yield expectation.kwargs[key]
        for key in ("column_list",):
            yield from (c for c in expectation.kwargs.get(key) or [] if isinstance(c, str))


__all__ = ["plan", "Routed", "kinds_by_column", "memory_needs", "event_names", "named_columns", "plain_identifier",
           "value_column", "SEES_MISSING_COLUMNS", "TEXT", "TYPED", "NUMBER", "TYPE"]
