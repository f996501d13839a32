"""The diff in memory: a truth set against a membership, by the design's counting rules.

* People, not rows: both sides are reduced to distinct normalised keys.
* A Customer.io member with no value for the key (an email-only profile in an ``id``
  workspace) can match nobody: each such profile is its own ``extra_in_customerio`` person.
* Several profiles sharing one key count as one person on the Customer.io side; the surplus
  profiles are reported under identity health, never silently dropped.

So ``matched + missing == truth_count`` and ``matched + extra == customerio_count`` always.

Both sides are Arrow columns and the sets are one hash pass over them, so a segment of
millions costs no Python object per person.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.compute as pc

from ..customerio.membership import Membership
from ..identity import index_keys, normalize_email, normalize_id, normalize_keys
from ..results import DISCREPANCY_COLUMNS, SIDES, stack_rows


@dataclass
class SegmentDiff:
    truth_count: int
    customerio_count: int
    customerio_profiles: int
    matched: int
    missing: pd.DataFrame          # one row per person: id, email, cio_id (+ truth evidence columns)
    extra: pd.DataFrame            # one row per person: id, email, cio_id
    duplicate_profiles: int        # profiles beyond the first that share a key
    keyless_profiles: int          # members with no value for the key

    @property
    def mismatch_rate(self) -> float | None:
        """``(missing + extra) / truth_count``; None when the truth is empty but CIO is not."""
        differing = len(self.missing) + len(self.extra)
        if self.truth_count == 0:
            return 0.0 if differing == 0 else None
        return differing / self.truth_count

    def discrepancies(self, segment: str) -> pd.DataFrame:
        """Both sides as rows of discrepancies.csv (segment, side, id, email, cio_id, ...)."""
        frames = []
        for side, frame in zip(SIDES, (self.missing, self.extra)):
            rows = frame.reset_index(drop=True).copy()
            rows.insert(0, "side", side)
            rows.insert(0, "segment", segment)
            frames.append(rows)
        return stack_rows(frames, DISCREPANCY_COLUMNS)[DISCREPANCY_COLUMNS]


def diff_segment(truth_people: pd.DataFrame, membership: Membership, key: str) -> SegmentDiff:
    """Compare a truth frame (indexed by normalised key) with a membership.

    One hash pass over both sides gives every key a code, and set membership is then array
    indexing; the people come out in the truth's order (missing) and the API's (extra)."""
    members = membership.table()
    keys = normalize_keys(members.column(key), key)
    truth_keys = index_keys(truth_people.index)
    codes = np.asarray(pc.fill_null(pa.concat_arrays([truth_keys, keys]).dictionary_encode().indices, -1),
                       dtype=np.int64)
    truth_codes, cio_codes = codes[:len(truth_keys)], codes[len(truth_keys):]
    distinct = int(codes.max(initial=-1)) + 1
    keyless = cio_codes < 0
    first = _first_occurrence(cio_codes)   # keyed and not a surplus profile of a key seen before
    in_cio_side = np.zeros(distinct, dtype=bool)
    in_cio_side[cio_codes[~keyless]] = True
    in_truth_side = np.zeros(distinct, dtype=bool)
    in_truth_side[truth_codes] = True
    in_cio = in_cio_side[truth_codes]
    people_count = int(first.sum())
    extra_mask = first.copy()
    extra_mask[first] = ~in_truth_side[cio_codes[first]]
    keyless_count = int(keyless.sum())
    missing = truth_rows(truth_people[~in_cio], key)
    extra = pa.concat_tables([members.filter(pa.array(extra_mask)), members.filter(pa.array(keyless))])
    return SegmentDiff(
        truth_count=len(truth_people),
        customerio_count=people_count + keyless_count,
        customerio_profiles=len(members),
        matched=int(in_cio.sum()),
        missing=missing,
        extra=_frame(extra),
        duplicate_profiles=len(members) - keyless_count - people_count,
        keyless_profiles=keyless_count,
    )


def _first_occurrence(codes: np.ndarray) -> np.ndarray:
    """True at the first position of each code (codes < 0, no key: False)."""
    positions = np.flatnonzero(codes >= 0)
    _, first = np.unique(codes[positions], return_index=True)      # the index of each code's first position
    mask = np.zeros(len(codes), dtype=bool)
    mask[positions[first]] = True
    return mask


def _frame(table: pa.Table) -> pd.DataFrame:
    """id, email, cio_id as object columns with None (what the report and CSV writers expect)."""
    return pd.DataFrame({name: pd.Series(table.column(name).to_pylist(), dtype=object)
                         for name in ("id", "email", "cio_id")})


def truth_rows(frame: pd.DataFrame, key: str) -> pd.DataFrame:
    """Missing people with id/email/cio_id columns first, their evidence columns after."""
    columns = {c.lower(): c for c in frame.columns}
    rows = pd.DataFrame(index=frame.index)
    if key == "id":
        rows["id"] = frame.index
        rows["email"] = frame[columns["email"]].map(normalize_email) if "email" in columns else None
    else:
        rows["id"] = frame[columns["id"]].map(normalize_id) if "id" in columns else None
        rows["email"] = frame.index
    rows["cio_id"] = None
    evidence = [c for c in frame.columns if c.lower() not in ("id", "email", "cio_id")]
    return pd.concat([rows, frame[evidence]], axis=1).reset_index(drop=True)


__all__ = ["SegmentDiff", "diff_segment", "truth_rows"]
