"""Why one differing person differs: the first cause that fits, with its evidence and severity.

:data:`CAUSES` is an ordered list of small functions, one question each; :func:`classify` asks
them in turn and the first that answers wins. The order is the README's table:

==================  ===========================================================  ==========
cause               when                                                         severity
==================  ===========================================================  ==========
profile_missing     missing, no Customer.io profile by key, email or another      medium
                    spelling of the key
idless_profile      an email-only profile (no id) in an id workspace holds them  high
id_format           missing, and an extra profile's key is theirs spelled        high
                    another way (case, blanks, leading zeros, 7.0): both sides
duplicate_profile   extra, unknown id, its email is another profile's/customer's high
not_in_shop         extra, the shop knows neither the id nor the email           high
consent_mismatch    Customer.io says consent, the shop says no                   critical if
                                                                                 Customer.io
                                                                                 would message
                                                                                 them (in the
                                                                                 segment, not
                                                                                 unsubscribed)
timestamp_unit      a mapped timestamp in ms where s are expected, or reverse    medium
window_edge         the shop's qualifying instant within boundary_grace of an    low
                    edge, and Customer.io's value within the grace of it (or
                    newer, for a missing person)
attribute_stale     a mapped attribute differs (older, missing, other value)     medium; high
                                                                                 for extra
                                                                                 people the
                                                                                 shop saw act
unexplained         none of the above; the evidence is shown                     medium
==================  ===========================================================  ==========

A consent the shop granted but Customer.io does not have is ``attribute_stale``: nobody is
messaged against their will. ``window_edge`` comes before ``attribute_stale`` because an
attribute a few minutes behind at the window's edge is the same timing noise; an attribute
further behind is not, whatever the edge, so it is ``attribute_stale`` (and counted).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Callable

from ..config import SegmentConfig
from ..results import Severity
from .evidence import Finding, compare_attribute, epoch, span, utc
from .id_format import spelled
from .people import Person, profile_keys

EVIDENCE_COLUMNS = ["cause", "severity", "evidence", "attribute", "shop_value", "customerio_value", "difference"]


@dataclass
class PersonCause:
    """One person's primary cause and its evidence (a row of the evidence columns)."""

    cause: str
    severity: Severity
    evidence: str
    attribute: str = ""
    shop_value: str = ""
    customerio_value: str = ""
    difference: str = ""

    @classmethod
    def of(cls, cause: str, severity: Severity, evidence: str, finding: Finding | None = None) -> "PersonCause":
        if finding is None:
            return cls(cause, severity, evidence)
        return cls(cause, severity, evidence, finding.attribute, finding.shop_value, finding.customerio_value,
                   finding.difference)

    def row(self) -> list[str]:
        return [self.cause, self.severity, self.evidence, self.attribute, self.shop_value, self.customerio_value,
                self.difference]


@dataclass
class Context:
    segment: SegmentConfig
    key: str
    as_of: datetime
    grace: float
    lookup: bool                               # whether a shop lookup ran (so "unknown" means unknown)
    keyless_emails: set[str] = field(default_factory=set)   # email-only members of this segment
    unseen: set[str] = field(default_factory=set)           # mapped attributes on none of the profiles read


Cause = Callable[[Person, Context, list[Finding]], "PersonCause | None"]


def _no_profile(person: Person, ctx: Context, findings: list[Finding]) -> PersonCause | None:
    """Missing, and Customer.io has no profile with their key: never identified, or held by another
    (an email-only profile, or the same customer under another spelling of the key: ``id_format``)."""
    if person.extra or person.profile is not None:
        return None
    found = person.email_profile
    found_id, _, found_cio = profile_keys(found) if found is not None else (None, None, None)
    if found is not None and found_id is None:
        return PersonCause.of("idless_profile", Severity.HIGH,
                              f"no profile with id {person.id}; an email-only profile (cio_id {found_cio}) "
                              f"holds {person.email}")
    if person.format_twin is not None:
        return None
    if found is not None:
        return PersonCause.of("unexplained", Severity.MEDIUM,
                              f"no profile with {ctx.key} {person.id or person.email}; the profile with "
                              f"{person.email} has id {found_id}")
    return PersonCause.of("profile_missing", Severity.MEDIUM,
                          f"Customer.io has no profile with {ctx.key} {person.key(ctx.key)}"
                          + (" nor with this email" if person.email and ctx.key == "id" else "")
                          + ": never identified")


def _idless_member(person: Person, ctx: Context, findings: list[Finding]) -> PersonCause | None:
    """An email-only profile stands in for the person (missing), or is the extra member itself."""
    if ctx.key != "id":
        return None
    if not person.extra:
        if person.email and person.email in ctx.keyless_emails:
            return PersonCause.of("idless_profile", Severity.HIGH,
                                  f"an email-only profile with {person.email} is in the segment instead of id "
                                  f"{person.id}: never merged")
        return None
    if person.id is not None:
        return None
    if ctx.lookup and person.shop is None and person.shop_email_owner is None:
        return PersonCause.of("not_in_shop", Severity.HIGH,
                              f"email-only profile {person.cio_id}: the shop has no customer with {person.email}")
    owner = f" (shop customer {person.shop_email_owner})" if person.shop_email_owner else ""
    return PersonCause.of("idless_profile", Severity.HIGH,
                          f"email-only profile {person.cio_id} with {person.email}{owner}, not merged with an id profile")


def _id_format(person: Person, ctx: Context, findings: list[Finding]) -> PersonCause | None:
    """One customer under two spellings of the key: missing as the shop spells it, extra as
    Customer.io does. Both sides get this cause; the diff stays exact (to Customer.io they are two
    profiles, so messages go to the wrong one or to both)."""
    twin = person.format_twin
    if twin is None:
        return None
    mine, other = person.key(ctx.key) or "", twin.spelling
    what = ", ".join(twin.differences) or "spelling"
    if person.extra:
        evidence = (f"{ctx.key} {spelled(mine)} is shop customer {spelled(other)} spelled another way ({what}): "
                    "Customer.io keeps them as two people")
        return PersonCause("id_format", Severity.HIGH, evidence, ctx.key, other, mine, what)
    profile = f" (profile {twin.cio_id})" if twin.cio_id else ""
    evidence = (f"Customer.io holds this customer as {ctx.key} {spelled(other)}{profile}, the shop as "
                f"{spelled(mine)} ({what}): an integration changed the identifier's format")
    return PersonCause("id_format", Severity.HIGH, evidence, ctx.key, mine, other, what)


def _unknown_to_shop(person: Person, ctx: Context, findings: list[Finding]) -> PersonCause | None:
    """Extra, and the shop has no row for them: a duplicate of someone it knows, or nobody it knows."""
    if not person.extra or person.shop is not None:
        return None
    if person.email_twins:
        return PersonCause.of("duplicate_profile", Severity.HIGH,
                              f"{ctx.key} {person.key(ctx.key)} is unknown to the shop; its email "
                              f"{person.email} is also {', '.join(person.email_twins[:3])}: a double send")
    if ctx.lookup:
        return PersonCause.of("not_in_shop", Severity.HIGH,
                              f"the shop has no customer with {ctx.key} {person.key(ctx.key)}"
                              + (f" nor with {person.email}" if person.email and ctx.key == "id" else "")
                              + ": deleted, a test account, or a deletion that never reached Customer.io")
    return PersonCause.of("unexplained", Severity.MEDIUM, "not in the truth; no lookup_sql is configured to ask the shop")


def _consent_mismatch(person: Person, ctx: Context, findings: list[Finding]) -> PersonCause | None:
    """Customer.io says consent where the shop says no: critical when Customer.io would message them."""
    for finding in findings:
        if finding.kind == "withdrawn":
            unsubscribed = bool((person.profile or {}).get("unsubscribed"))
            critical = person.extra and not unsubscribed
            return PersonCause.of("consent_mismatch", Severity.CRITICAL if critical else Severity.HIGH,
                                  f"{finding.attribute}: Customer.io {finding.customerio_value}, shop {finding.shop_value}"
                                  + (": Customer.io would message someone who withdrew consent" if critical else ""),
                                  finding)
    return None


def _timestamp_unit(person: Person, ctx: Context, findings: list[Finding]) -> PersonCause | None:
    for finding in findings:
        if finding.kind == "unit":
            return PersonCause.of("timestamp_unit", Severity.MEDIUM,
                                  f"{finding.customerio_attribute} = {finding.customerio_value}: {finding.difference}",
                                  finding)
    return None


def _window_edge(person: Person, ctx: Context, findings: list[Finding]) -> PersonCause | None:
    """Timing noise: the shop's qualifying instant within the grace of the window's start or of
    as_of, and Customer.io's value of it within the grace too (or newer, for a missing person).

    The shop's instant decides for missing and extra people alike, so one order means one cause
    in every segment. A Customer.io value far from the shop's is lost or stale data, not timing,
    wherever the edge is: the next cause that fits answers (``attribute_stale``, counted)."""
    column = ctx.segment.window_column
    if not column:
        return None
    attribute = dict(ctx.segment.compare).get(column, column)
    moment, theirs = epoch(person.shop_value(column)), epoch(person.attribute(attribute))
    if moment is None or theirs is None:
        return None
    apart = theirs - moment
    if abs(apart) > ctx.grace and (person.extra or apart < 0):
        return None
    window_start = ctx.as_of - timedelta(days=ctx.segment.window_days)
    for name, edge in (("window start", window_start), ("as_of", ctx.as_of)):
        gap = moment - edge.timestamp()
        if abs(gap) <= ctx.grace:
            side = "after" if gap >= 0 else "before"
            other = "the same instant" if abs(apart) < 1 else \
                f"{span(apart)} {'later' if apart > 0 else 'earlier'} ({utc(theirs)})"
            return PersonCause("window_edge", Severity.LOW,
                               f"{column} {utc(moment)} is {span(gap)} {side} the {name} ({utc(edge.timestamp())}), "
                               f"within the {span(ctx.grace)} grace, and Customer.io's {attribute} is {other}: "
                               "timing noise",
                               column, utc(moment), utc(theirs), f"{span(gap)} {side} the {name}")
    return None


def _attribute_stale(person: Person, ctx: Context, findings: list[Finding]) -> PersonCause | None:
    for finding in findings:
        if finding.kind in ("stale", "not_granted"):
            high = person.extra and finding.shop_newer
            return PersonCause.of("attribute_stale", Severity.HIGH if high else Severity.MEDIUM,
                                  f"{finding.customerio_attribute}: shop {finding.shop_value}, Customer.io "
                                  f"{finding.customerio_value} ({finding.difference})"
                                  + ("; the shop saw them act since: they would get a flow meant for others"
                                     if high else ""),
                                  finding)
    return None


def _unexplained(person: Person, ctx: Context, findings: list[Finding]) -> PersonCause:
    if person.profile is None:
        who = person.email or person.id or person.cio_id
        return PersonCause.of("unexplained", Severity.MEDIUM, f"{who}: the Customer.io profile could not be read "
                                                              "(merged or deleted since the membership was read)")
    compared, skipped = [], []
    for column, attribute in ctx.segment.compare:
        if attribute in ctx.unseen:
            skipped.append(f"{attribute} (on none of the profiles read)")
        elif not person.has_shop_column(column):
            skipped.append(f"{column} (the shop's row has no such column)")
        else:
            compared.append(column)
    if not compared:
        said = "no mapped attribute could be compared" + (f" ({', '.join(skipped)})" if skipped else "")
    else:
        said = (f"every mapped attribute agrees ({', '.join(compared)})" if not skipped else
                f"the mapped attributes compared agree ({', '.join(compared)}); not compared: {', '.join(skipped)}")
    return PersonCause.of("unexplained", Severity.MEDIUM, f"{said}; map more attributes in [segments.compare]")


CAUSES: tuple[Cause, ...] = (_no_profile, _idless_member, _id_format, _unknown_to_shop, _consent_mismatch,
                             _timestamp_unit, _window_edge, _attribute_stale, _unexplained)


def classify(person: Person, ctx: Context) -> PersonCause:
    """The first cause in :data:`CAUSES` that answers for this person."""
    found = findings(person, ctx)
    for cause in CAUSES:
        answer = cause(person, ctx, found)
        if answer is not None:
            return answer
    raise AssertionError("_unexplained always answers")


def findings(person: Person, ctx: Context) -> list[Finding]:
    """How each mapped attribute differs, for a person both sides know (a column the shop's row
    does not have is not compared)."""
    if person.profile is None or person.shop is None:
        return []
    found = []
    for column, attribute in ctx.segment.compare:
        if not person.has_shop_column(column):
            continue
        finding = compare_attribute(column, attribute, person.shop_value(column), person.attribute(attribute))
        if finding is not None:
            found.append(finding)
    return found


__all__ = ["CAUSES", "EVIDENCE_COLUMNS", "Context", "PersonCause", "classify", "findings"]
