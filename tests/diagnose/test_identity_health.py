"""Identity health on Arrow columns equals the straightforward computation on Python lists.

:mod:`reconcile.diagnose.identity_health` works on the membership's Arrow columns (a million
members cost no Python object each). Here every measure is computed again the plain way, a loop
over the lists of ``oracle.ListMembership``, and the two must agree exactly: on a hand-made segment whose
numbers are worked out below, and on many seeded random ones (duplicates, letter case and
blanks in ids, ``None``/``""``/blank emails, non-ASCII case, lookup rows that win over the
truth, owners that are ``None``, several pages).
"""

from __future__ import annotations

import random
from collections import Counter

import pandas as pd
import pyarrow as pa
import pytest

from oracle import ListMembership, as_lists
from reconcile.customerio import MemoryMembership
from reconcile.diagnose.identity_health import (MEASURES, EmailOwners, email_twins, identity_people, idless_emails,
                                                members_columns)
from reconcile.identity import normalize_email, string_index


# ---------------------------------------------------------------------- the plain way


def label(cio_id, member_id, email):
    """cio_id, else "id:" + id, else "email:" + email, else "unidentified" (all such members are one)."""
    if cio_id:
        return cio_id
    return "id:" + member_id if member_id is not None else "email:" + email if email else "unidentified"


def reference_owners(lookup: dict, truth_keys: list, truth_emails: list) -> dict:
    owner = {email: person for email, person in lookup.items() if person is not None}   # a row without id owns nothing
    for person, email in zip(truth_keys, truth_emails):
        email = normalize_email(email)
        if email:
            owner.setdefault(email, person)
    return owner


def reference(ids, emails, cio_ids, truth_keys, key, owner) -> dict[str, set]:
    emails = [normalize_email(e) for e in emails]
    labels = [label(c, i, e) for c, i, e in zip(cio_ids, ids, emails)]
    held = Counter(e for e in emails if e is not None)
    found = {name: set() for name in MEASURES}
    found["duplicate_emails"] = {tag for tag, e in zip(labels, emails) if e is not None and held[e] > 1}
    if key == "id":
        found["idless_profiles"] = {tag for tag, i in zip(labels, ids) if i is None}
        distinct = list(dict.fromkeys([*truth_keys, *(i for i in ids if i is not None)]))
        folded = Counter(value.strip().lower() for value in distinct)
        found["case_or_blank_ids"] = {value for value in distinct if folded[value.strip().lower()] > 1}
    if owner:
        known = set(owner.values())
        found["conflicting_identity"] = {tag for tag, i, e in zip(labels, ids, emails)
                                         if e and i in known and owner.get(e, i) != i}
    return found


def columnar(ids, emails, cio_ids, pages: list[int]) -> MemoryMembership:
    """The same members as pages of identifiers (``pages``: where each page ends)."""
    items = [{"id": i, "email": e, "cio_id": c} for i, e, c in zip(ids, emails, cio_ids)]
    membership = MemoryMembership(1)
    for start, end in zip([0, *pages], [*pages, len(items)]):
        membership.add_page({"identifiers": items[start:end]})
    return membership


def truth_frame(keys: list[str], emails: list, column: str = "email") -> pd.DataFrame:
    frame = pd.DataFrame({column: pd.Series(emails, dtype=object)})
    frame.index = string_index(pa.array(keys, pa.string()))     # as reconcile.shop.truth keys its people
    return frame


# ---------------------------------------------------------------------- a segment worked out by hand

MEMBERS = [  # id, email, cio_id
    ("1", "a@x.com", "c1"),
    ("2", " A@X.com ", "c2"),     # a@x.com again
    (None, "b@x.com", "c3"),      # email-only
    ("AB", "", "c4"),             # no email
    (" ab", None, ""),            # no cio_id: "id: ab"
    ("4", "b@x.com", "c5"),       # 4 owns d@x.com, b@x.com is 3's: conflicting
    (None, None, ""),             # no cio_id, id or email: "unidentified"
    (None, "e@x.com", ""),        # no cio_id nor id: "email:e@x.com", another person
    (None, None, ""),             # "unidentified" again: cannot be told from the first
    ("5", "D@x.com", "c6"),       # 5's only email (z@x.com) went to the lookup's 9: 5 owns nothing
    ("1", "d@x.com", "c7"),       # 1 owns a@x.com, d@x.com is 4's: conflicting
    ("3", "b@x.com", ""),         # 3's own email: "id:3"
    ("ñ", "x@x.com", "c8"),       # "Ñ" in the truth
    ("9", "a@x.com", "c9"),       # 9 owns z@x.com (the lookup), a@x.com is 1's: conflicting
    ("4", "z@x.com", "c10"),      # z@x.com is the lookup's 9, not the truth's 5: conflicting
    ("5", "a@x.com", "c11"),      # 5 owns nothing: not conflicting
]
TRUTH = [("1", "a@x.com"), ("3", "b@x.com"), ("4", "d@x.com"), ("5", "z@x.com"), ("ab", None), ("Ñ", "N@X ")]
LOOKUP = {"z@x.com": "9"}
EXPECTED = {
    "duplicate_emails": {"c1", "c2", "c9", "c11", "c3", "c5", "id:3", "c6", "c7"},   # a@x, b@x, d@x
    "idless_profiles": {"c3", "email:e@x.com", "unidentified"},
    "case_or_blank_ids": {"ab", "AB", " ab", "Ñ", "ñ"},
    "conflicting_identity": {"c5", "c7", "c9", "c10"},
}


@pytest.mark.parametrize("pages", [[], [4, 9], list(range(1, len(MEMBERS)))])
def test_a_segment_worked_out_by_hand(pages):
    ids, emails, cio_ids = (list(column) for column in zip(*MEMBERS))
    truth = truth_frame([k for k, _ in TRUTH], [e for _, e in TRUTH])
    owners = EmailOwners.of(LOOKUP, truth)
    for membership in (ListMembership(1, ids=ids, emails=emails, cio_ids=cio_ids),
                       columnar(ids, emails, cio_ids, pages)):
        got = identity_people(members_columns(membership), truth.index, "id", owners)
        assert (got) == EXPECTED
        assert {name: len(people) for name, people in got.items()} == {
            "duplicate_emails": 9, "idless_profiles": 3, "case_or_blank_ids": 5, "conflicting_identity": 4}
    owner = reference_owners(LOOKUP, [k for k, _ in TRUTH], [e for _, e in TRUTH])
    assert owner == {"z@x.com": "9", "a@x.com": "1", "b@x.com": "3", "d@x.com": "4", "n@x": "Ñ"}
    assert (reference(ids, emails, cio_ids, [k for k, _ in TRUTH], "id", owner)) == EXPECTED


def test_the_sampled_peoples_owners_twins_and_email_only_profiles():
    ids, emails, cio_ids = (list(column) for column in zip(*MEMBERS))
    members = members_columns(columnar(ids, emails, cio_ids, [3]))
    truth = truth_frame([k for k, _ in TRUTH], [e for _, e in TRUTH])
    owners = EmailOwners.of(LOOKUP, truth)
    assert owners.owners_of(["z@x.com", "a@x.com", "n@x", "q@x.com", None]) == {
        "z@x.com": "9", "a@x.com": "1", "n@x": "Ñ"}
    assert email_twins(members, ["a@x.com", "b@x.com", "e@x.com", "x@x.com", None]) == {
        "a@x.com": [("c1", "1"), ("c2", "2"), ("c9", "9"), ("c11", "5")],
        "b@x.com": [("c3", None), ("c5", "4"), ("", "3")]}
    assert idless_emails(members, ["b@x.com", "e@x.com", "a@x.com"]) == {"b@x.com", "e@x.com"}


# ---------------------------------------------------------------------- random segments

IDS = ["1", "2", "3", " 3", "3 ", "AB", "ab", " ab ", "Ab\t", "İx", "i̇x", "x\x1c", "x", "", "  ", "Ñ", "ñ", "7",
       None, None]
EMAILS = [None, "", " ", "a@x", "A@X ", "\ta@x", "b@x", "c@x", "É@x", "é@x", "d@x", "\xa0d@x"]
CIO_IDS = ["", "", "c1", "c2", "c3", "c1", None]


def random_case(rng: random.Random):
    n = rng.randint(0, 30)
    ids = [rng.choice(IDS) for _ in range(n)]
    emails = [rng.choice(EMAILS) for _ in range(n)]
    cio_ids = [rng.choice(CIO_IDS) for _ in range(n)]
    truth_keys = list(dict.fromkeys(k for k in (rng.choice(IDS) for _ in range(rng.randint(0, 12))) if k and k.strip()))
    truth_emails = [rng.choice([*EMAILS, "z@x", 5, float("nan")]) for _ in truth_keys]   # a shop column may hold anything
    lookup = {}
    for _ in range(rng.randint(0, 4)):
        email = normalize_email(rng.choice(EMAILS))
        if email:
            lookup[email] = rng.choice(["1", "3", "AB", "9", None])    # None: a lookup row without an id
    return ids, emails, cio_ids, truth_keys, truth_emails, lookup


@pytest.mark.parametrize("seed", range(4))
def test_random_segments_equal_the_plain_computation(seed):
    rng = random.Random(seed)
    for _ in range(150):
        ids, emails, cio_ids, truth_keys, truth_emails, lookup = random_case(rng)
        key = rng.choice(["id", "id", "email"])
        pages = sorted(rng.sample(range(1, len(ids)), min(2, len(ids) - 1))) if len(ids) > 1 else []
        column = rng.choice(["email", "Email"])
        truth = truth_frame(truth_keys, truth_emails, column)
        page_members = columnar([None if i == "" else i for i in ids], [None if e == "" else e for e in emails],
                                cio_ids, pages)
        lists = ListMembership(1, ids=[None if i == "" else i for i in ids],
                           emails=[None if e == "" else e for e in emails], cio_ids=[c or "" for c in cio_ids])
        owner = reference_owners(lookup, truth_keys if key == "id" else [], truth_emails)
        owners = EmailOwners.of(lookup, truth if key == "id" else None)
        assert bool(owners) == bool(owner)
        assert owners.owners_of([normalize_email(e) for e in EMAILS + ["z@x", 5]]) == owner
        for membership in (lists, page_members):
            membership = as_lists(membership)
            want = reference(membership.ids, membership.emails, membership.cio_ids, truth_keys, key, owner)
            members = members_columns(membership)
            assert (identity_people(members, truth.index, key, owners)) == (want)
            # a plain dict of owners, and a truth index that is not the owners': the same people
            assert (identity_people(members, truth.index.copy(), key, owner)) == (want)
            normalized = [normalize_email(e) for e in membership.emails]
            wanted = [rng.choice([*normalized, None, "nobody@x"]) for _ in range(3)]
            twins = {}
            for email, c, i in zip(normalized, membership.cio_ids, membership.ids):
                if email in wanted and email is not None:
                    twins.setdefault(email, []).append((c, i))
            assert email_twins(members, wanted) == {e: group for e, group in twins.items() if len(group) > 1}
            assert idless_emails(members, wanted) == {e for e, i in zip(normalized, membership.ids)
                                                      if i is None and e is not None and e in wanted}


def test_a_list_membership_with_blank_ids_and_cio_ids():
    """A membership may hold "" ids and None cio_ids: kept as they are."""
    ids, emails, cio_ids = ["", "AB", "ab", None, ""], ["a@x", "A@x", None, "", "b@x"], [None, "", "c1", None, "c1"]
    membership = ListMembership(1, ids=ids, emails=emails, cio_ids=cio_ids)
    owner = {"a@x": "ab", "b@x": "AB"}     # "AB" is known: its email is another's
    want = reference(ids, emails, cio_ids, ["ab"], "id", owner)
    got = identity_people(members_columns(membership), pd.Index(["ab"], dtype=object), "id", owner)
    assert (got) == (want) == {
        "duplicate_emails": {"id:", "id:AB"}, "idless_profiles": {"unidentified"}, "case_or_blank_ids": {"AB", "ab"},
        "conflicting_identity": {"id:AB"}}


def test_a_lookup_row_without_an_id_owns_nothing():
    """A shop row with an email and no id (a guest checkout) is nobody another profile could be:
    it neither makes email-only members conflicting nor hides the truth's owner of its email."""
    members = columnar(["4", None, "7"], ["b@x.com", "a@x.com", "g@x.com"], ["c1", "c2", "c3"], [])
    truth = truth_frame(["1", "3", "4"], ["a@x.com", "b@x.com", "d@x.com"])
    lookup = {"b@x.com": None, "g@x.com": None}     # rows without an id
    owners = EmailOwners.of(lookup, truth)
    assert owners.owners_of(["a@x.com", "b@x.com", "g@x.com"]) == {"a@x.com": "1", "b@x.com": "3"}
    got = identity_people(members_columns(members), truth.index, "id", owners)
    # 4 holds 3's email: conflicting; c2 has no id, c3's id is no shop customer's: not
    assert got["conflicting_identity"] == {"c1"}
    assert got["idless_profiles"] == {"c2"}
