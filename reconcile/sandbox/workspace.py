"""The sandbox's data: the people and segments of one Customer.io workspace, held in memory.

The JSON shape (the demo generator writes it, tests build it)::

    {"identifiers": "email_or_id",            # or "id_only"
     "environment_id": "sandbox",             # optional: the workspace the Track API says it writes to
     "clock": 1712345678,                     # optional: when segments are evaluated (default: now)
     "people": [{"cio_id": "a3000001", "id": "42", "email": "a@x.com",
                 "attributes": {"last_order_at": "1712345678"}, "unsubscribed": false}, ...],
     "segments": [{"id": 12, "name": "...", "description": "", "state": "finished", "progress": null,
                   "type": "dynamic", "tags": null, "created_at": 1700000000, "updated_at": 1700000000,
                   "members": ["a3000001", ...],
                   "condition": {"attribute": "plan", "equals": "gold"}}, ...],   # optional
     "activities": [{"cio_id": "a3000001", "type": "event", "name": "order_completed",   # optional
                     "timestamp": 1712345678, "data": {"order_id": "ORD-1"}}, ...]}

People are stored column-wise (one list per field, a person is a row number) and a segment's
members as an ``array`` of row numbers, because a workspace of a million members must fit in a
test machine's memory: a dict or object per person would cost several times more.

The Track API (:mod:`.track`) writes through :meth:`Workspace.set_attributes`,
:meth:`Workspace.set_identifier`, :meth:`Workspace.remove` and :meth:`Workspace.merge`; each
re-evaluates the segments that carry a ``condition`` (:mod:`.conditions`) for the people it
changed, as a data-driven segment follows its people's attributes. Members are kept as written
until then: a test may give a segment any membership, and the demo's conditions reproduce its
members exactly.
"""

from __future__ import annotations

import json
import time
from array import array
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Iterable, Iterator, NamedTuple

from . import conditions
from .activities import ActivityLog

IDENTIFIER_MODES = ("email_or_id", "id_only")
ID_TYPES = ("id", "email", "cio_id")
DEFAULT_ENVIRONMENT = "sandbox"
SEGMENT_FIELDS = ("id", "name", "description", "state", "progress", "type", "tags", "created_at", "updated_at")


def email_key(email: str | None) -> str | None:
    """Customer.io's email rule: surrounding whitespace trimmed, lower-cased (``email`` is not
    case-sensitive there); blank is no email. The sandbox spells the rule itself rather than
    borrow reconcile's normaliser, so the stand-in cannot agree with a bug in the code under test."""
    if email is None:
        return None
    return str(email).strip().lower() or None


class Person(NamedTuple):
    """One profile, built on demand from the columns (never stored as such)."""

    cio_id: str
    id: str | None
    email: str | None
    attributes: dict
    unsubscribed: bool


@dataclass
class SegmentData:
    """A segment's metadata as the API shows it, and its members as row numbers in serving order."""

    id: int
    name: str
    description: str = ""
    state: str = "finished"
    progress: int | None = None
    type: str = "dynamic"
    tags: list[str] | None = None
    created_at: int = 0
    updated_at: int = 0
    members: array = field(default_factory=lambda: array("l"))
    condition: dict | None = None             # data-driven: re-evaluated for people the Track API changes
    _member_set: frozenset | None = field(default=None, repr=False, compare=False)

    def api_dict(self) -> dict[str, Any]:
        """The Segment object of the App API (``deduplicate_id`` included, members not)."""
        shown = {name: getattr(self, name) for name in SEGMENT_FIELDS}
        shown["deduplicate_id"] = f"{self.id}:{self.updated_at}"
        return shown

    def holds(self, row: int) -> bool:
        """Whether the person in ``row`` is a member; the set is built on first use only."""
        if self._member_set is None:
            self._member_set = frozenset(self.members)
        return row in self._member_set

    def admit(self, row: int, member: bool) -> bool:
        """Make ``row`` a member or not; whether that changed anything (a newcomer joins at the end)."""
        if self.holds(row) == member:
            return False
        if member:
            self.members.append(row)
        else:
            self.members = array("l", (kept for kept in self.members if kept != row))
        self._member_set = None
        return True


class Workspace:
    """People and segments of one workspace, with lookups by cio_id, id and normalised email."""

    def __init__(self, identifiers: str = "email_or_id", environment_id: str = DEFAULT_ENVIRONMENT,
                 clock: float | None = None):
        if identifiers not in IDENTIFIER_MODES:
            raise ValueError(f"identifiers must be one of {IDENTIFIER_MODES}, got {identifiers!r}")
        self.identifiers = identifiers
        self.environment_id, self.clock = str(environment_id), clock
        self._removed: set[int] = set()
        self._cio_ids: list[str] = []
        self._ids: list[str | None] = []
        self._emails: list[str | None] = []
        self._attributes: list[dict | None] = []
        self._unsubscribed = bytearray()
        self._by_cio_id: dict[str, int] = {}
        self._by_id: dict[str, int] = {}
        self._by_email: dict[str, int | list[int]] = {}   # a list only when profiles share an email
        self._segments: dict[int, SegmentData] = {}
        self.activities = ActivityLog()                    # each profile's activity log (activities.py)

    # ------------------------------------------------------------------ building

    def add_person(self, cio_id: str, id: str | None = None, email: str | None = None,
                   attributes: dict | None = None, unsubscribed: bool = False) -> int:
        """Add a profile and return its row; a repeated cio_id is an error (it is the primary key)."""
        if not isinstance(cio_id, str) or not cio_id:
            raise ValueError(f"a person's cio_id must be a non-empty string, got {cio_id!r}")
        if cio_id in self._by_cio_id:
            raise ValueError(f"two people have cio_id {cio_id!r}")
        row = len(self._cio_ids)
        self._cio_ids.append(cio_id)
        self._ids.append(id or None)
        self._emails.append(email or None)
        self._attributes.append(attributes or None)
        self._unsubscribed.append(1 if unsubscribed else 0)
        self._by_cio_id[cio_id] = row
        if id:
            self._by_id.setdefault(id, row)  # the first profile with an id answers lookups by it
        self._index_email(email, row)
        return row

    def _index_email(self, email: str | None, row: int) -> None:
        key = email_key(email)
        if key is None:
            return
        if key == email:
            key = email  # share the stored string rather than keep a lower-cased copy of it
        known = self._by_email.get(key)
        if known is None:
            self._by_email[key] = row
        elif isinstance(known, list):
            known.append(row)
        else:
            self._by_email[key] = [known, row]

    def add_segment(self, id: int, name: str, members: Iterable[str] = (), **meta: Any) -> SegmentData:
        """Add a segment whose members are given as cio_ids (each must be a known person)."""
        if isinstance(id, bool) or not isinstance(id, int):
            raise ValueError(f"a segment id must be an integer, got {id!r}")
        if id in self._segments:
            raise ValueError(f"two segments have id {id}")
        unknown = set(meta) - set(SEGMENT_FIELDS) - {"condition"}
        if unknown:
            raise ValueError(f"segment {id}: unknown fields {sorted(unknown)}")
        if meta.get("condition") is not None:
            conditions.check(meta["condition"], f"segment {id}: condition")
        segment = SegmentData(id=id, name=name, **meta)
        segment.members = array("l", self._rows_of(id, members))
        self._segments[id] = segment
        return segment

    def _rows_of(self, segment_id: int, cio_ids: Iterable[str]) -> Iterable[int]:
        by_cio_id = self._by_cio_id
        for cio_id in cio_ids:
            row = by_cio_id.get(cio_id)
            if row is None:
                raise ValueError(f"segment {segment_id} lists member {cio_id!r}, who is not in people")
            yield row

    # ------------------------------------------------------------------ JSON

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> Workspace:
        """Build from the JSON shape above; people and segments keep their order."""
        workspace = cls(data.get("identifiers", "email_or_id"), data.get("environment_id", DEFAULT_ENVIRONMENT),
                        data.get("clock"))
        for index, person in enumerate(data.get("people", [])):
            if not isinstance(person, dict) or "cio_id" not in person:
                raise ValueError(f"people[{index}] needs a cio_id")
            workspace.add_person(person["cio_id"], person.get("id"), person.get("email"),
                                 person.get("attributes"), bool(person.get("unsubscribed", False)))
        for segment in data.get("segments", []):
            meta = {name: segment[name] for name in (*SEGMENT_FIELDS, "condition") if name in segment}
            meta.pop("id", None)
            meta.pop("name", None)
            workspace.add_segment(segment["id"], segment.get("name", ""), segment.get("members", ()), **meta)
        workspace.activities.load(data.get("activities", []), workspace._by_cio_id.__contains__)
        return workspace

    def to_dict(self) -> dict[str, Any]:
        """The JSON shape above (``from_dict(ws.to_dict())`` is the same workspace)."""
        people = [person._asdict() for person in map(self.person, self.rows())]
        segments = []
        for segment in self._segments.values():
            shown = {name: getattr(segment, name) for name in SEGMENT_FIELDS}
            shown["members"] = [self._cio_ids[row] for row in segment.members]
            if segment.condition is not None:
                shown["condition"] = segment.condition
            segments.append(shown)
        data: dict[str, Any] = {"identifiers": self.identifiers}
        if self.environment_id != DEFAULT_ENVIRONMENT:
            data["environment_id"] = self.environment_id
        if self.clock is not None:
            data["clock"] = self.clock
        if len(self.activities):
            data["activities"] = self.activities.to_list()
        return {**data, "people": people, "segments": segments}

    @classmethod
    def load(cls, path: str | Path) -> Workspace:
        """Read a workspace JSON file."""
        with open(path, encoding="utf-8") as handle:
            return cls.from_dict(json.load(handle))

    def save(self, path: str | Path) -> None:
        """Write the workspace as JSON (compact: a large workspace makes a large file)."""
        with open(path, "w", encoding="utf-8") as handle:
            json.dump(self.to_dict(), handle, separators=(",", ":"))

    # ------------------------------------------------------------------ lookups

    def __len__(self) -> int:
        return len(self._cio_ids) - len(self._removed)

    def rows(self) -> Iterator[int]:
        """Every profile's row, in the order they were added (removed ones left out)."""
        return (row for row in range(len(self._cio_ids)) if row not in self._removed)

    def person(self, row: int) -> Person:
        return Person(self._cio_ids[row], self._ids[row], self._emails[row],
                      self._attributes[row] or {}, bool(self._unsubscribed[row]))

    def identifiers_of(self, row: int) -> dict[str, str | None]:
        """``{email, id, cio_id}`` as membership pages show them; no ``email`` key in id-only workspaces."""
        if self.identifiers == "id_only":
            return {"id": self._ids[row], "cio_id": self._cio_ids[row]}
        return {"email": self._emails[row], "id": self._ids[row], "cio_id": self._cio_ids[row]}

    def find(self, value: str, id_type: str = "id") -> int | None:
        """The row of the profile with this identifier, or None.

        ``cio_id`` lookups accept the ``cio_`` prefix the spec mentions for query parameters
        (UNCONFIRMED for paths), so a client may send either form. By email, the first profile wins.
        """
        if id_type == "cio_id":
            row = self._by_cio_id.get(value)
            if row is None and value.startswith("cio_"):
                row = self._by_cio_id.get(value[4:])
            return row
        if id_type == "email":
            rows = self.rows_with_email(value)
            return rows[0] if rows else None
        if id_type == "id":
            return self._by_id.get(value)
        raise ValueError(f"id_type must be one of {ID_TYPES}, got {id_type!r}")

    def rows_with_email(self, email: str) -> list[int]:
        """Every profile whose email matches after trimming and lower-casing (there may be several)."""
        known = self._by_email.get(email_key(email) or "")
        if known is None:
            return []
        return list(known) if isinstance(known, list) else [known]

    @property
    def segments(self) -> list[SegmentData]:
        return list(self._segments.values())

    def segment(self, segment_id: int) -> SegmentData | None:
        return self._segments.get(segment_id)

    def segments_of(self, row: int) -> list[SegmentData]:
        """The segments that hold this person, in workspace order."""
        return [segment for segment in self._segments.values() if segment.holds(row)]


    # ------------------------------------------------------------------ writes (the Track API's)

    def add_profile(self, id: str | None, email: str | None) -> int:
        """A new profile with a fresh cio_id, as an identify that matches nobody creates."""
        number = len(self._cio_ids) + 1
        while f"sbx{number:07d}" in self._by_cio_id:
            number += 1
        return self.add_person(f"sbx{number:07d}", id, email, {"email": email} if email else None)

    def set_attributes(self, row: int, changes: dict[str, str | None]) -> None:
        """Set (or, for None, remove) attributes; the segments follow."""
        attributes = dict(self._attributes[row] or {})
        for name, value in changes.items():
            if value is None:
                attributes.pop(name, None)
            else:
                attributes[name] = value
        self._attributes[row] = attributes or None
        self.reevaluate(row)

    def set_unsubscribed(self, row: int, unsubscribed: bool) -> None:
        self._unsubscribed[row] = 1 if unsubscribed else 0

    def set_identifier(self, row: int, kind: str, value: str | None) -> None:
        """Give a profile another ``id`` or ``email`` (the indexes follow)."""
        if kind == "id":
            old = self._ids[row]
            if old is not None and self._by_id.get(old) == row:
                del self._by_id[old]
            self._ids[row] = value or None
            if value:
                self._by_id.setdefault(value, row)
        else:
            self._unindex_email(self._emails[row], row)
            self._emails[row] = value or None
            self._index_email(value, row)

    def remove(self, row: int) -> None:
        """Delete a profile: out of every index and segment, its row never reused."""
        self.set_identifier(row, "id", None)
        self.set_identifier(row, "email", None)
        self._by_cio_id.pop(self._cio_ids[row], None)
        self._removed.add(row)
        for segment in self._segments.values():
            segment.admit(row, False)

    def merge(self, primary: int, secondary: int) -> None:
        """The primary takes what it lacks from the secondary (attributes it has no value for, the
        email, manual segments), then the secondary is deleted: Customer.io's merge, as documented."""
        own = self._attributes[primary] or {}
        taken = {name: value for name, value in (self._attributes[secondary] or {}).items()
                 if str(own.get(name) or "").strip() == ""}
        if self._emails[primary] is None and self._emails[secondary] is not None:
            email = self._emails[secondary]
            self.set_identifier(secondary, "email", None)
            self.set_identifier(primary, "email", email)
        for segment in self._segments.values():
            if segment.condition is None and segment.holds(secondary):
                segment.admit(primary, True)
        self.remove(secondary)
        self.set_attributes(primary, taken)

    def reevaluate(self, row: int) -> None:
        """Put the person in exactly the data-driven segments whose condition they meet now."""
        clock = self.evaluation_time()
        attributes = self._attributes[row] or {}
        for segment in self._segments.values():
            if segment.condition is not None and segment.admit(row, conditions.matches(segment.condition, attributes, clock)):
                segment.updated_at = int(clock)

    def evaluation_time(self) -> float:
        """When segments are evaluated: the workspace's fixed ``clock``, else now."""
        return time.time() if self.clock is None else float(self.clock)

    def evaluate(self, segment: SegmentData) -> list[str]:
        """The cio_ids a segment's condition selects among everyone now (for checking a workspace)."""
        if segment.condition is None:
            raise ValueError(f"segment {segment.id} has no condition")
        clock = self.evaluation_time()
        return [self._cio_ids[row] for row in self.rows()
                if conditions.matches(segment.condition, self._attributes[row] or {}, clock)]

    def _unindex_email(self, email: str | None, row: int) -> None:
        key = email_key(email)
        known = self._by_email.get(key) if key is not None else None
        if known == row:
            del self._by_email[key]
        elif isinstance(known, list) and row in known:
            known.remove(row)
            if len(known) == 1:
                self._by_email[key] = known[0]


__all__ = ["Workspace", "Person", "SegmentData", "IDENTIFIER_MODES", "ID_TYPES"]
