"""How a person's identifier becomes the exact string that both sides are compared on.

The design's counting rules:

* an ``id`` is never turned into a number: ``"000417"`` stays as it is, an integer column's
  ``417`` becomes ``"417"`` (and a float column's ``417.0`` too: drivers hand numeric
  ids back as floats or Decimals);
* an ``email`` is trimmed and lower-cased (Customer.io treats email case-insensitively, ids
  case-sensitively), so ``" Jane@X.com "`` and ``"jane@x.com"`` are one person;
* a missing value (``None``, NaN, ``""`` or only blanks) has no key: it can match nobody.

The rule is written once, per value (:func:`normalize_id`, :func:`normalize_email`), and
applied to whole Arrow columns by :func:`normalize_keys`: exact, because only ASCII strings and
integers take Arrow's fast path (where ``str.strip``/``str.lower`` and Arrow agree by
construction) and every other value goes through the per-value rule. The shop side keys its
rows with it as they are read, the Customer.io side its members, so this module sits below both.
"""

from __future__ import annotations

import math
from decimal import Decimal
from typing import Any, Callable

import pandas as pd
import pyarrow as pa
import pyarrow.compute as pc

# What str.strip() removes among ASCII characters (str.isspace): Arrow's ascii trim misses \x1c-\x1f.
ASCII_BLANKS = " \t\n\r\x0b\x0c\x1c\x1d\x1e\x1f"


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


def normalizer(key: str) -> Callable[[Any], str | None]:
    """The normaliser for the workspace's identity key (``"id"`` or ``"email"``)."""
    return normalize_email if key == "email" else normalize_id


def normalize_keys(values: pa.Array | pa.ChunkedArray, key: str) -> pa.Array:
    """:func:`normalizer` applied to every value: a string array, null where there is no key."""
    if isinstance(values, pa.ChunkedArray):
        values = values.combine_chunks() if values.num_chunks else pa.array([], values.type)
    kind = values.type
    if pa.types.is_integer(kind):
        return pc.cast(values, pa.string())       # str(int) both for ids and emails
    if pa.types.is_large_string(kind):
        values, kind = values.cast(pa.string()), pa.string()
    if not pa.types.is_string(kind):
        return _each(values, normalizer(key))
    trimmed = pc.utf8_trim(values, characters=ASCII_BLANKS)
    fast = pc.ascii_lower(trimmed) if key == "email" else values    # an id keeps its blanks
    fast = pc.if_else(pc.equal(trimmed, ""), pa.scalar(None, pa.string()), fast)
    ascii_ = pc.fill_null(pc.string_is_ascii(values), True)
    if pc.all(ascii_).as_py() is not False:
        return fast
    other = pc.invert(ascii_)
    slow = [normalizer(key)(value) for value in values.filter(other).to_pylist()]
    return pc.replace_with_mask(fast, other, pa.array(slow, pa.string()))


def _each(values: pa.Array, normalize: Callable[[Any], str | None]) -> pa.Array:
    return pa.array([normalize(value) for value in values.to_pylist()], pa.string())


def normalize_series(column: pd.Series, key: str) -> pa.Array:
    """A truth column's keys: Arrow's fast path for integer and string columns, else each value in Python."""
    if pd.api.types.is_integer_dtype(column.dtype) or pd.api.types.is_string_dtype(column.dtype):
        try:
            values = pa.array(column, from_pandas=True)
        except (pa.ArrowInvalid, pa.ArrowTypeError):
            values = None
        if values is not None and (pa.types.is_integer(values.type) or pa.types.is_string(values.type)
                                   or pa.types.is_large_string(values.type)):
            return normalize_keys(values, key)
    return pa.array([normalizer(key)(value) for value in column.tolist()], pa.string())


def index_keys(index: pd.Index) -> pa.Array:
    """A key index as an Arrow string array: zero-copy when it is Arrow-backed, so millions of
    keys never become Python objects on the way."""
    if len(index) == 0:
        return pa.array([], pa.string())
    values = index.array
    if hasattr(values, "__arrow_array__"):
        keys = pa.array(values)
        if isinstance(keys, pa.ChunkedArray):
            keys = keys.combine_chunks()
        return keys.cast(pa.string()) if not pa.types.is_string(keys.type) else keys
    return pa.array([None if v is None else str(v) for v in index.tolist()], pa.string())


def string_index(values: pa.Array, name: str | None = "key") -> pd.Index:
    """An Arrow-backed pandas string Index (no Python str per element)."""
    return pd.Index(pd.array(values, dtype=pd.StringDtype("pyarrow")), name=name)


__all__ = ["ASCII_BLANKS", "normalize_id", "normalize_email", "normalizer", "normalize_keys", "normalize_series",
           "index_keys", "string_index"]
