"""The diff's counting rules, on hand-built cases and as invariants over random memberships."""

from __future__ import annotations

import pandas as pd
from hypothesis import given, settings, strategies as st

from oracle import ListMembership
from reconcile.compare.diff import diff_segment
from reconcile.identity import normalize_email, normalize_id


def members(ids: list, emails: list, cio_ids: list) -> ListMembership:
    return ListMembership(0, ids, emails, cio_ids)


def truth_frame(rows: list[dict], key: str) -> pd.DataFrame:
    frame = pd.DataFrame(rows)
    normalize = normalize_email if key == "email" else normalize_id
    frame.index = pd.Index([normalize(v) for v in frame[key]], dtype=object)
    return frame[~frame.index.duplicated()]


def test_counting_rules_by_id():
    truth = truth_frame([{"id": 417, "email": "a@x.com"}, {"id": "000418", "email": "b@x.com"},
                         {"id": 5, "email": "c@x.com"}], "id")
    membership = members(
        ids=["417", "418", None, "5", "5", "Abc"],          # "418" is not "000418"; two profiles share "5"
        emails=["a@x.com", "b@x.com", "anon@x.com", "c@x.com", "C@x.com", None],
        cio_ids=["c1", "c2", "c3", "c4", "c5", "c6"])
    diff = diff_segment(truth, membership, "id")
    assert (diff.truth_count, diff.customerio_count, diff.matched) == (3, 5, 2)
    assert diff.missing["id"].tolist() == ["000418"]
    assert sorted(diff.extra["cio_id"].tolist()) == ["c2", "c3", "c6"]   # c3 has no id: cannot match anyone
    assert (diff.duplicate_profiles, diff.keyless_profiles, diff.customerio_profiles) == (1, 1, 6)
    assert diff.mismatch_rate == 4 / 3
    rows = diff.discrepancies("buyers")
    assert list(rows.columns) == ["segment", "side", "id", "email", "cio_id"]
    assert rows["side"].value_counts().to_dict() == {"extra_in_customerio": 3, "missing_in_customerio": 1}


def test_email_key_is_trimmed_and_case_insensitive():
    truth = truth_frame([{"id": 1, "email": " Jane@X.com"}, {"id": 2, "email": "bob@x.com"}], "email")
    membership = members(ids=[None, "2"], emails=["jane@x.COM ", "BOB@x.com"], cio_ids=["c1", "c2"])
    diff = diff_segment(truth, membership, "email")
    assert (diff.matched, len(diff.missing), len(diff.extra)) == (2, 0, 0)
    assert diff.mismatch_rate == 0.0


def test_empty_truth():
    empty = pd.DataFrame(columns=["id"], index=pd.Index([], dtype=object))
    assert diff_segment(empty, members([], [], []), "id").mismatch_rate == 0.0
    assert diff_segment(empty, members(["1"], [None], ["c"]), "id").mismatch_rate is None


ids = st.one_of(st.none(), st.just(""), st.text(alphabet="0aA1 ", min_size=1, max_size=3))


@settings(max_examples=200, deadline=None)
@given(truth_ids=st.lists(st.text(alphabet="0aA1", min_size=1, max_size=3), max_size=30),
       member_ids=st.lists(ids, max_size=30))
def test_invariants(truth_ids, member_ids):
    truth = truth_frame([{"id": v} for v in truth_ids] or [{"id": "x"}], "id").iloc[: len(truth_ids)]
    membership = members(ids=member_ids, emails=[None] * len(member_ids),
                             cio_ids=[f"c{i}" for i in range(len(member_ids))])
    diff = diff_segment(truth, membership, "id")
    assert diff.matched + len(diff.missing) == diff.truth_count == len(set(truth_ids))
    assert diff.matched + len(diff.extra) == diff.customerio_count
    missing, extra = set(diff.missing["id"]), set(diff.extra["id"].dropna())
    assert not missing & extra                                   # nobody on both sides
    assert diff.customerio_profiles == diff.customerio_count + diff.duplicate_profiles
