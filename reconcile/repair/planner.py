"""``reconcile plan``: a finished run's differing people → one Track API call per repair.

Each cause the diagnosis gives has one kind of repair, or none (README "Repairing")::

    attribute_stale, timestamp_unit,
    consent_mismatch, id_format (an email) .. update    PUT  /api/v1/customers/cio_<id>  {..., "_update": true}
    profile_missing ......................... identify  PUT  /api/v1/customers/<id>      {email, mapped attributes}
    idless_profile, duplicate_profile ....... merge     POST /api/v1/merge_customers     {primary, secondary}
    not_in_shop ............................. delete    DELETE /api/v1/customers/cio_<id>  (or suppress)
    window_edge, unexplained, a cause this
    planner does not know, not diagnosed .... none      nothing is sent; the reason is listed

An update writes every ``[segments.compare]`` attribute of the person's differing segments that
disagrees with the shop now, by the rules of :mod:`.values`, to the profile addressed by its
``cio_id`` with ``_update`` (so a replay can never create anyone). Merges keep the profile with
the shop's id as the primary (``customerio-track-api.md`` §3); after an email-only profile is
merged in, the primary gets the shop's values too. Anyone whose shop values changed since the
run, or who changed in Customer.io, is listed as ``none`` with what was seen.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timezone
from urllib.parse import quote

from ..config import Config
from ..customerio import CustomerIOClient
from ..diagnose.people import Profiles, profile_keys
from ..identity import normalize_email, normalize_id
from ..results import worst
from ..shop import open_engine
from .people import (UNKNOWN, Differing, group_people, mapping, read_profiles, reread_shop, segments_of)
from .plan_file import KINDS, NO_ACTION, Action, Call, Plan
from .run_folder import RunFolder
from .values import Change, Skip, from_run, initial, repair, unchanged

CAUSE_KINDS = {"attribute_stale": "update", "timestamp_unit": "update", "consent_mismatch": "update",
               "id_format": "update", "profile_missing": "identify", "idless_profile": "merge",
               "duplicate_profile": "merge", "not_in_shop": "delete"}
LEFT_ALONE = {
    "window_edge": "timing noise at the window's edge: Customer.io catches up by itself, there is nothing to write",
    "unexplained": "no cause was found, so no write is known to be right: see the evidence in the report",
    "id_format": "an id spelled differently on the two sides: changing an identifier is not an attribute fix; "
                 "correct the integration that reformats it",
    "": "not diagnosed (outside the sample of diagnosis.max_people), so no cause says what to write",
}
UNKNOWN_CAUSE = "a cause this planner does not know how to repair: nothing is sent"
CHANGED = "changed in the shop since the run: re-run the audit to plan from what is true now"
GONE = "the profile is no longer in Customer.io (merged or deleted since the run)"
AGREES = "nothing to write: Customer.io agrees with the shop on every mapped attribute it can repair"
ORDER = {kind: rank for rank, kind in enumerate((*KINDS, NO_ACTION))}


@dataclass
class Planning:
    """What the planners share: the config, the profiles read, the shop's owner of each email."""

    config: Config
    app: CustomerIOClient
    profiles: Profiles
    owners: dict[str, str]
    removal: str                   # "delete" or "suppress"


def build_plan(run: RunFolder, config: Config, *, app: CustomerIOClient, workspace: dict[str, str],
               now: datetime | None = None, removal: str = "delete") -> Plan:
    """The plan for a finished run: the shop and Customer.io are read again first (see :mod:`.people`)."""
    now = now or datetime.now(timezone.utc)
    people = group_people(run.rows)
    engine = open_engine(config.database) if any(person.rows for person in people) else None
    try:
        complete, owners = reread_shop(people, config, engine, run.as_of) if engine is not None else (True, {})
    finally:
        if engine is not None:
            engine.dispose()
    profiles = read_profiles(people, app, config.identity_key)
    profiles.fetch(sorted({p.email_owner for p in people if p.email_owner}), "id")    # merges' primaries
    profiles.fetch_emails([p.email for p in people if p.email and p.profile is None])
    planning = Planning(config, app, profiles, owners, removal)
    actions = plan_merges(people, planning)
    for person in people:
        for kind, rows in kinds_of(person, removal).items():
            actions.append(_BUILDERS.get(kind, left_alone)(person, rows, planning))
    actions.sort(key=lambda action: ORDER[action.kind])
    return Plan(created_at=now, data_as_of=now if complete else run.finished_at,
                run={"folder": str(run.path), "as_of": run.as_of.isoformat(),
                     "finished_at": run.finished_at.isoformat(), "status": run.status},
                config=str(config.path), workspace=workspace, shop_reread=complete, actions=actions)


def kinds_of(person: Differing, removal: str) -> dict[str, list[dict[str, str]]]:
    """The person's rows by the kind of repair their cause calls for (merges are planned in pairs)."""
    groups: dict[str, list[dict[str, str]]] = {}
    for row in person.rows:
        cause = row.get("cause", "")
        kind = CAUSE_KINDS.get(cause, NO_ACTION)
        if cause == "id_format" and row.get("attribute", "").lower() != "email":
            kind = NO_ACTION
        kind = removal if kind == "delete" else kind
        if kind != "merge":
            groups.setdefault(kind if kind != NO_ACTION else f"{NO_ACTION}:{cause}", []).append(row)
    return groups


def _about(rows: list[dict[str, str]]) -> tuple[str, str, list[str]]:
    """(cause, severity, segments) of a group of rows: the worst row's cause."""
    severity = worst(row.get("severity") for row in rows)
    cause = next((row["cause"] for row in rows if severity and row.get("severity") == severity), rows[0]["cause"])
    return cause, str(severity or ""), segments_of(rows)


def left_alone(person: Differing, rows: list[dict[str, str]], planning: Planning, reason: str = "",
               detail: str = "") -> Action:
    cause, severity, segments = _about(rows)
    if not reason:
        reason = LEFT_ALONE.get(cause, UNKNOWN_CAUSE)
        detail = detail or rows[0].get("evidence", "")
    return Action(NO_ACTION, cause or "not_diagnosed", person.identity(), segments, severity, reason=reason,
                  detail=detail)


def changed_in_shop(person: Differing, rows: list[dict[str, str]]) -> str | None:
    """What differs between the shop now and what the run saw for these rows; None when nothing does."""
    if not person.shop_read:
        return None
    if person.shop is None:
        return "the shop's lookup no longer finds them"
    for row in rows:
        column = row.get("attribute", "")
        now = person.shop_value(column, []) if column else UNKNOWN
        if now is not UNKNOWN and not unchanged(column, column, row.get("shop_value", ""), now):
            return f"{column} was {row.get('shop_value')} at the run, is {now} now"
    return None


def attribute_changes(person: Differing, rows: list[dict[str, str]], pairs: list[tuple[str, str]],
                      profile: dict | None) -> tuple[list[Change], list[str]]:
    """What to write on ``profile`` so each mapped attribute agrees with the shop, and what cannot be."""
    attributes = (profile or {}).get("attributes") or {}
    changes, skips = [], []
    for column, attribute in pairs:
        shop = person.shop_value(column, rows)
        result = repair(column, attribute, shop, attributes.get(attribute)) if shop is not UNKNOWN else None
        if isinstance(result, Change):
            changes.append(result)
        elif isinstance(result, Skip):
            skips.append(f"{attribute}: {result.why}")
    for row in rows:                       # id_format on an email: the shop's spelling is the fix
        if row.get("cause") == "id_format" and row.get("attribute", "").lower() == "email" and row.get("shop_value"):
            changes.append(Change("email", row.get("customerio_value") or None, from_run(row["shop_value"])))
    return changes, skips


def profile_path(profile: dict) -> str:
    """The profile's own address: ``cio_<cio_id>`` names it unambiguously and never creates anyone."""
    id_, _, cio_id = profile_keys(profile)
    return f"/api/v1/customers/cio_{quote(cio_id, safe='')}" if cio_id else f"/api/v1/customers/{quote(id_ or '', safe='')}"


def write(kind: str, person: Differing, rows, path: str, changes: list[Change], skips: list[str],
          extra: dict | None = None, needs: str | None = None) -> Action:
    cause, severity, segments = _about(rows)
    body = {**(extra or {}), **{change.attribute: change.after for change in changes}, "_update": True}
    return Action(kind, cause, person.identity(), segments, severity, Call("PUT", path, body),
                  before={c.attribute: c.before for c in changes}, after={c.attribute: c.after for c in changes},
                  needs=needs, detail="; ".join(skips))


def plan_update(person: Differing, rows, planning: Planning) -> Action:
    changed = changed_in_shop(person, rows)
    if changed:
        return left_alone(person, rows, planning, CHANGED, changed)
    if person.profile is None:
        return left_alone(person, rows, planning, GONE)
    changes, skips = attribute_changes(person, rows, mapping(planning.config, segments_of(rows)), person.profile)
    if not changes:
        return left_alone(person, rows, planning, AGREES, "; ".join(skips))
    return write("update", person, rows, profile_path(person.profile), changes, skips)


def plan_identify(person: Differing, rows, planning: Planning) -> Action:
    key = planning.config.identity_key
    existing = person.profile or planning.profiles.by["email"].get(person.email or "")
    if existing is not None:
        return left_alone(person, rows, planning, "a profile with their id or email exists now: identified since "
                          "the run, or held by another profile; re-run the audit")
    if person.shop_read and person.shop is None:
        return left_alone(person, rows, planning, CHANGED, "the shop's lookup no longer finds them")
    address = person.id if key == "id" else person.email
    if not address:
        return left_alone(person, rows, planning, f"no {key} to create the profile with")
    body: dict = {}
    email = person.shop_value("email", rows)
    email = str(email).strip() if email not in (None, UNKNOWN) and str(email).strip() else person.email
    if email and key == "id":
        body["email"] = email
    for column, attribute in mapping(planning.config, segments_of(rows)):
        shop = person.shop_value(column, rows)
        value = initial(column, attribute, shop) if shop is not UNKNOWN else None
        if value is not None:
            body[attribute] = value
    cause, severity, segments = _about(rows)
    return Action("identify", cause, person.identity(), segments, severity,
                  Call("PUT", f"/api/v1/customers/{quote(address, safe='')}", body), after=dict(body))


def plan_removal(person: Differing, rows, planning: Planning) -> Action:
    if person.shop is not None or person.email_owner is not None:
        return left_alone(person, rows, planning, "the shop knows them now (by id or email): re-run the audit")
    if person.profile is None:
        return left_alone(person, rows, planning, "already gone from Customer.io")
    path = profile_path(person.profile)
    call = Call("DELETE", path) if planning.removal == "delete" else Call("POST", f"{path}/suppress")
    cause, severity, segments = _about(rows)
    return Action(planning.removal, cause, person.identity(), segments, severity, call,
                  before={"cio_id": person.identity()["cio_id"]})


_BUILDERS = {"update": plan_update, "identify": plan_identify, "delete": plan_removal, "suppress": plan_removal}


# ---------------------------------------------------------------------- merges


def plan_merges(people: list[Differing], planning: Planning) -> list[Action]:
    """Idless profiles paired with their customer by email, and duplicates merged into the shop's customer."""
    actions: list[Action] = []
    pairs: dict[str, dict] = {}
    for person in people:
        rows = [row for row in person.rows if row.get("cause") == "idless_profile"]
        if rows:
            slot = pairs.setdefault(person.email or person.key, {"rows": []})
            slot["email_only" if person.id is None else "customer"] = person
            slot["rows"].extend(rows)
        rows = [row for row in person.rows if row.get("cause") == "duplicate_profile"]
        if rows:
            actions.extend(merge_duplicate(person, rows, planning))
    for email, slot in pairs.items():
        actions.extend(merge_idless(email, slot.get("customer"), slot.get("email_only"), slot["rows"], planning))
    return actions


def merge_call(primary: dict, secondary_cio_id: str) -> Call:
    return Call("POST", "/api/v1/merge_customers", {"primary": {"cio_id": profile_keys(primary)[2]},
                                                    "secondary": {"cio_id": secondary_cio_id}})


def merge_duplicate(person: Differing, rows, planning: Planning) -> list[Action]:
    owner = person.email_owner
    if owner is None or owner == person.id:
        return [left_alone(person, rows, planning, "the shop does not say which profile is the customer (no "
                           "lookup row has this email), so nothing is merged")]
    primary = planning.profiles.by["id"].get(owner)
    if person.profile is None or primary is None:
        return [left_alone(person, rows, planning, GONE, f"customer {owner} or this profile has no profile now")]
    cause, severity, segments = _about(rows)
    secondary = person.identity()
    return [Action("merge", cause, {"id": owner, "email": person.email, "cio_id": profile_keys(primary)[2]},
                   segments, severity, merge_call(primary, secondary["cio_id"]), before={"secondary": secondary},
                   after={"primary": profile_keys(primary)[2]})]


def merge_idless(email: str, customer: Differing | None, email_only: Differing | None, rows,
                 planning: Planning) -> list[Action]:
    """The customer's profile (the shop's id) primary, the email-only one secondary; without an id
    profile, the email-only profile is given the id instead (no merge needed)."""
    anyone = customer or email_only
    owner = customer.id if customer else (email_only.email_owner if email_only else None)
    if owner is None:
        return [left_alone(anyone, rows, planning, "the shop does not say which customer has this email, so "
                           "nothing is merged")]
    if customer is not None and customer.shop_read and customer.shop is None:
        return [left_alone(customer, rows, planning, CHANGED, "the shop's lookup no longer finds them")]
    secondary = email_only.profile if email_only else _email_only_profile(email, planning)
    if secondary is None:
        return [left_alone(anyone, rows, planning, GONE, "the email-only profile is gone")]
    cio_id = profile_keys(secondary)[2]
    primary = customer.profile if customer else planning.profiles.by["id"].get(owner)
    holder = customer or email_only
    pairs = mapping(planning.config, segments_of(rows))
    if primary is None:          # no profile has the id: give it to the email-only profile
        changes, skips = attribute_changes(holder, rows, pairs, secondary)
        return [write("merge", holder, rows, f"/api/v1/customers/cio_{quote(cio_id, safe='')}", changes, skips,
                      extra={"id": owner})]
    cause, severity, segments = _about(rows)
    merged = Action("merge", cause, {"id": owner, "email": normalize_email(email), "cio_id": profile_keys(primary)[2]},
                    segments, severity, merge_call(primary, cio_id),
                    before={"secondary": {"id": None, "email": email, "cio_id": cio_id}},
                    after={"primary": profile_keys(primary)[2]})
    if customer is None:
        return [merged]
    changes, skips = attribute_changes(customer, rows, pairs, primary)
    follow_up = [write("merge", customer, rows, profile_path(primary), changes, skips, needs=merged.id)] if changes else []
    return [merged, *follow_up]


def _email_only_profile(email: str, planning: Planning) -> dict | None:
    """The profile with this email and no id, read from the App API (the run had only the customer's row)."""
    for found in planning.app.customers_by_email(email):
        if normalize_id(found.get("id")) is None and found.get("cio_id"):
            return {"id": None, "identifiers": {"email": found.get("email"), "cio_id": found["cio_id"]}}
    return None


__all__ = ["build_plan", "CAUSE_KINDS", "LEFT_ALONE", "kinds_of"]
