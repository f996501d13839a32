"""The Arrow forms of both sides give exactly what the list forms gave (issue 6).

Edge cases ride along in every comparison: ids with blanks or only blanks, "" and null,
non-ASCII whitespace and case, integer and float ids, duplicate keys, keyless members.
"""

from __future__ import annotations

import random

import pandas as pd
import pytest

from oracle import ListMembership, as_lists, diff_segment_lists
from reconcile.compare.diff import diff_segment
from reconcile.customerio import MemoryMembership
from reconcile.identity import normalize_email, normalize_id, normalize_keys, normalize_series

ODD = ["", " ", "\x1c", "\t7\n", " Ann@X.COM ", "\xa0b@x.com\xa0", "İX@x.com", "ß@x.com", "\u2003", "x\x1f",
       "000417", "417", "Jane@x.com", "jane@x.com"]


def _values(rng: random.Random, n: int) -> list:
    return [rng.choice(ODD + [None] * 2 + [f"{rng.randrange(60)}"] * 6 + [f"p{rng.randrange(60)}@x.com"] * 6)
            for _ in range(n)]


@pytest.mark.parametrize("key", ["id", "email"])
def test_normalisation_matches_python_value_by_value(key):
    rng = random.Random(4)
    values = _values(rng, 2000)
    expected = [(normalize_email if key == "email" else normalize_id)(v) for v in values]
    assert normalize_series(pd.Series(values, dtype=object), key).to_pylist() == expected
    assert normalize_series(pd.Series(values), key).to_pylist() == expected
    ints = [rng.randrange(10**12) for _ in range(100)]
    assert normalize_series(pd.Series(ints), key).to_pylist() == [str(v) for v in ints]
    floats = [1.0, 2.5, float("nan"), None]
    assert normalize_series(pd.Series(floats), "id").to_pylist() == [normalize_id(v) for v in floats]
    assert normalize_keys(__import__("pyarrow").array(["", " a "]), key).to_pylist() == \
        [None, "a" if key == "email" else " a "]


def _page(rng: random.Random, n: int, with_email: bool = True) -> dict:
    items = []
    for i in range(n):
        item = {"id": rng.choice(["", None, " ", f"{rng.randrange(80)}", "000417", "Ab"]), "cio_id": f"c{rng.random()}"}
        if with_email:
            item["email"] = rng.choice(["", None, f"P{rng.randrange(80)}@X.com", " q@x.com", "\xa0ü@x.com"])
        if rng.random() < 0.05:
            item.pop("cio_id")
        items.append(item)
    return {"identifiers": items, "ids": [item.get("id") or "" for item in items]}


def test_memory_membership_reads_pages_as_the_list_membership_does():
    rng = random.Random(5)
    pages = [_page(rng, 300), _page(rng, 200, with_email=False), {"ids": ["1", "", "2"]},
             {"identifiers": [{"id": 42, "email": None, "cio_id": 7}]}, {"identifiers": []}]
    columnar, lists = MemoryMembership(9), ListMembership(9)
    for page in pages:
        columnar.add_page(page)
        lists.add_page(page)
    assert len(columnar) == len(lists)
    read = as_lists(columnar)
    assert (read.ids, read.emails, read.cio_ids) == (lists.ids, lists.emails, lists.cio_ids)
    for bad in ({"neither": []}, {"identifiers": [None]}):
        with pytest.raises((AttributeError, TypeError, ValueError)):
            columnar.add_page(bad)


def _truth(rng: random.Random, n: int, key: str) -> pd.DataFrame:
    ids = [rng.choice([f"{rng.randrange(80)}", "000417", " ", "Ab"]) for _ in range(n)]
    emails = [rng.choice([f"p{rng.randrange(80)}@x.com", "Q@x.com", None]) for _ in range(n)]
    frame = pd.DataFrame({"id": ids, "email": emails, "orders": range(n)})
    keys = [(normalize_email if key == "email" else normalize_id)(v) for v in frame[key]]
    frame.index = pd.Index(keys, dtype=object, name="key")
    frame = frame[frame.index.notna()]
    return frame[~frame.index.duplicated()]


@pytest.mark.parametrize("key", ["id", "email"])
@pytest.mark.parametrize("seed", range(6))
def test_arrow_diff_equals_the_list_diff(key, seed):
    rng = random.Random(seed)
    truth = _truth(rng, rng.randrange(0, 150), key)
    columnar, lists = MemoryMembership(1), ListMembership(1)
    for _ in range(rng.randrange(0, 3)):
        page = _page(rng, rng.randrange(0, 150))
        columnar.add_page(page)
        lists.add_page(page)
    fast, reference = diff_segment(truth, columnar, key), diff_segment_lists(truth, lists, key)
    for name in ("truth_count", "customerio_count", "customerio_profiles", "matched", "duplicate_profiles",
                 "keyless_profiles", "mismatch_rate"):
        assert getattr(fast, name) == getattr(reference, name), name
    for side in ("missing", "extra"):
        got, want = getattr(fast, side), getattr(reference, side)
        assert list(got.columns) == list(want.columns)
        assert got.astype(object).where(got.notna(), None).values.tolist() == \
            want.astype(object).where(want.notna(), None).values.tolist()
    # the list membership goes through the same Arrow diff
    assert diff_segment(truth, lists, key).matched == reference.matched
