"""A truth segment's SQL, run read-only and reduced to distinct people as it streams.

* **People, not rows.** A customer returned once per order counts once; the first row seen for
  a person is kept as evidence for the diagnosis (aggregate in SQL when a particular row must
  win). Rows without a key are counted, never dropped silently.
* **Reduced per partition.** Each partition of rows is keyed (:func:`reconcile.identity.normalize_series`)
  and reduced to distinct people before the next is read, so a query that joins orders and
  returns a million rows never becomes a million Python row objects at once.
"""

from __future__ import annotations

import time
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import datetime
from typing import Callable, Iterator

import numpy as np
import pandas as pd
from sqlalchemy.engine import Engine
from sqlalchemy.exc import DBAPIError, SQLAlchemyError

from ..config import SegmentConfig
from ..errors import ConfigError, DatabaseError
from ..identity import normalize_series, string_index
from .database import PARTITION_ROWS, Window, describe_database_error, find_column, stream_rows


@dataclass
class TruthSet:
    """The distinct people a truth query returned, keyed by the normalised identity key."""

    key: str
    people: pd.DataFrame            # index: normalised key (str); columns: what the SQL returned
    rows_read: int = 0
    rows_without_key: int = 0
    seconds: float = 0.0
    columns: list[str] = field(default_factory=list)

    def __len__(self) -> int:
        return len(self.people)

    @property
    def keys(self) -> pd.Index:
        return self.people.index


def run_truth(engine: Engine, segment: SegmentConfig, key: str, as_of: datetime,
              on_rows: Callable[[int], None] | None = None, partition_rows: int = PARTITION_ROWS) -> TruthSet:
    """Run one segment's truth SQL; raise DatabaseError (could not compare) on any failure."""
    started = time.perf_counter()
    window = Window.ending(as_of, segment.window_days)
    frames: list[pd.DataFrame] = []
    truth = TruthSet(key=key, people=pd.DataFrame())
    with truth_errors(segment, engine):
        for columns, rows in stream_rows(engine, segment.sql, window, partition_rows):
            key_column = find_column(columns, key)
            if key_column is None:
                raise DatabaseError(no_key_column(segment, key, columns))
            truth.columns = columns
            frames.append(_distinct_people(rows, columns, key_column, truth))
            if on_rows:
                on_rows(truth.rows_read)
    if frames:
        people = pd.concat(frames)
        frames.clear()                                   # the partitions, freed before the dedupe
        repeated = people.index.duplicated(keep="first")
        truth.people = people[~repeated] if repeated.any() else people   # no copy when people are unique
    else:
        truth.people = pd.DataFrame(columns=truth.columns, index=pd.Index([], dtype=object, name="key"))
    truth.seconds = time.perf_counter() - started
    return truth


def no_key_column(segment: SegmentConfig, key: str, columns: list[str]) -> str:
    """What to do when the truth SQL does not return the identity column."""
    return (f"segment {segment.name}: the truth SQL returns no column named \"{key}\" (identity.key); it returns "
            f"{', '.join(columns) or 'no columns'}; select the customer's {key} AS {key}")


@contextmanager
def truth_errors(segment: SegmentConfig, engine: Engine) -> Iterator[None]:
    """Driver and SQLAlchemy errors around a segment's SQL as one-line Config/DatabaseErrors."""
    try:
        yield
    except ConfigError as exc:
        raise ConfigError(f"segments.{segment.name}.sql: {exc}") from None
    except DBAPIError as exc:
        raise DatabaseError(f"segment {segment.name}: {describe_database_error(exc, engine)}") from None
    except SQLAlchemyError as exc:
        raise DatabaseError(f"segment {segment.name}: the truth SQL failed ({exc.__class__.__name__}); "
                            "check it against the database") from None


def _distinct_people(rows: list[tuple], columns: list[str], key_column: str, truth: TruthSet) -> pd.DataFrame:
    """One partition reduced to distinct, keyed people; rows without a key are counted."""
    frame = pd.DataFrame.from_records(rows, columns=columns)
    keys = normalize_series(frame[key_column], truth.key)   # Arrow strings, null where there is no key
    has_key = np.asarray(keys.is_valid(), dtype=bool)
    truth.rows_read += len(frame)
    truth.rows_without_key += int((~has_key).sum())
    frame = frame[has_key]
    frame.index = string_index(keys.filter(has_key))
    return frame[~frame.index.duplicated(keep="first")]


__all__ = ["TruthSet", "run_truth", "truth_errors", "no_key_column"]
