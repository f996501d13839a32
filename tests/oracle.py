"""Reference forms the library's fast paths are held against: test oracles, not library code.

* :class:`ListMembership` reads membership pages into parallel Python lists, value by value, as
  the API documents them: the Arrow page reader (``customerio.membership.read_page``) must give
  exactly the same members.
* :func:`diff_segment_lists` is the design's counting rules with pandas on those lists: the
  Arrow diff (``compare.diff.diff_segment``) and the diff in the database must give exactly the
  same counts and people.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import pandas as pd
import pyarrow as pa

from reconcile.compare.diff import SegmentDiff, truth_rows
from reconcile.identity import normalizer


@dataclass
class ListMembership:
    """A segment's members as parallel columns: ``ids[i]``, ``emails[i]`` and ``cio_ids[i]``
    describe the i-th member in the API's order; None where the profile has no id or email."""

    segment_id: int = 0
    ids: list[str | None] = field(default_factory=list)
    emails: list[str | None] = field(default_factory=list)
    cio_ids: list[str] = field(default_factory=list)
    pages: int = 0

    def __len__(self) -> int:
        return len(self.cio_ids)

    def add_page(self, page: dict[str, Any]) -> None:
        """``identifiers`` is read, ``ids`` only when it is absent; "" means none."""
        identifiers = page.get("identifiers")
        if identifiers is not None:
            self.ids.extend([_text_or_none(item.get("id")) for item in identifiers])
            self.emails.extend([_text_or_none(item.get("email")) for item in identifiers])
            self.cio_ids.extend([str(item.get("cio_id") or "") for item in identifiers])
            return
        ids = page.get("ids")
        if not isinstance(ids, list):
            raise ValueError("the page has neither identifiers nor ids")
        self.ids.extend([_text_or_none(value) for value in ids])
        self.emails.extend([None] * len(ids))
        self.cio_ids.extend([""] * len(ids))

    def add_chunk(self, chunk: pa.StructArray) -> None:
        self.ids.extend(chunk.field("id").to_pylist())
        self.emails.extend(chunk.field("email").to_pylist())
        self.cio_ids.extend(chunk.field("cio_id").to_pylist())

    def table(self) -> pa.Table:
        return pa.table({"id": pa.array(list(self.ids), pa.string()), "email": pa.array(list(self.emails), pa.string()),
                         "cio_id": pa.array(list(self.cio_ids), pa.string())})

    def close(self) -> None:
        pass


def _text_or_none(value: Any) -> str | None:
    return None if value is None or value == "" else str(value)


def as_lists(membership) -> ListMembership:
    """Any membership's members as lists (for assertions on who is in it, in order)."""
    table = membership.table()
    return ListMembership(getattr(membership, "segment_id", 0), table.column("id").to_pylist(),
                          table.column("email").to_pylist(), table.column("cio_id").to_pylist(), membership.pages)


def normalize_all(values, key: str) -> list[str | None]:
    """Normalise a whole column for the workspace's identity key, value by value."""
    normalize = normalizer(key)
    return [normalize(value) for value in values]


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


def diff_segment_lists(truth_people: pd.DataFrame, membership, key: str) -> SegmentDiff:
    """The diff's counting rules with pandas on Python lists."""
    members = as_lists(membership)
    people, duplicates, keyless = customerio_people(members.ids, members.emails, members.cio_ids, key)
    truth_keys = truth_people.index
    matched = truth_keys.intersection(people.index)
    missing_keys = truth_keys.difference(people.index, sort=False)
    extra_keys = people.index.difference(truth_keys, sort=False)
    extra = pd.concat([people.loc[extra_keys].reset_index(drop=True), keyless.reset_index(drop=True)],
                      ignore_index=True)[["id", "email", "cio_id"]]
    return SegmentDiff(
        truth_count=len(truth_keys),
        customerio_count=len(people) + len(keyless),
        customerio_profiles=len(members),
        matched=len(matched),
        missing=truth_rows(truth_people.loc[missing_keys], key),
        extra=extra,
        duplicate_profiles=duplicates,
        keyless_profiles=len(keyless),
    )
