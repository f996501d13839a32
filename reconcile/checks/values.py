"""What a value in the events is: a number, an instant, or neither. One definition for pandas and
for every database (:mod:`.sql.dialects` spells the same tests in SQL).

* **A number** is a JSON number, or text that is one (``"1767139200"``); ``true`` is not.
* **An instant** is a native timestamp (PostgreSQL ``timestamp``/``timestamptz``/``date``,
  MariaDB ``DATETIME``/``TIMESTAMP``/``DATE``, a Python ``datetime``) or ISO 8601 text of the
  shape :data:`ISO_INSTANT`: ``2026-01-01``, ``2026-01-01 09:30``, ``2026-01-01T09:30:00.25Z``,
  ``…+02:00``; no zone means UTC. It is read as unix seconds, to the millisecond.
* **The events' timestamp**, as every check reads it (:func:`event_timestamps`): a number as it
  was sent (so milliseconds stay visible to the unit checks), an instant as unix seconds, and
  anything else as no timestamp (null).
"""

from __future__ import annotations

import re
from datetime import date, datetime, timedelta, timezone
from decimal import Decimal

import numpy as np
import pandas as pd

#: text that is a JSON number, with JSON's whitespace around it (the same test runs in SQL)
JSON_NUMBER = r"[ \t\n\r]*-?(?:0|[1-9][0-9]*)(?:\.[0-9]+)?(?:[eE][-+]?[0-9]+)?[ \t\n\r]*"

#: ISO 8601 text read as an instant: a date, then optionally a time (minutes, seconds, up to six
#: decimals) with an optional zone (Z or ±HH:MM up to 14 hours); year 0000 and impossible dates are not
ISO_INSTANT = (r"(?!0000)[0-9]{4}-(?:0[1-9]|1[0-2])-(?:0[1-9]|[12][0-9]|3[01])"
               r"(?:[T ](?:[01][0-9]|2[0-3]):[0-5][0-9](?::[0-5][0-9](?:\.[0-9]{1,6})?)?"
               r"(?:Z|[+-](?:0[0-9]|1[0-4]):[0-5][0-9])?)?")
_ISO = re.compile(ISO_INSTANT)
_EPOCH = datetime(1970, 1, 1, tzinfo=timezone.utc)


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


def instant_seconds(value) -> float | None:
    """An instant (a datetime, a date, ISO 8601 text) as unix seconds to the millisecond; None otherwise."""
    if isinstance(value, str):
        if not _ISO.fullmatch(value):
            return None
        try:
            value = datetime.fromisoformat(value.replace("Z", "+00:00"))
        except ValueError:      # the right shape, an impossible date (February 30)
            return None
    if isinstance(value, pd.Timestamp):
        value = value.to_pydatetime()
    if isinstance(value, date) and not isinstance(value, datetime):
        value = datetime(value.year, value.month, value.day)
    if not isinstance(value, datetime):
        return None
    moment = value if value.tzinfo else value.replace(tzinfo=timezone.utc)
    micros = (moment - _EPOCH) // timedelta(microseconds=1)
    return ((micros + 500) // 1000) / 1000


def event_timestamps(values: pd.Series) -> pd.Series:
    """The events' timestamps as the checks read them: numbers as sent, instants as unix seconds,
    anything else null (see the module docstring)."""
    if pd.api.types.is_numeric_dtype(values.dtype) and not pd.api.types.is_bool_dtype(values.dtype):
        return values
    if pd.api.types.is_datetime64_any_dtype(values.dtype):
        values = values.astype(object)
    converted = numbers(values)
    rest = converted.isna() & values.notna()
    if rest.any():
        found = [instant_seconds(v) for v in values[rest].astype(object)]
        converted[rest] = np.array([np.nan if v is None else v for v in found], dtype="float64")
    return converted


__all__ = ["JSON_NUMBER", "ISO_INSTANT", "numbers", "instant_seconds", "event_timestamps"]
