"""How a person's identifier becomes the exact string that both sides are compared on.

The design's counting rules:

* an ``id`` is never turned into a number: ``"000417"`` stays as it is, an integer column's
  ``417`` becomes ``"417"`` (and a float column's ``417.0`` too: drivers hand numeric
  ids back as floats or Decimals);
* an ``email`` is trimmed and lower-cased (Customer.io treats email case-insensitively, ids
  case-sensitively), so ``" Jane@X.com "`` and ``"jane@x.com"`` are one person;
* a missing value (``None``, NaN, ``""`` or only blanks) has no key: it can match nobody.
"""

from __future__ import annotations

import math
from decimal import Decimal
from typing import Any


def normalize_id(value: Any) -> str | None:
    """The id as the exact string Customer.io would hold, or None when there is none."""
    if value is None:
        return None
    if isinstance(value, bool):  # a boolean is never an identifier
        return None
    if isinstance(value, int):
        return str(value)
    if isinstance(value, float):
        if math.isnan(value):
            return None
        return str(int(value)) if value.is_integer() else repr(value)
    if isinstance(value, Decimal):
        return str(int(value)) if value == value.to_integral_value() else str(value)
    if isinstance(value, bytes):
        value = value.decode("utf-8", "replace")
    text = str(value)
    return text if text.strip() else None


def normalize_email(value: Any) -> str | None:
    """The email trimmed and lower-cased, or None when there is none."""
    if value is None or (isinstance(value, float) and math.isnan(value)):
        return None
    text = str(value).strip().lower()
    return text or None


def normalizer(key: str):
    """The normaliser for the workspace's identity key (``"id"`` or ``"email"``)."""
    return normalize_email if key == "email" else normalize_id



def normalize_all(values, key: str) -> list[str | None]:
    """Normalise a whole column for the workspace's identity key."""
    normalize = normalizer(key)
    return [normalize(value) for value in values]
