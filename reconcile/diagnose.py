"""Why each discrepant person differs: one primary cause, its evidence and a severity.

For a segment's diff, up to ``diagnosis.max_people`` differing people (sampled evenly when
there are more) are looked at from both sides:

* **Customer.io**: their profiles through ``POST /v1/customers/attributes`` (batches of 100,
  through the client's one rate limiter): missing people by the workspace's key, extra people
  by ``cio_id`` (by id when the membership pages gave no cio_id). A missing person with no
  profile by id is looked up by email too, when the workspace has email as an identifier.
* **The shop**: the truth row (for missing people) and the lookup query (``lookup_sql`` of the
  segment, else ``[diagnosis]``) for everyone, bound with ``:ids`` (and ``:emails``, trimmed and
  lower-cased) as expanding parameters, run read-only on the engine of :mod:`reconcile.truth`.

Each person then gets the first cause that fits, in this order (see :func:`classify`):

==================  ===========================================================  ==========
cause               when                                                         severity
==================  ===========================================================  ==========
profile_missing     missing, no Customer.io profile by key or email              medium
idless_profile      an email-only profile (no id) in an id workspace holds them  high
duplicate_profile   extra, unknown id, its email is another profile's/customer's high
not_in_shop         extra, the shop knows neither the id nor the email           high
consent_mismatch    Customer.io says consent, the shop says no                   critical if
                                                                                 they are in
                                                                                 the segment
timestamp_unit      a mapped timestamp in ms where s are expected, or reverse    medium
window_edge         the qualifying timestamp within boundary_grace of an edge    low
attribute_stale     a mapped attribute differs (older, missing, other value)     medium; high
                                                                                 for extra
                                                                                 people the
                                                                                 shop saw act
unexplained         none of the above; the evidence is shown                     medium
==================  ===========================================================  ==========

A consent the shop granted but Customer.io does not have is ``attribute_stale``: nobody is
messaged against their will. ``window_edge`` comes before ``attribute_stale`` because an
attribute a few minutes behind at the window's edge is the same timing noise.
"""

from __future__ import annotations

import logging
import time
from dataclasses import dataclass, field
from datetime import datetime, timedelta, timezone
from typing import Any, Iterable

import pandas as pd
from sqlalchemy import String, bindparam, text
from sqlalchemy.exc import SQLAlchemyError

from .config import DiagnosisConfig, SegmentConfig
from .errors import CustomerIOError, DatabaseError
from .evidence import Finding, compare, epoch, missing, span, utc
from .identity import normalize_email, normalize_id
from .identity_health import EmailOwners, counts, email_twins, identity_people, idless_emails, members_columns
from .summary import SEVERITIES

log = logging.getLogger(__name__)

CAUSES = ("consent_mismatch", "timestamp_unit", "attribute_stale", "duplicate_profile", "idless_profile",
          "profile_missing", "not_in_shop", "window_edge", "unexplained")
EVIDENCE_COLUMNS = ["cause", "severity", "evidence", "attribute", "shop_value", "customerio_value", "difference"]
LOOKUP_CHUNK = 1000


@dataclass
class Verdict:
    """One person's primary cause and its evidence."""

    cause: str
    severity: str
    evidence: str
    attribute: str = ""
    shop_value: str = ""
    customerio_value: str = ""
    difference: str = ""

    @classmethod
    def of(cls, cause: str, severity: str, evidence: str, finding: Finding | None = None) -> "Verdict":
        if finding is None:
            return cls(cause, severity, evidence)
        return cls(cause, severity, evidence, finding.attribute, finding.shop_value, finding.customerio_value,
                   finding.difference)


@dataclass
class Diagnosis:
    """A segment's diagnosis: a verdict per differing person in the sample, and the counts."""

    people: pd.DataFrame                      # discrepancies order; EVIDENCE_COLUMNS, empty where not sampled
    causes: dict[str, dict[str, Any]]         # cause -> {"count", "severity"}, over the sample
    differing: int
    sample_size: int
    window_edge_people: int                   # estimated for all differing people when sampled
    identity: dict[str, set[str]] = field(default_factory=dict)
    requests: int = 0
    seconds: float = 0.0
    notes: list[str] = field(default_factory=list)

    @property
    def worst_severity(self) -> str | None:
        ranked = [SEVERITIES.index(c["severity"]) for c in self.causes.values() if c["severity"] in SEVERITIES]
        return SEVERITIES[min(ranked)] if ranked else None


def sample_positions(total: int, limit: int) -> list[int]:
    """``limit`` positions spread evenly over ``range(total)`` (all of them when there are fewer)."""
    if total <= limit:
        return list(range(total))
    return [i * total // limit for i in range(limit)]


# ---------------------------------------------------------------------- reading both sides


def _profile_keys(customer: dict) -> tuple[str | None, str | None, str | None]:
    ids = customer.get("identifiers") or {}
    attributes = customer.get("attributes") or {}
    return (normalize_id(ids.get("id", customer.get("id"))),
            normalize_email(ids.get("email") or attributes.get("email")),
            normalize_id(ids.get("cio_id") or customer.get("cio_id")))


class _Profiles:
    """Customer.io profiles fetched in batches, indexed by id, email and cio_id."""

    def __init__(self, client):
        self.client, self.requests = client, 0
        self.by = {"id": {}, "email": {}, "cio_id": {}}
        self.email_lookups = True

    def fetch(self, values: Iterable[str], id_type: str) -> None:
        values = [v for v in dict.fromkeys(values) if v and v not in self.by[id_type]]
        if not values:
            return
        self.requests += -(-len(values) // 100)
        for customer in self.client.customers_attributes(values, id_type):
            pid, email, cio = _profile_keys(customer)
            for kind, value in (("id", pid), ("email", email), ("cio_id", cio)):
                if value is not None:
                    self.by[kind].setdefault(value, customer)

    def fetch_emails(self, emails: Iterable[str]) -> None:
        """By email, where the workspace has email as an identifier (a 400 says it has not)."""
        if not self.email_lookups:
            return
        try:
            self.fetch(emails, "email")
        except CustomerIOError as exc:
            if "400" not in str(exc) and "identifier" not in str(exc).lower():
                raise
            self.email_lookups = False


def shop_lookup(engine, sql: str, ids: list[str], emails: list[str], as_of: datetime, window_days: float
                ) -> list[dict[str, Any]]:
    """The lookup query's rows for these ids and emails, read-only, in chunks."""
    clause = text(sql)
    used = set(clause._bindparams)
    if "ids" not in used:
        raise DatabaseError("lookup_sql must use :ids (the discrepant people's ids, an expanding parameter)")
    binds = [bindparam("ids", expanding=True, type_=String())]
    if "emails" in used:
        binds.append(bindparam("emails", expanding=True, type_=String()))
    clause = clause.bindparams(*binds)
    naive = engine.dialect.name != "postgresql"
    start = as_of - timedelta(days=window_days)
    window = {"as_of": as_of, "window_start": start, "as_of_epoch": int(as_of.timestamp()),
              "window_start_epoch": int(start.timestamp())}
    params = {k: (v.replace(tzinfo=None) if naive and isinstance(v, datetime) else v)
              for k, v in window.items() if k in used}
    rows: list[dict[str, Any]] = []
    ids, emails = ids or ["\x00"], emails or ["\x00"]   # an empty IN list is not portable; match nobody
    chunks = max(-(-len(ids) // LOOKUP_CHUNK), -(-len(emails) // LOOKUP_CHUNK))
    try:
        with engine.connect() as conn, conn.begin() as transaction:
            for n in range(chunks):
                part = {"ids": ids[n * LOOKUP_CHUNK:(n + 1) * LOOKUP_CHUNK] or ["\x00"]}
                if "emails" in used:
                    part["emails"] = emails[n * LOOKUP_CHUNK:(n + 1) * LOOKUP_CHUNK] or ["\x00"]
                result = conn.execute(clause, {**params, **part})
                columns = list(result.keys())
                rows.extend(dict(zip(columns, row)) for row in result)
            transaction.rollback()
    except SQLAlchemyError as exc:
        first = str(getattr(exc, "orig", None) or exc.__class__.__name__).strip().splitlines()[0]
        raise DatabaseError(f"the diagnosis lookup_sql failed: {first}; fix it and try again") from None
    return rows


def _column(row: dict[str, Any] | None, name: str) -> Any:
    if not row:
        return None
    if name in row:
        return row[name]
    lowered = {k.lower(): v for k, v in row.items()}
    return lowered.get(name.lower())


# ---------------------------------------------------------------------- classification


@dataclass
class Person:
    side: str                                  # missing_in_customerio | extra_in_customerio
    id: str | None
    email: str | None
    cio_id: str | None
    shop: dict[str, Any] | None                # the shop's row (truth, or the lookup), None if unknown
    profile: dict | None                       # the Customer.io profile, None if none was found
    email_profile: dict | None = None          # missing people: a profile found by their email
    email_twins: list[str] = field(default_factory=list)   # other members or customers with this email
    shop_email_owner: str | None = None        # the shop customer that has this email


@dataclass
class Context:
    segment: SegmentConfig
    key: str
    as_of: datetime
    grace: float
    lookup: bool                               # whether a shop lookup ran (so "unknown" means unknown)
    keyless_emails: set[str] = field(default_factory=set)   # email-only members of this segment


def classify(person: Person, ctx: Context) -> Verdict:
    """The first cause that fits (see the module docstring for the order)."""
    extra = person.side == "extra_in_customerio"
    who = person.email or person.id or person.cio_id
    if not extra:
        if person.profile is None:
            found = person.email_profile
            if found is not None and _profile_keys(found)[0] is None:
                return Verdict.of("idless_profile", "high",
                                  f"no profile with id {person.id}; an email-only profile (cio_id "
                                  f"{_profile_keys(found)[2]}) holds {person.email}")
            if found is not None:
                return Verdict.of("unexplained", "medium",
                                  f"no profile with {ctx.key} {person.id or person.email}; the profile with "
                                  f"{person.email} has id {_profile_keys(found)[0]}")
            return Verdict.of("profile_missing", "medium",
                              f"Customer.io has no profile with {ctx.key} {person.id if ctx.key == 'id' else person.email}"
                              + (" nor with this email" if person.email and ctx.key == "id" else "")
                              + ": never identified")
        if ctx.key == "id" and person.email and person.email in ctx.keyless_emails:
            return Verdict.of("idless_profile", "high",
                              f"an email-only profile with {person.email} is in the segment instead of id {person.id}: "
                              "never merged")
    else:
        if ctx.key == "id" and person.id is None:
            if ctx.lookup and person.shop is None and person.shop_email_owner is None:
                return Verdict.of("not_in_shop", "high",
                                  f"email-only profile {person.cio_id}: the shop has no customer with {person.email}")
            owner = f" (shop customer {person.shop_email_owner})" if person.shop_email_owner else ""
            return Verdict.of("idless_profile", "high",
                              f"email-only profile {person.cio_id} with {person.email}{owner}, not merged with an id profile")
        if person.shop is None:
            if person.email_twins:
                return Verdict.of("duplicate_profile", "high",
                                  f"{ctx.key} {person.id if ctx.key == 'id' else person.email} is unknown to the shop; its email "
                                  f"{person.email} is also {', '.join(person.email_twins[:3])}: a double send")
            if ctx.lookup:
                return Verdict.of("not_in_shop", "high",
                                  f"the shop has no customer with {ctx.key} "
                                  f"{person.id if ctx.key == 'id' else person.email}"
                                  + (f" nor with {person.email}" if person.email and ctx.key == "id" else "")
                                  + ": deleted, a test account, or a deletion that never reached Customer.io")
            return Verdict.of("unexplained", "medium", "not in the truth; no lookup_sql is configured to ask the shop")

    findings = _findings(person, ctx)
    for finding in findings:
        if finding.kind == "withdrawn":
            unsubscribed = bool((person.profile or {}).get("unsubscribed"))
            critical = extra and not unsubscribed
            return Verdict.of("consent_mismatch", "critical" if critical else "high",
                              f"{finding.attribute}: Customer.io {finding.customerio_value}, shop {finding.shop_value}"
                              + (": Customer.io would message someone who withdrew consent" if critical else ""),
                              finding)
    for finding in findings:
        if finding.kind == "unit":
            return Verdict.of("timestamp_unit", "medium", f"{finding.customerio_attribute} = {finding.customerio_value}: {finding.difference}",
                              finding)
    edge = _window_edge(person, ctx)
    if edge is not None:
        return edge
    for finding in findings:
        if finding.kind in ("stale", "not_granted"):
            high = extra and finding.shop_newer
            return Verdict.of("attribute_stale", "high" if high else "medium",
                              f"{finding.customerio_attribute}: shop {finding.shop_value}, Customer.io "
                              f"{finding.customerio_value} ({finding.difference})"
                              + ("; the shop saw them act since: they would get a flow meant for others" if high else ""),
                              finding)
    if person.profile is None:
        return Verdict.of("unexplained", "medium", f"{who}: the Customer.io profile could not be read "
                                                   "(merged or deleted since the membership was read)")
    mapped = ", ".join(column for column, _ in ctx.segment.compare) or "none"
    return Verdict.of("unexplained", "medium", f"every mapped attribute agrees ({mapped}); "
                                               "map more attributes in [segments.compare]")


def _findings(person: Person, ctx: Context) -> list[Finding]:
    attributes = (person.profile or {}).get("attributes") or {}
    found = []
    if person.profile is None or person.shop is None:
        return found
    for column, attribute in ctx.segment.compare:
        shop = _column(person.shop, column)
        if shop is None and not any(c.lower() == column.lower() for c in person.shop):
            continue   # the shop's query does not return this column: nothing to compare
        finding = compare(column, attribute, shop, attributes.get(attribute))
        if finding is not None:
            found.append(finding)
    return found


def _window_edge(person: Person, ctx: Context) -> Verdict | None:
    column = ctx.segment.window_column
    if not column:
        return None
    attribute = dict(ctx.segment.compare).get(column, column)
    shop_value = _column(person.shop, column)
    cio_value = ((person.profile or {}).get("attributes") or {}).get(attribute)
    # the instant that decided membership: the shop's for missing people, Customer.io's for extra ones
    first, second = (cio_value, shop_value) if person.side == "extra_in_customerio" else (shop_value, cio_value)
    moment = epoch(first) if not missing(first) else epoch(second)
    if moment is None:
        return None
    window_start = ctx.as_of - timedelta(days=ctx.segment.window_days)
    for name, edge in (("window start", window_start), ("as_of", ctx.as_of)):
        gap = moment - edge.timestamp()
        if abs(gap) <= ctx.grace:
            side = "after" if gap >= 0 else "before"
            return Verdict("window_edge", "low",
                           f"{column} {utc(moment)} is {span(gap)} {side} the {name} ({utc(edge.timestamp())}), "
                           f"within the {span(ctx.grace)} grace: timing noise",
                           column, utc(moment), "", f"{span(gap)} {side} the {name}")
    return None


# ---------------------------------------------------------------------- one segment


def diagnose_segment(diff, truth_people: pd.DataFrame, membership, segment: SegmentConfig, key: str,
                     as_of: datetime, client, engine, settings: DiagnosisConfig) -> Diagnosis:
    """Diagnose a segment's differing people; identity health over its whole membership."""
    started = time.perf_counter()
    as_of = as_of.astimezone(timezone.utc)
    missing_frame, extra_frame = diff.missing.reset_index(drop=True), diff.extra.reset_index(drop=True)
    total = len(missing_frame) + len(extra_frame)
    positions = sample_positions(total, settings.max_people)
    members = members_columns(membership)   # Arrow columns: no Python object per member

    people: list[Person] = []
    for position in positions:
        side, row = (("missing_in_customerio", missing_frame.iloc[position]) if position < len(missing_frame)
                     else ("extra_in_customerio", extra_frame.iloc[position - len(missing_frame)]))
        record = row.to_dict()
        people.append(Person(side=side, id=normalize_id(record.get("id")), email=normalize_email(record.get("email")),
                             cio_id=normalize_id(record.get("cio_id")),
                             shop={k: v for k, v in record.items() if k not in ("id", "email", "cio_id")} | {
                                 "id": record.get("id"), "email": record.get("email")}
                             if side == "missing_in_customerio" else None,
                             profile=None))
    sampled_emails = {p.email for p in people if p.email}
    keyless_emails = idless_emails(members, sampled_emails) if key == "id" else set()   # the sample's only

    # Customer.io: profiles of missing people by key, of extra people by cio_id (or id)
    profiles = _Profiles(client)
    lost = [p for p in people if p.side == "missing_in_customerio"]
    extra = [p for p in people if p.side == "extra_in_customerio"]
    profiles.fetch([p.id if key == "id" else p.email for p in lost], key)
    profiles.fetch([p.cio_id for p in extra if p.cio_id], "cio_id")
    profiles.fetch([p.id for p in extra if not p.cio_id and p.id], "id")
    for p in lost:
        p.profile = profiles.by[key].get(p.id if key == "id" else p.email)
    unfound = [p.email for p in lost if p.profile is None and p.email]
    if key == "id" and unfound:
        profiles.fetch_emails(unfound)
        for p in lost:
            if p.profile is None and p.email:
                p.email_profile = profiles.by["email"].get(p.email)
    for p in extra:
        p.profile = profiles.by["cio_id"].get(p.cio_id) if p.cio_id else profiles.by["id"].get(p.id)

    # the shop: the lookup for everyone (missing people keep their truth row on top)
    sql = segment.lookup_sql or settings.lookup_sql
    rows: list[dict[str, Any]] = []
    if sql and people:
        ids = sorted({p.id for p in people if p.id})
        emails = sorted({p.email for p in people if p.email})
        rows = shop_lookup(engine, sql, ids, emails, as_of, segment.window_days)
    by_id = {normalize_id(_column(r, "id")): r for r in rows if normalize_id(_column(r, "id"))}
    by_email = {normalize_email(_column(r, "email")): r for r in rows if normalize_email(_column(r, "email"))}
    # the lookup's owner of each email, then the truth's first customer with it (ids workspaces)
    email_owner = EmailOwners.of({e: normalize_id(_column(r, "id")) for e, r in by_email.items()},
                                 truth_people if key == "id" else None)
    owner_of = email_owner.owners_of(sampled_emails)
    shared = email_twins(members, sampled_emails)   # only emails held twice or more: [(cio_id, id)]
    for p in people:
        found = by_id.get(p.id) if key == "id" else by_email.get(p.email)
        if p.side == "missing_in_customerio":
            p.shop = {**(found or {}), **p.shop}
        else:
            p.shop = found
        p.shop_email_owner = owner_of.get(p.email) if p.email else None
        twins = []
        if p.email in shared:
            twins = [f"profile {c or i}" for c, i in shared[p.email] if (c or None) != p.cio_id]
        if p.shop_email_owner and p.shop_email_owner != p.id:
            twins.append(f"shop customer {p.shop_email_owner}'s")
        p.email_twins = twins

    ctx = Context(segment=segment, key=key, as_of=as_of, grace=settings.boundary_grace_seconds,
                  lookup=bool(sql), keyless_emails=keyless_emails)
    verdicts = [classify(p, ctx) for p in people]

    frame = pd.DataFrame({column: pd.Series([None] * total, dtype=object) for column in EVIDENCE_COLUMNS})
    for position, verdict in zip(positions, verdicts):
        frame.iloc[position] = [verdict.cause, verdict.severity, verdict.evidence, verdict.attribute,
                                verdict.shop_value, verdict.customerio_value, verdict.difference]
    causes: dict[str, dict[str, Any]] = {}
    for verdict in verdicts:
        entry = causes.setdefault(verdict.cause, {"count": 0, "severity": verdict.severity})
        entry["count"] += 1
        if SEVERITIES.index(verdict.severity) < SEVERITIES.index(entry["severity"]):
            entry["severity"] = verdict.severity
    edge_in_sample = causes.get("window_edge", {}).get("count", 0)
    window_edge = edge_in_sample if len(positions) == total else round(edge_in_sample * total / len(positions))
    identity = identity_people(members, truth_people.index, key, email_owner)
    diagnosis = Diagnosis(people=frame, causes=dict(sorted(causes.items(), key=lambda kv: (
        SEVERITIES.index(kv[1]["severity"]), -kv[1]["count"], kv[0]))), differing=total,
        sample_size=len(positions), window_edge_people=window_edge, identity=identity,
        requests=profiles.requests, seconds=time.perf_counter() - started)
    if len(positions) < total:
        diagnosis.notes.append(f"diagnosed an even sample of {len(positions):,} of the {total:,} differing people "
                               f"(diagnosis.max_people); cause counts are of the sample")
    return diagnosis


def identity_counts(diagnosis: Diagnosis) -> dict[str, int]:
    return counts(diagnosis.identity)


def apply_diagnosis(result, diagnosis: Diagnosis, segment: SegmentConfig, settings: DiagnosisConfig) -> None:
    """Put a diagnosis on a segment's result: causes, evidence columns, identity health, and the
    verdict on the rate without window-edge people unless ``window_edge_counts`` is true."""
    result.causes = diagnosis.causes
    result.worst_severity = diagnosis.worst_severity
    result.diagnosed_people = diagnosis.sample_size
    result.window_edge_people = diagnosis.window_edge_people
    result.identity_people = diagnosis.identity
    result.identity_health = identity_counts(diagnosis)
    result.warnings.extend(diagnosis.notes)
    if result.discrepancies is not None and len(result.discrepancies) == len(diagnosis.people):
        people = diagnosis.people.reset_index(drop=True)
        result.discrepancies = pd.concat([result.discrepancies.reset_index(drop=True), people], axis=1)
    if result.truth_count:
        differing = (result.missing_in_customerio or 0) + (result.extra_in_customerio or 0)
        result.mismatch_rate_excluding_window_edge = (differing - diagnosis.window_edge_people) / result.truth_count
    else:
        result.mismatch_rate_excluding_window_edge = result.mismatch_rate
    if not settings.window_edge_counts and result.mismatch_rate_excluding_window_edge is not None:
        result.verdict_rate = "mismatch_rate_excluding_window_edge"
        within = result.mismatch_rate_excluding_window_edge <= segment.tolerance
        result.status = "pass" if within else "fail"


__all__ = ["Diagnosis", "Verdict", "CAUSES", "EVIDENCE_COLUMNS", "diagnose_segment", "classify", "sample_positions",
           "shop_lookup", "identity_counts", "apply_diagnosis"]
