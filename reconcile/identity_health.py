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

Rows without a key in the truth are counted by :mod:`reconcile.truth` (``truth_rows_without_key``).
"""

from __future__ import annotations

import pandas as pd

from .identity import normalize_email

MEASURES = ("duplicate_emails", "idless_profiles", "case_or_blank_ids", "conflicting_identity")


def members_frame(membership) -> pd.DataFrame:
    return pd.DataFrame({"id": pd.Series(membership.ids, dtype=object),
                         "email": pd.Series([normalize_email(e) for e in membership.emails], dtype=object),
                         "cio_id": pd.Series(membership.cio_ids, dtype=object)})


def identity_people(members: pd.DataFrame, truth_keys, key: str, shop_email_owner: dict[str, str]
                    ) -> dict[str, set[str]]:
    """The people behind each measure, as sets of stable strings (cio_id, or the id itself)."""
    found: dict[str, set[str]] = {name: set() for name in MEASURES}
    label = members["cio_id"].where(members["cio_id"].astype(bool), "id:" + members["id"].astype(str))
    emails = members["email"]
    shared = emails.notna() & emails.duplicated(keep=False)
    found["duplicate_emails"] = set(label[shared])
    if key == "id":
        found["idless_profiles"] = set(label[members["id"].isna()])
        ids = pd.Series(pd.unique(pd.concat([pd.Series(list(truth_keys), dtype=object),
                                             members["id"].dropna()], ignore_index=True)), dtype=object)
        if len(ids):
            folded = ids.str.strip().str.lower()
            clash = folded.duplicated(keep=False)
            found["case_or_blank_ids"] = set(ids[clash])
    if shop_email_owner:
        known, owner_of = set(shop_email_owner.values()), shop_email_owner.get
        found["conflicting_identity"] = {
            tag for tag, member_id, email in zip(label.tolist(), members["id"].tolist(), members["email"].tolist())
            if email and member_id in known and owner_of(email, member_id) != member_id}
    return found


def counts(people: dict[str, set[str]]) -> dict[str, int]:
    return {name: len(people.get(name, ())) for name in MEASURES}


def run_counts(segments: list[dict[str, set[str]]]) -> dict[str, int]:
    """The run's identity health: each measure's union over its segments."""
    return {name: len(set().union(*(s.get(name, set()) for s in segments))) if segments else 0
            for name in MEASURES}


__all__ = ["MEASURES", "identity_people", "members_frame", "counts", "run_counts"]
