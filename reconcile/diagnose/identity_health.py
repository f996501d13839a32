"""Identity health: how well people are identified, per segment and for the whole run.

Each measure is a set of people (so a run's figure is the union over its segments, not a sum
that counts one profile once per segment):

* ``duplicate_emails``: member profiles whose normalised email another member profile shares
  (each of them can get every message: a double send);
* ``idless_profiles``: member profiles without an id in an ``id`` workspace (email-only);
* ``case_or_blank_ids``: ids, in the truth or among the members, that differ from another one
  only by letter case or surrounding blanks (``"AB12"`` and ``" ab12"``);
* ``conflicting_identity``: members whose id is one shop customer and whose email is another's,
  among the customers this run saw in the shop (the truth, and the diagnosis' lookup).

A person is named by their ``cio_id``, else ``"id:" + id``, else ``"email:" + email`` (an
export file may carry no cio_id); a member with none of the three (an ``ids``-only page's ``""``)
cannot be told from another and is :data:`UNIDENTIFIED`, one person however many there are.

Rows without a key in the truth are counted by :mod:`reconcile.shop.truth` (``truth_rows_without_key``).

Everything runs on Arrow columns (the membership's ``table()``): a segment of millions costs no
Python object per member, only per person a measure names.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.compute as pc

from ..customerio.membership import Membership
from ..identity import ASCII_BLANKS, index_keys, normalize_keys, normalize_series

MEASURES = ("duplicate_emails", "idless_profiles", "case_or_blank_ids", "conflicting_identity")
UNIDENTIFIED = "unidentified"   # the label of a member with no cio_id, id or email
STEP = 65_536         # truth rows normalised at a time (each step's intermediates are freed before the next)


def members_columns(membership: Membership) -> pa.Table:
    """The members as Arrow columns: ``id`` and ``cio_id`` as the membership holds them, ``email``
    normalised (:func:`reconcile.identity.normalize_email`; null where there is none).

    Columns stay in the membership's chunks (one per page), normalised chunk by chunk: no copy of
    a whole column is made on the way.
    """
    table = membership.table()
    emails = pa.chunked_array([normalize_keys(chunk, "email") for chunk in table.column("email").chunks], pa.string())
    return table.set_column(table.schema.get_field_index("email"), "email", emails)


class EmailOwners:
    """Which shop customer has each normalised email: rows of (email, owner) in order of
    precedence, the lookup's then the truth's; an email's first row owns it. Two Arrow columns
    rather than a dict, because a dict would hold a Python string per customer; the truth's
    owners are its index, not copied.

    An email may be null (nobody's). A lookup row without an id owns nothing (a guest checkout is
    not a customer another profile's id could conflict with), so the truth's owner still counts.
    """

    def __init__(self, emails: pa.ChunkedArray, owners: pa.ChunkedArray, truth_index: pd.Index | None = None):
        self.emails, self.owners = emails, owners
        self.truth_index = truth_index      # when the last rows' owners are this index, row for row

    @classmethod
    def of(cls, lookup: Mapping[str, str | None], truth_people: pd.DataFrame | None = None) -> "EmailOwners":
        """``lookup`` (normalised email -> id), then the truth's rows: the normalised ``email``
        column (any case) of ``truth_people``, owned by the row's key (the index)."""
        owned = {email: owner for email, owner in lookup.items() if owner is not None}
        emails = [pa.array(list(owned), pa.string())]
        owners = [pa.array(list(owned.values()), pa.string())]
        column = None if truth_people is None else next(
            (c for c in truth_people.columns if isinstance(c, str) and c.lower() == "email"), None)
        if column is None or not len(truth_people):
            return cls(pa.chunked_array(emails, pa.string()), pa.chunked_array(owners, pa.string()))
        values = truth_people[column]
        emails += [normalize_series(values.iloc[start:start + STEP], "email") for start in range(0, len(values), STEP)]
        owners.append(index_keys(truth_people.index))
        return cls(pa.chunked_array(emails, pa.string()), pa.chunked_array(owners, pa.string()), truth_people.index)

    def __bool__(self) -> bool:
        return len(self.emails) > self.emails.null_count

    def owners_of(self, emails: Iterable[str | None]) -> dict[str, str | None]:
        """``{email: owner}`` for those of these emails that have one."""
        held = pc.is_in(self.emails, value_set=_wanted(emails))
        found: dict[str, str | None] = {}
        for email, owner in zip(self.emails.filter(held).to_pylist(), self.owners.filter(held).to_pylist()):
            found.setdefault(email, owner)
        return found


def identity_people(members: pa.Table, truth_keys, key: str, shop_email_owner: EmailOwners | Mapping[str, str | None]
                    ) -> dict[str, set]:
    """The people behind each measure, as sets of stable strings (cio_id, or ``"id:"`` + id).

    ``members`` is :func:`members_columns`; ``truth_keys`` the truth's index (normalised keys).
    Two hash passes do the matching: one over the owners' emails then the members' (codes in
    order of first appearance, so the owners' emails get codes ``0 .. owned - 1``), one over the
    owners' ids, the truth's keys and the members' ids (the truth's keys once when they are the
    owners' too, as :meth:`EmailOwners.of` makes them).
    """
    found: dict[str, set] = {name: set() for name in MEASURES}
    owners = shop_email_owner if isinstance(shop_email_owner, EmailOwners) else EmailOwners.of(shop_email_owner)
    ids, emails = members.column("id"), members.column("email")
    rows = len(owners.emails)
    email_codes = _encode([*owners.emails.chunks, *emails.chunks])[0]     # (the distinct emails are not kept)
    first = _first_rows(email_codes[:rows])          # owners' email code -> the row that owns it
    owned, email_codes = len(first), email_codes[rows:]
    found["duplicate_emails"] = _labels(members, _repeated(email_codes))
    if key == "id":
        found["idless_profiles"] = _labels(members, ids.is_null().to_numpy())
    if key != "id" and not owned:
        return found
    truth = _truth_keys(truth_keys) if key == "id" else pa.array([], pa.string())
    if key == "id" and owners.truth_index is not None and owners.truth_index is truth_keys:
        # the owners' last rows are the truth's keys: hashed once, their codes are the owners' too
        lookup = rows - len(truth)
        id_codes, distinct = _encode([*owners.owners.slice(0, lookup).chunks, truth, *ids.chunks])
        owner_rows, member_codes, seen = id_codes[:rows], id_codes[rows:], id_codes[lookup:]
    else:
        id_codes, distinct = _encode([*owners.owners.chunks, truth, *ids.chunks])
        owner_rows, member_codes, seen = id_codes[:rows], id_codes[rows + len(truth):], id_codes[rows:]
    if key == "id":
        present = np.zeros(len(distinct), dtype=bool)   # the ids of the truth and the members (not the lookup's)
        present[seen[seen >= 0]] = True
        values = distinct.filter(pa.array(present))
        found["case_or_blank_ids"] = _case_or_blank(values)
    if owned:
        # member_id in known and owner_of(email, member_id) != member_id, for members with an email;
        # owners are never None (EmailOwners.of), so a member without id (code -1) is never known
        owner_codes = owner_rows[first]                 # email code -> its owner's id code
        is_owner = np.zeros(len(distinct) + 1, dtype=bool)
        is_owner[owner_codes] = True                    # the last slot, code -1, stays False
        has_owner = (email_codes >= 0) & (email_codes < owned)
        owner = np.where(has_owner, owner_codes[np.where(has_owner, email_codes, 0)], -1)
        conflict = has_owner & is_owner[member_codes] & (owner != member_codes)
        found["conflicting_identity"] = _labels(members, conflict)
    return found


def idless_emails(members: pa.Table, emails: Iterable[str]) -> set[str]:
    """Those of these emails that an email-only member (no id) holds."""
    held = pc.and_(members.column("id").is_null(), pc.is_in(members.column("email"), value_set=_wanted(emails)))
    return set(members.column("email").filter(held).to_pylist())


def email_twins(members: pa.Table, emails: Iterable[str]) -> dict[str, list[tuple[str | None, str | None]]]:
    """For those of these emails that two or more members hold: their ``(cio_id, id)``, in member order."""
    held = members.filter(pc.is_in(members.column("email"), value_set=_wanted(emails)))
    groups: dict[str, list[tuple[str | None, str | None]]] = {}
    for email, cio_id, member_id in zip(*(held.column(name).to_pylist() for name in ("email", "cio_id", "id"))):
        groups.setdefault(email, []).append((cio_id, member_id))
    return {email: group for email, group in groups.items() if len(group) > 1}


def counts(people: dict[str, set[str]]) -> dict[str, int]:
    return {name: len(people.get(name, ())) for name in MEASURES}


def run_counts(segments: list[dict[str, set[str]]]) -> dict[str, int]:
    """The run's identity health: each measure's union over its segments."""
    return {name: len(set().union(*(s.get(name, set()) for s in segments))) if segments else 0
            for name in MEASURES}


# ---------------------------------------------------------------------- Arrow helpers


def _wanted(emails: Iterable[str | None]) -> pa.Array:
    return pa.array(sorted({e for e in emails if e}), pa.string())


def _truth_keys(truth_keys) -> pa.Array:
    if isinstance(truth_keys, pd.Index):
        return index_keys(truth_keys)
    return pa.array(list(truth_keys), pa.string())


def _encode(chunks: list[pa.Array]) -> tuple[np.ndarray, pa.Array]:
    """``(codes, distinct)`` over these string arrays as one: a code per value in order of first
    appearance (equal values, equal codes; ``distinct[code]`` is the value), -1 for null. One
    hash table, no concatenated copy of the strings."""
    encoded = pc.dictionary_encode(pa.chunked_array(chunks, pa.string()))
    if not encoded.num_chunks:
        return np.zeros(0, dtype=np.int32), pa.array([], pa.string())
    codes = np.concatenate([np.asarray(pc.fill_null(chunk.indices, -1), dtype=np.int32) for chunk in encoded.chunks])
    return codes, encoded.chunk(encoded.num_chunks - 1).dictionary


def _repeated(codes: np.ndarray) -> np.ndarray:
    """True where a code (not -1) occurs more than once."""
    seen = np.bincount(codes[codes >= 0], minlength=1)
    return (codes >= 0) & (seen[np.maximum(codes, 0)] > 1)


def _first_rows(codes: np.ndarray) -> np.ndarray:
    """Codes in order of first appearance (``_encode``): the position where each code first
    appears, by code (code ``c`` first appears where the running maximum rises to ``c``)."""
    before = np.maximum.accumulate(np.concatenate(([-1], codes[:-1])).astype(np.int64))
    return np.flatnonzero(codes > before)


def _case_or_blank(values: pa.Array) -> set[str]:
    """Those of these distinct strings whose ``strip().lower()`` another one shares.

    Only a value that folding changes can meet another: an unchanged one meets it when it is that
    value's folded form. So the hash table holds the changed values' folded forms, not every id.
    """
    if not len(values):
        return set()
    folded = _fold(values)
    changed = pc.not_equal(folded, values)
    if not pc.any(changed).as_py():
        return set()
    moved, landed = values.filter(changed), folded.filter(changed)
    hits = values.filter(pc.and_(pc.invert(changed), pc.is_in(values, value_set=landed)))   # folded onto
    repeated = _repeated(_encode([landed, hits])[0])[:len(moved)]     # a hit is its own folded form
    return set(moved.filter(pa.array(repeated)).to_pylist()) | set(hits.to_pylist())


def _fold(values: pa.Array) -> pa.Array:
    """``value.strip().lower()`` of each string: Arrow for ASCII (where they agree), Python for the rest."""
    folded = pc.ascii_lower(pc.utf8_trim(values, characters=ASCII_BLANKS))
    ascii_ = pc.string_is_ascii(values)
    if pc.all(ascii_).as_py() is not False:
        return folded
    other = pc.invert(ascii_)
    slow = [value.strip().lower() for value in values.filter(other).to_pylist()]
    return pc.replace_with_mask(folded, other, pa.array(slow, pa.string()))


def _labels(members: pa.Table, mask: np.ndarray) -> set:
    """The people at ``mask``: cio_id when it is not empty, else ``"id:" + id``, else
    ``"email:" + email``, else :data:`UNIDENTIFIED`."""
    if not mask.any():
        return set()
    chosen = members.filter(pa.array(mask)).combine_chunks()
    cio_ids, ids, emails = chosen.column("cio_id"), chosen.column("id"), chosen.column("email")
    has_cio = pc.fill_null(pc.not_equal(cio_ids, ""), False)
    other = pc.coalesce(pc.binary_join_element_wise("id:", ids, ""), pc.binary_join_element_wise("email:", emails, ""),
                        pa.scalar(UNIDENTIFIED))
    return set(pc.if_else(has_cio, cio_ids, other).to_pylist())


__all__ = ["MEASURES", "EmailOwners", "identity_people", "members_columns", "idless_emails", "email_twins",
           "counts", "run_counts"]
