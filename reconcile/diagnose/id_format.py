"""Two spellings of one identifier: a missing person and an extra profile that are one customer.

An integration that strips leading zeros (``0004830`` → ``4830``), sends a number as a float
(``7`` → ``7.0``), changes case, or wraps the value in invisible or non-ASCII whitespace makes
Customer.io hold the customer under an identifier the shop never issued. The diff stays exact
(to Customer.io they are two profiles), so the customer is missing on one side and extra on the
other; the diagnosis pairs them here and names the shift (``id_format``).

:func:`canonical` is the comparison: each step of :data:`STEPS` in turn, and two spellings are
one identifier when they end equal. :func:`differences` names the steps that brought them
together, which is what the evidence says.
"""

from __future__ import annotations

import re
import unicodedata
from dataclasses import dataclass, field
from typing import Callable, Iterable

import pandas as pd

from ..identity import normalizer

_NUMBER = re.compile(r"^([+-]?)([0-9]+)(?:\.([0-9]+))?$")


def _invisible(text: str) -> str:
    return "".join(c for c in text if unicodedata.category(c) != "Cf")


def _zeros(text: str) -> str:
    match = _NUMBER.match(text)
    return text if match is None else match.group(1) + (match.group(2).lstrip("0") or "0") + (
        "." + match.group(3) if match.group(3) is not None else "")


def _decimal(text: str) -> str:
    match = _NUMBER.match(text)
    if match is None or match.group(3) is None:
        return text
    fraction = match.group(3).rstrip("0")
    return match.group(1) + match.group(2) + ("." + fraction if fraction else "")


#: (what differs, the step that removes the difference), in the order they are applied
STEPS: tuple[tuple[str, Callable[[str], str]], ...] = (
    ("invisible characters", _invisible),
    ("surrounding whitespace", str.strip),
    ("Unicode form", lambda text: unicodedata.normalize("NFKC", text)),
    ("letter case", str.casefold),
    ("leading zeros", _zeros),
    ("a decimal part of zeros", _decimal),
)


def canonical(text: str) -> str:
    """The identifier with every difference :data:`STEPS` knows removed."""
    for _, step in STEPS:
        text = step(text)
    return text


def differences(shop: str, customerio: str) -> list[str]:
    """What separates two spellings that :func:`canonical` makes equal, in words."""
    found = []
    for name, step in STEPS:
        before = (shop, customerio)
        shop, customerio = step(shop), step(customerio)
        if before[0] != before[1] and (shop, customerio) != before:
            found.append(_detail(name, *before))
    return found


def _detail(name: str, shop: str, customerio: str) -> str:
    """The step's name, with the characters involved when they are not plain ASCII."""
    if name not in ("invisible characters", "surrounding whitespace", "Unicode form"):
        return name
    odd = sorted({c for c in shop + customerio if ord(c) > 127 or not c.isprintable()})
    return f"{name} ({', '.join(f'U+{ord(c):04X}' for c in odd)})" if odd else name


def spelled(text: str) -> str:
    """An identifier in quotes, with whitespace and invisible characters written as code points."""
    shown = "".join(c if (c.isprintable() and not c.isspace()) or c == " " else f"\\u{ord(c):04x}" for c in text)
    return f'"{shown}"'


@dataclass(frozen=True)
class Twin:
    """The other spelling of a person's identifier, on the other side of the diff."""

    spelling: str                       # the identifier as the other side holds it
    cio_id: str | None                  # the extra profile's cio_id (for a missing person)
    differences: tuple[str, ...] = field(default_factory=tuple)


def format_twins(missing: pd.DataFrame, extra: pd.DataFrame, key: str) -> dict[tuple[bool, str], Twin]:
    """Every missing person and extra profile whose ``key`` values are one identifier spelled two
    ways: ``{(is_extra, value): its twin}``. Over all differing people, not only the sample, so a
    person's twin is found wherever the sample falls."""
    extras: dict[str, list[tuple[str, str | None]]] = {}
    for value, cio_id in _pairs(extra, key):
        extras.setdefault(canonical(value), []).append((value, cio_id))
    twins: dict[tuple[bool, str], Twin] = {}
    for value, _ in _pairs(missing, key):
        for other, cio_id in extras.get(canonical(value), ()):
            if other == value:
                continue
            found = tuple(differences(value, other))
            twins.setdefault((False, value), Twin(other, cio_id, found))
            twins.setdefault((True, other), Twin(value, None, found))
    return twins


def _pairs(frame: pd.DataFrame, key: str) -> Iterable[tuple[str, str | None]]:
    """(the key as the diff compared it, cio_id) of each person in a discrepancies frame."""
    if key not in frame.columns or not len(frame):
        return []
    normalize = normalizer(key)
    cio = frame["cio_id"] if "cio_id" in frame.columns else pd.Series(None, index=frame.index)
    keys = (normalize(value) for value in frame[key].tolist())
    return [(k, c if isinstance(c, str) else None) for k, c in zip(keys, cio.tolist()) if k is not None]


__all__ = ["STEPS", "Twin", "canonical", "differences", "format_twins", "spelled"]
