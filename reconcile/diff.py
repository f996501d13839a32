"""Diff a truth set against a Customer.io membership by the design's counting rules.

* People, not rows: both sides are reduced to distinct normalised keys.
* A Customer.io member with no value for the key (an email-only profile in an ``id``
  workspace) can match nobody: each such profile is its own ``extra_in_customerio`` person.
* Several profiles sharing one key count as one person on the Customer.io side; the surplus
  profiles are reported under identity health, never silently dropped.

So ``matched + missing == truth_count`` and ``matched + extra == customerio_count`` always.
"""

from __future__ import annotations

from dataclasses import dataclass

import pandas as pd

from .identity import normalize_all, normalize_email, normalize_id

SIDES = ("missing_in_customerio", "extra_in_customerio")
DISCREPANCY_COLUMNS = ["segment", "side", "id", "email", "cio_id"]


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
        return pd.concat(frames, ignore_index=True)[DISCREPANCY_COLUMNS]


def customerio_people(ids, emails, cio_ids, key: str) -> tuple[pd.DataFrame, int, pd.DataFrame]:
    """Members as (distinct keyed people indexed by key, surplus duplicate count, keyless members)."""
    members = pd.DataFrame({"id": pd.Series(ids, dtype=object), "email": pd.Series(emails, dtype=object),
                            "cio_id": pd.Series(cio_ids, dtype=object)})
    members["key"] = normalize_all(members[key], key)
    keyless = members["key"].isna()
    keyed = members[~keyless]
    surplus = keyed["key"].duplicated(keep="first")
    people = keyed[~surplus].set_index("key")
    return people, int(surplus.sum()), members[keyless].drop(columns="key")


def diff_segment(truth_people: pd.DataFrame, membership, key: str) -> SegmentDiff:
    """Compare a truth frame (indexed by normalised key) with a ``Membership``.

    Computed on Arrow columns (:func:`reconcile.columnar.diff_columnar`, no Python object per
    member); :func:`diff_segment_lists` is the same diff on lists, kept as its reference.
    """
    from .columnar import diff_columnar
    return diff_columnar(truth_people, membership, key)


def diff_segment_lists(truth_people: pd.DataFrame, membership, key: str) -> SegmentDiff:
    """The reference form of :func:`diff_segment`: pandas on Python lists."""
    people, duplicates, keyless = customerio_people(membership.ids, membership.emails, membership.cio_ids, key)
    truth_keys = truth_people.index
    matched = truth_keys.intersection(people.index)
    missing_keys = truth_keys.difference(people.index, sort=False)
    extra_keys = people.index.difference(truth_keys, sort=False)

    missing = _truth_rows(truth_people.loc[missing_keys], key)
    extra = pd.concat([people.loc[extra_keys].reset_index(drop=True), keyless.reset_index(drop=True)],
                      ignore_index=True)[["id", "email", "cio_id"]]
    return SegmentDiff(
        truth_count=len(truth_keys),
        customerio_count=len(people) + len(keyless),
        customerio_profiles=len(membership.cio_ids),
        matched=len(matched),
        missing=missing,
        extra=extra,
        duplicate_profiles=duplicates,
        keyless_profiles=len(keyless),
    )


def _truth_rows(frame: pd.DataFrame, key: str) -> pd.DataFrame:
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
