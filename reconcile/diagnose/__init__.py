"""Why each differing person differs: one primary cause, its evidence and a severity.

    people.py           the sample, and each person seen from both sides (profiles, shop rows)
    id_format.py        one customer under two spellings of the key (missing and extra at once)
    causes.py           the ordered causes; the first that fits wins (the README's table)
    evidence.py         one attribute compared across the two sides, in words
    identity_health.py  how well people are identified, over the whole membership

:func:`diagnose_segment` runs them in that order for one segment; :func:`apply_diagnosis` puts
the outcome on the segment's result. Neither decides pass or fail: that is
:func:`reconcile.results.decide`, which reads the window-edge count found here.
"""

from __future__ import annotations

import time
from dataclasses import dataclass, field
from datetime import datetime, timezone
from typing import Any

import pandas as pd

from ..config import DiagnosisConfig, SegmentConfig
from ..results import SegmentResult, Severity
from ..shop.database import Window
from ..shop.lookup import lookup_people
from .causes import EVIDENCE_COLUMNS, Context, PersonCause, classify
from .evidence import missing
from .id_format import format_twins
from .identity_health import counts, idless_emails, identity_people, members_columns
from .people import Person, attach_shop, read_profiles, sample_positions, sampled_people


@dataclass
class Diagnosis:
    """A segment's diagnosis: a cause per differing person in the sample, and the counts."""

    people: pd.DataFrame                      # discrepancies order; EVIDENCE_COLUMNS, empty where not sampled
    causes: dict[str, dict[str, Any]]         # cause -> {"count", "severity"}, over the sample, worst first
    differing: int
    sample_size: int
    window_edge_people: int                   # estimated for all differing people when sampled
    identity: dict[str, set[str]] = field(default_factory=dict)
    requests: int = 0
    seconds: float = 0.0
    notes: list[str] = field(default_factory=list)

    @property
    def worst_severity(self) -> Severity | None:
        return min((c["severity"] for c in self.causes.values()), key=lambda s: s.rank, default=None)


def diagnose_segment(diff, truth_people: pd.DataFrame, membership, segment: SegmentConfig, key: str,
                     as_of: datetime, client, engine, settings: DiagnosisConfig) -> Diagnosis:
    """Diagnose a segment's differing people; identity health over its whole membership."""
    started = time.perf_counter()
    as_of = as_of.astimezone(timezone.utc)
    total = len(diff.missing) + len(diff.extra)
    positions = sample_positions(total, settings.max_people)
    members = members_columns(membership)   # Arrow columns: no Python object per member
    people = sampled_people(diff.missing, diff.extra, positions)
    twins = format_twins(diff.missing, diff.extra, key)
    for person in people:
        person.format_twin = twins.get((person.extra, person.key(key) or ""))
    emails = {p.email for p in people if p.email}
    requests = read_profiles(people, client, key)
    unseen, notes = unseen_attributes(people, segment)
    sql = segment.lookup_sql or settings.lookup_sql
    rows = lookup_people(engine, sql, sorted({p.id for p in people if p.id}), sorted(emails),
                         Window.ending(as_of, segment.window_days)) if sql and people else []
    owners = attach_shop(people, rows, truth_people, key, members)
    ctx = Context(segment=segment, key=key, as_of=as_of, grace=settings.boundary_grace_seconds, lookup=bool(sql),
                  keyless_emails=idless_emails(members, emails) if key == "id" else set(), unseen=unseen)
    diagnosis = summarise([classify(p, ctx) for p in people], positions, total)
    diagnosis.notes[:0] = notes
    diagnosis.identity = identity_people(members, truth_people.index, key, owners)
    diagnosis.requests, diagnosis.seconds = requests, time.perf_counter() - started
    return diagnosis


def unseen_attributes(people: list[Person], segment: SegmentConfig) -> tuple[set[str], list[str]]:
    """The mapped Customer.io attributes that none of the profiles read carries (a misspelled
    attribute looks exactly like this), and a warning for each."""
    profiles = [p.profile.get("attributes") or {} for p in people if p.profile is not None]
    if not profiles:
        return set(), []
    unseen = {attribute for _, attribute in segment.compare
              if not any(not missing(attributes.get(attribute)) for attributes in profiles)}
    notes = [f"attribute `{attribute}` is on 0 of {len(profiles):,} profiles read: check its spelling "
             f"([segments.compare] {column} = \"{attribute}\")"
             for column, attribute in segment.compare if attribute in unseen]
    return unseen, notes


def summarise(found: list[PersonCause], positions: list[int], total: int) -> Diagnosis:
    """The people's causes as the evidence columns (in discrepancies order) and counts per cause."""
    frame = pd.DataFrame({column: pd.Series([None] * total, dtype=object) for column in EVIDENCE_COLUMNS})
    for position, cause in zip(positions, found):
        frame.iloc[position] = cause.row()
    causes: dict[str, dict[str, Any]] = {}
    for cause in found:
        entry = causes.setdefault(cause.cause, {"count": 0, "severity": cause.severity})
        entry["count"] += 1
        if cause.severity.rank < entry["severity"].rank:
            entry["severity"] = cause.severity
    edge_in_sample = causes.get("window_edge", {}).get("count", 0)
    window_edge = edge_in_sample if len(positions) == total else round(edge_in_sample * total / len(positions))
    ranked = dict(sorted(causes.items(), key=lambda kv: (kv[1]["severity"].rank, -kv[1]["count"], kv[0])))
    diagnosis = Diagnosis(people=frame, causes=ranked, differing=total, sample_size=len(positions),
                          window_edge_people=window_edge)
    if len(positions) < total:
        diagnosis.notes.append(f"diagnosed an even sample of {len(positions):,} of the {total:,} differing people "
                               f"(diagnosis.max_people); cause counts are of the sample")
    return diagnosis


def apply_diagnosis(result: SegmentResult, diagnosis: Diagnosis) -> None:
    """Put a diagnosis on a segment's result: causes, evidence columns, identity health."""
    result.causes = diagnosis.causes
    result.worst_severity = diagnosis.worst_severity
    result.diagnosed_people = diagnosis.sample_size
    result.window_edge_people = diagnosis.window_edge_people
    result.identity_people = diagnosis.identity
    result.identity_health = counts(diagnosis.identity)
    result.warnings.extend(diagnosis.notes)
    if result.discrepancies is not None and len(result.discrepancies) == len(diagnosis.people):
        people = diagnosis.people.reset_index(drop=True)
        result.discrepancies = pd.concat([result.discrepancies.reset_index(drop=True), people], axis=1)


__all__ = ["Diagnosis", "diagnose_segment", "apply_diagnosis", "summarise", "classify", "Context", "Person",
           "PersonCause", "sample_positions", "EVIDENCE_COLUMNS"]
