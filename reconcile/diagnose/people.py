"""The differing people of a segment, seen from both sides before they are classified.

* **Sampled evenly.** Up to ``diagnosis.max_people`` people, spread over the discrepancies
  (:func:`sample_positions`), so a segment of millions costs a bounded number of requests.
* **Customer.io**: their profiles through ``POST /v1/customers/attributes`` (batches of 100,
  through the client's one rate limiter): missing people by the workspace's key, extra people
  by ``cio_id`` (by id when the membership pages gave no cio_id). A missing person with no
  profile by key is looked up by email too, where the workspace has email as an identifier.
* **The shop**: the truth row (for missing people) and the lookup query's row for everyone,
  with the customer that owns each email (for duplicate and conflicting identities).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Iterable

import pandas as pd
import pyarrow as pa

from ..customerio import CustomerIOClient
from ..errors import BadRequest
from ..identity import normalize_email, normalize_id
from ..results import SIDES
from ..shop.database import find_column
from .id_format import Twin
from .identity_health import EmailOwners, email_twins

MISSING, EXTRA = SIDES


@dataclass
class Person:
    side: str                                  # missing_in_customerio | extra_in_customerio
    id: str | None
    email: str | None
    cio_id: str | None
    shop: dict[str, Any] | None                # the shop's row (truth, or the lookup), None if unknown
    profile: dict | None = None                # the Customer.io profile, None if none was found
    email_profile: dict | None = None          # missing people: a profile found by their email
    email_twins: list[str] = field(default_factory=list)   # other members or customers with this email
    shop_email_owner: str | None = None        # the shop customer that has this email
    format_twin: Twin | None = None            # the other side's spelling of this person's key (id_format)

    @property
    def extra(self) -> bool:
        return self.side == EXTRA

    def key(self, key: str) -> str | None:
        """The person's value of the workspace's identity key."""
        return self.id if key == "id" else self.email

    def shop_value(self, column: str) -> Any:
        """A column of the shop's row, any case; None when there is no row or no such column."""
        found = find_column(self.shop, column) if self.shop else None
        return self.shop[found] if found is not None else None

    def has_shop_column(self, column: str) -> bool:
        """Whether the shop's row has the column (any case), with a value or without."""
        return self.shop is not None and find_column(self.shop, column) is not None

    def attribute(self, name: str) -> Any:
        """A Customer.io attribute of the profile, None when there is no profile or no value."""
        return ((self.profile or {}).get("attributes") or {}).get(name)


def sample_positions(total: int, limit: int) -> list[int]:
    """``limit`` positions spread evenly over ``range(total)`` (all of them when there are fewer)."""
    if total <= limit:
        return list(range(total))
    return [i * total // limit for i in range(limit)]


def sampled_people(missing: pd.DataFrame, extra: pd.DataFrame, positions: list[int]) -> list[Person]:
    """The people at ``positions`` of the discrepancies (the missing first, then the extra)."""
    missing, extra = missing.reset_index(drop=True), extra.reset_index(drop=True)
    people = []
    for position in positions:
        is_missing = position < len(missing)
        record = (missing.iloc[position] if is_missing else extra.iloc[position - len(missing)]).to_dict()
        shop = ({k: v for k, v in record.items() if k not in ("id", "email", "cio_id")}
                | {"id": record.get("id"), "email": record.get("email")}) if is_missing else None
        people.append(Person(side=MISSING if is_missing else EXTRA, id=normalize_id(record.get("id")),
                             email=normalize_email(record.get("email")), cio_id=normalize_id(record.get("cio_id")),
                             shop=shop))
    return people


def profile_keys(customer: dict) -> tuple[str | None, str | None, str | None]:
    """A profile's (id, email, cio_id), normalised."""
    ids = customer.get("identifiers") or {}
    attributes = customer.get("attributes") or {}
    return (normalize_id(ids.get("id", customer.get("id"))),
            normalize_email(ids.get("email") or attributes.get("email")),
            normalize_id(ids.get("cio_id") or customer.get("cio_id")))


class Profiles:
    """Customer.io profiles fetched in batches, indexed by id, email and cio_id."""

    def __init__(self, client: CustomerIOClient):
        self.client, self.requests = client, 0
        self.by: dict[str, dict[str, dict]] = {"id": {}, "email": {}, "cio_id": {}}
        self.email_lookups = True

    def fetch(self, values: Iterable[str | None], id_type: str) -> None:
        values = [v for v in dict.fromkeys(values) if v and v not in self.by[id_type]]
        if not values:
            return
        self.requests += -(-len(values) // 100)
        for customer in self.client.customers_attributes(values, id_type):
            for kind, value in zip(("id", "email", "cio_id"), profile_keys(customer)):
                if value is not None:
                    self.by[kind].setdefault(value, customer)

    def fetch_emails(self, emails: Iterable[str]) -> None:
        """By email, where the workspace has email as an identifier (a 400 says it has not)."""
        if not self.email_lookups:
            return
        try:
            self.fetch(emails, "email")
        except BadRequest as exc:
            if exc.status != 400 and "identifier" not in str(exc).lower():
                raise
            self.email_lookups = False


def read_profiles(people: list[Person], client: CustomerIOClient, key: str) -> int:
    """Each person's Customer.io profile (and a missing person's profile by email); the requests made."""
    profiles = Profiles(client)
    lost = [p for p in people if not p.extra]
    extra = [p for p in people if p.extra]
    profiles.fetch([p.key(key) for p in lost], key)
    profiles.fetch([p.cio_id for p in extra if p.cio_id], "cio_id")
    profiles.fetch([p.id for p in extra if not p.cio_id and p.id], "id")
    for p in lost:
        p.profile = profiles.by[key].get(p.key(key))
    unfound = [p.email for p in lost if p.profile is None and p.email]
    if key == "id" and unfound:
        profiles.fetch_emails(unfound)
        for p in lost:
            if p.profile is None and p.email:
                p.email_profile = profiles.by["email"].get(p.email)
    for p in extra:
        p.profile = profiles.by["cio_id"].get(p.cio_id) if p.cio_id else profiles.by["id"].get(p.id)
    return profiles.requests


def attach_shop(people: list[Person], rows: list[dict[str, Any]], truth_people: pd.DataFrame, key: str,
                members: pa.Table) -> EmailOwners:
    """Each person's shop row (a missing person's truth row stays on top of the lookup's), the
    owner of their email, and the other profiles or customers with it; the owners, for identity health."""
    def value(row: dict, column: str) -> Any:
        found = find_column(row, column)
        return row[found] if found is not None else None

    by_id = {normalize_id(value(r, "id")): r for r in rows if normalize_id(value(r, "id"))}
    by_email = {normalize_email(value(r, "email")): r for r in rows if normalize_email(value(r, "email"))}
    # the lookup's owner of each email, then the truth's first customer with it (ids workspaces)
    owners = EmailOwners.of({e: normalize_id(value(r, "id")) for e, r in by_email.items()},
                            truth_people if key == "id" else None)
    emails = {p.email for p in people if p.email}
    owner_of = owners.owners_of(emails)
    shared = email_twins(members, emails)   # only emails held twice or more: [(cio_id, id)]
    for p in people:
        found = by_id.get(p.id) if key == "id" else by_email.get(p.email)
        p.shop = {**(found or {}), **p.shop} if not p.extra else found
        p.shop_email_owner = owner_of.get(p.email) if p.email else None
        twins = [f"profile {c or i}" for c, i in shared.get(p.email, ()) if (c or None) != p.cio_id]
        if p.shop_email_owner and p.shop_email_owner != p.id:
            twins.append(f"shop customer {p.shop_email_owner}'s")
        p.email_twins = twins
    return owners


__all__ = ["Person", "sample_positions", "sampled_people", "profile_keys", "Profiles", "read_profiles", "attach_shop"]
