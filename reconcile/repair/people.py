"""The people a plan is about: the run's rows by person, the shop re-read, Customer.io read now.

A plan is made after the run, possibly days later, so it looks again before it writes anything:

* **the shop**, through the segments' lookup query (``[diagnosis] lookup_sql`` or the segment's
  own), with the run's window: a person whose values changed since the run is left out, and the
  values sent are the shop's as they are now;
* **Customer.io**, through the App API (``POST /v1/customers/attributes``, batches of 100, the
  one rate limiter): the profile each write addresses, by ``cio_id``, and its values now, which
  are the plan's "before".
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from ..config import Config, SegmentConfig
from ..diagnose.people import Profiles, profile_keys
from ..errors import UsageError
from ..identity import normalize_email, normalize_id
from ..results import SIDES
from ..shop import Window, lookup_people
from ..shop.database import find_column
from .values import from_run

MISSING, EXTRA = SIDES
UNKNOWN = object()          # the shop's value of a column nobody read


@dataclass
class Differing:
    """One differing person across the run's segments, with what the plan read about them since."""

    key: str
    id: str | None
    email: str | None
    cio_id: str | None
    rows: list[dict[str, str]] = field(default_factory=list)
    shop: dict[str, Any] | None = None        # the shop's row now (a lookup), None when it has none
    shop_read: bool = False                   # whether a lookup was asked about them
    email_owner: str | None = None            # the shop customer (id) whose email they have, per the lookup
    profile: dict | None = None               # their Customer.io profile now, None when there is none

    @property
    def extra(self) -> bool:
        return any(row["side"] == EXTRA for row in self.rows)

    def shop_value(self, column: str, rows: list[dict[str, str]]) -> Any:
        """The shop's ``column`` now (the re-read row), else as the run saw it, else :data:`UNKNOWN`."""
        if self.shop is not None:
            found = find_column(self.shop, column)
            if found is not None:
                return self.shop[found]
        for row in rows:
            if row.get("attribute") == column:
                return from_run(row.get("shop_value", ""))
        return UNKNOWN

    def attribute(self, name: str) -> Any:
        return ((self.profile or {}).get("attributes") or {}).get(name)

    def identity(self) -> dict[str, str | None]:
        cio_id = profile_keys(self.profile)[2] if self.profile else self.cio_id
        return {"id": self.id, "email": self.email, "cio_id": cio_id}


def group_people(rows: list[dict[str, str]]) -> list[Differing]:
    """The run's rows by person (an id, else a cio_id, else an email), in the order they first appear."""
    people: dict[str, Differing] = {}
    for row in rows:
        id_, email, cio_id = normalize_id(row.get("id")), normalize_email(row.get("email")), normalize_id(row.get("cio_id"))
        key = id_ or (f"cio:{cio_id}" if cio_id else f"email:{email}")
        person = people.setdefault(key, Differing(key, id_, email, cio_id))
        person.cio_id = person.cio_id or cio_id
        person.email = person.email or email
        person.rows.append(row)
    return list(people.values())


def segments_of(rows: list[dict[str, str]]) -> list[str]:
    return list(dict.fromkeys(row["segment"] for row in rows))


def segment_config(config: Config, name: str) -> SegmentConfig:
    try:
        return config.segment(name)
    except KeyError:
        raise UsageError(f"segment {name} of the run is not in {config.path.name}: plan with the config the run used "
                         "(--config)") from None


def mapping(config: Config, segments: list[str]) -> list[tuple[str, str]]:
    """The ``[segments.compare]`` pairs (shop column, Customer.io attribute) of these segments, each attribute once."""
    pairs: dict[str, str] = {}
    for name in segments:
        for column, attribute in segment_config(config, name).compare:
            pairs.setdefault(attribute, column)
    return [(column, attribute) for attribute, column in pairs.items()]


def reread_shop(people: list[Differing], config: Config, engine, as_of: datetime) -> tuple[bool, dict[str, str]]:
    """Each person's shop row now, through their segments' lookups; (whether every segment had a
    lookup, the shop's customer id of each email the lookups returned)."""
    queries: dict[tuple[str, float], list[Differing]] = {}
    complete = True
    for person in people:
        for name in segments_of(person.rows):
            segment = segment_config(config, name)
            sql = segment.lookup_sql or config.diagnosis.lookup_sql
            if sql is None:
                complete = False
                continue
            queries.setdefault((sql, segment.window_days), []).append(person)
    owners: dict[str, str] = {}
    for (sql, window_days), asked in queries.items():
        asked = list({id(person): person for person in asked}.values())
        rows = lookup_people(engine, sql, sorted({p.id for p in asked if p.id}),
                             sorted({p.email for p in asked if p.email}), Window.ending(as_of, window_days))
        by_id, by_email = _index(rows, owners)
        for person in asked:
            person.shop_read = True
            person.shop = person.shop or by_id.get(person.id) or (by_email.get(person.email) if not person.id else None)
    for person in people:
        person.email_owner = owners.get(person.email) if person.email else None
    return complete, owners


def _index(rows: list[dict[str, Any]], owners: dict[str, str]) -> tuple[dict[str, dict], dict[str, dict]]:
    by_id: dict[str, dict] = {}
    by_email: dict[str, dict] = {}
    for row in rows:
        id_ = normalize_id(row[find_column(row, "id")]) if find_column(row, "id") else None
        email = normalize_email(row[find_column(row, "email")]) if find_column(row, "email") else None
        if id_:
            by_id.setdefault(id_, row)
        if email:
            by_email.setdefault(email, row)
            if id_:
                owners.setdefault(email, id_)
    return by_id, by_email


def read_profiles(people: list[Differing], app, key: str) -> Profiles:
    """Each person's Customer.io profile now: by cio_id where the run had one, else by the workspace's key."""
    profiles = Profiles(app)
    profiles.fetch([p.cio_id for p in people if p.cio_id], "cio_id")
    profiles.fetch([p.id if key == "id" else p.email for p in people if not p.cio_id], key)
    for person in people:
        if person.cio_id:
            person.profile = profiles.by["cio_id"].get(person.cio_id)
        else:
            person.profile = profiles.by[key].get(person.id if key == "id" else person.email)
    return profiles


__all__ = ["Differing", "group_people", "segments_of", "mapping", "reread_shop", "read_profiles", "UNKNOWN",
           "MISSING", "EXTRA"]
