"""``reconcile plan`` on an audited demo: one action per person and cause, exactly as the generator's
record says each person drifted, with the exact Track API call; nobody whose shop values changed
since the run; causes it does not know listed as "no action" with the reason."""

from __future__ import annotations

import csv
import json
from collections import Counter
import shutil
import sqlite3
import stat

import pytest

from reconcile.demo.drift import demo_segments
from reconcile.errors import PlanRefused, UsageError
from reconcile.repair import KINDS, plan_run, read_plan
from reconcile.repair.plan_file import NO_ACTION

from audited_demo import Audited, audit_demo, clients, person_key


@pytest.fixture(scope="module")
def audited(tmp_path_factory) -> Audited:
    return audit_demo(tmp_path_factory.mktemp("audited"))


def make_plan(audited: Audited, folder, run_dir=None, url=None, **options):
    with audited.serve() as sandbox:
        app, track = clients(sandbox)
        written = plan_run(run_dir or audited.run_dir, audited.config(sandbox, url), app=app, track=track,
                           out=folder / "plan.jsonl", **options)
        reads = [(r.method, r.path) for r in sandbox.requests if r.path.startswith("/api/")]
    assert reads == [("GET", "/api/v1/accounts/region")]           # planning writes nothing
    return written


def audited_compare(segment: str) -> tuple:
    return next(s.compare for s in demo_segments() if s.name == segment)


def profiles_by_id(audited: Audited) -> dict[str, dict]:
    return {p["id"]: p for p in audited.workspace["people"] if p["id"]}


def test_each_person_gets_the_kind_their_cause_calls_for(audited, tmp_path):
    plan = make_plan(audited, tmp_path).plan
    by_kind = {kind: sorted(person_key(a.person) for a in plan.of_kind(kind)) for kind in (*KINDS, NO_ACTION)}
    assert by_kind["update"] == sorted(audited.people_with("attribute_stale", "timestamp_unit", "consent_mismatch"))
    assert by_kind["identify"] == sorted(audited.people_with("profile_missing"))
    assert by_kind["delete"] == sorted(audited.people_with("not_in_shop"))
    assert by_kind["none"] == sorted(audited.people_with("window_edge"))
    assert by_kind["suppress"] == []
    merges = [a for a in plan.of_kind("merge") if a.call.path == "/api/v1/merge_customers"]
    extra = audited.record["extra_profiles"]
    differing = {key.removeprefix("cio:") for key in audited.causes()} | {
        cio for cio, p in extra.items() if p["kind"] == "idless_profile" and p["customer_id"] in audited.causes()}
    secondaries = sorted(a.call.body["secondary"]["cio_id"] for a in merges)
    assert secondaries == sorted(cio for cio, p in extra.items() if cio in differing or p["id"] in differing)
    customers = profiles_by_id(audited)
    for action in merges:                   # the primary is the shop's customer: the profile with their id
        secondary = extra[action.call.body["secondary"]["cio_id"]]
        assert action.call.body["primary"] == {"cio_id": customers[secondary["customer_id"]]["cio_id"]}
        assert action.cause == secondary["kind"]


def test_the_calls_are_exact(audited, tmp_path):
    plan = make_plan(audited, tmp_path).plan
    customers = profiles_by_id(audited)
    injected = audited.record["injected"]
    for action in plan.of_kind("update"):
        who = person_key(action.person)
        cio = customers[who]["cio_id"]
        assert (action.call.method, action.call.path) == ("PUT", f"/api/v1/customers/cio_{cio}")
        assert action.call.body["_update"] is True                  # a replay can never create anyone
        if who in injected["timestamp_unit"]:                      # seconds, never milliseconds
            before = customers[who]["attributes"]["last_order_at"]
            assert action.before == {"last_order_at": before}
            assert action.after == {"last_order_at": int(before) // 1000}
        if who in injected["consent_not_synced"]:                  # the shop withdrew consent
            assert action.after == {"email_consent": False} and action.before == {"email_consent": "true"}
        if who in injected["attribute_stale"]:                     # a grant the shop records
            assert action.after == {"sms_consent": True} and action.before == {"sms_consent": "false"}
    for action in plan.of_kind("identify"):
        who = person_key(action.person)
        assert (action.call.method, action.call.path) == ("PUT", f"/api/v1/customers/{who}")
        body = dict(action.call.body)
        assert "_update" not in body and body.pop("email") == action.person["email"]
        mapped = {attribute for name in action.segments for _, attribute in audited_compare(name)}
        assert body and set(body) <= mapped
        for name, value in body.items():             # booleans for consent, whole seconds for timestamps
            assert isinstance(value, bool) if "consent" in name else not name.endswith("_at") or len(str(value)) == 10
    for action in plan.of_kind("delete"):
        cio = customers[person_key(action.person)]["cio_id"]
        assert (action.call.method, action.call.path, action.call.body) == ("DELETE", f"/api/v1/customers/cio_{cio}",
                                                                            None)
    for action in plan.of_kind(NO_ACTION):
        assert action.call is None and action.reason.startswith("timing noise at the window's edge")


def test_the_plan_records_its_run_and_workspace_and_is_private(audited, tmp_path):
    written = make_plan(audited, tmp_path)
    header = json.loads(written.path.read_text().splitlines()[0])
    assert header["run"]["folder"] == str(audited.run_dir.resolve()) and header["run"]["status"] == "fail"
    assert header["workspace"] == {"environment_id": "demo-workspace", "region": "us", "site_id": "sandbox-demo-site"}
    assert header["shop_reread"] is True and header["data_as_of"] == header["created_at"]
    for path in (written.path, written.summary_path):
        assert stat.S_IMODE(path.stat().st_mode) == 0o600
    assert read_plan(written.path).actions == written.plan.actions
    summary = written.summary_path.read_text()
    assert "| update | yes | timestamp_unit |" in summary and "| window_edge |" in summary
    with pytest.raises(UsageError, match="already exists"):
        make_plan(audited, tmp_path)


def test_people_whose_shop_values_changed_since_the_run_are_left_out(audited, tmp_path):
    shop = tmp_path / "shop.db"
    shutil.copy(audited.url.removeprefix("sqlite:///"), shop)
    stale = audited.record["injected"]["timestamp_unit"][0]
    withdrawn = audited.record["injected"]["consent_not_synced"][0]
    with sqlite3.connect(shop) as db:
        db.execute("UPDATE orders SET completed_at = '2026-11-28 08:00:00.000000' WHERE customer_id = ?", (stale,))
        db.execute("UPDATE customers SET email_consent = 1 WHERE id = ?", (withdrawn,))
    plan = make_plan(audited, tmp_path, url=f"sqlite:///{shop}").plan
    updated = {person_key(a.person) for a in plan.of_kind("update")}
    assert stale not in updated and withdrawn not in updated
    assert updated == audited.people_with("attribute_stale", "timestamp_unit", "consent_mismatch") - {stale, withdrawn}
    left = {person_key(a.person): a for a in plan.of_kind(NO_ACTION) if a.reason.startswith("changed in the shop")}
    assert sorted(left) == sorted([stale, withdrawn])
    assert left[withdrawn].detail == "email_consent was false at the run, is 1 now"


def test_causes_the_planner_does_not_know_are_listed_with_the_reason(audited, tmp_path):
    run = tmp_path / "run"
    shutil.copytree(audited.run_dir, run)
    with open(run / "discrepancies.csv", newline="") as handle:
        rows = list(csv.DictReader(handle))
    changed = {}
    for row, cause in zip((r for r in rows if r["cause"] == "timestamp_unit"), ("id_format", "brand_new_cause")):
        row["cause"], changed[row["id"]] = cause, cause
    undiagnosed = next(r for r in rows if r["cause"] == "profile_missing")
    undiagnosed.update(cause="", severity="", evidence="")
    with open(run / "discrepancies.csv", "w", newline="") as handle:
        writer = csv.DictWriter(handle, fieldnames=list(rows[0]))
        writer.writeheader()
        writer.writerows(rows)
    plan = make_plan(audited, tmp_path, run_dir=run).plan
    left = {(person_key(a.person), a.cause): a.reason for a in plan.of_kind(NO_ACTION)}
    who = {cause: person for person, cause in changed.items()}
    assert left[(who["brand_new_cause"], "brand_new_cause")] == ("a cause this planner does not know how to repair: "
                                                                 "nothing is sent")
    assert left[(who["id_format"], "id_format")].startswith("an id spelled differently on the two sides")
    assert left[(undiagnosed["id"], "not_diagnosed")].startswith("not diagnosed")


def test_an_email_spelled_differently_is_an_attribute_update(audited, tmp_path):
    """``id_format`` (another engineer's cause) where the fix is an attribute: the shop's spelling of
    the email, written to the profile addressed by its cio_id."""
    run = tmp_path / "run"
    shutil.copytree(audited.run_dir, run)
    with open(run / "discrepancies.csv", newline="") as handle:
        rows = list(csv.DictReader(handle))
    counts = Counter(r["id"] for r in rows)
    row = next(r for r in rows if r["cause"] == "attribute_stale" and counts[r["id"]] == 1)
    profile = profiles_by_id(audited)[row["id"]]
    row.update(cause="id_format", attribute="email", shop_value=profile["email"],
               customerio_value=f" {profile['email'].upper()}")
    with open(run / "discrepancies.csv", "w", newline="") as handle:
        writer = csv.DictWriter(handle, fieldnames=list(rows[0]))
        writer.writeheader()
        writer.writerows(rows)
    plan = make_plan(audited, tmp_path, run_dir=run).plan
    (action,) = [a for a in plan.of_kind("update") if a.person["id"] == row["id"]]
    assert action.cause == "id_format" and action.call.path == f"/api/v1/customers/cio_{profile['cio_id']}"
    assert action.call.body["email"] == profile["email"] and action.before["email"] == f" {profile['email'].upper()}"


def test_suppress_instead_of_delete(audited, tmp_path):
    plan = make_plan(audited, tmp_path, removal="suppress").plan
    assert plan.of_kind("delete") == []
    assert sorted(person_key(a.person) for a in plan.of_kind("suppress")) == sorted(audited.people_with("not_in_shop"))
    assert all(a.call.method == "POST" and a.call.path.endswith("/suppress") for a in plan.of_kind("suppress"))


def test_an_edited_action_is_refused(audited, tmp_path):
    written = make_plan(audited, tmp_path)
    lines = written.path.read_text().splitlines()
    index = next(i for i, line in enumerate(lines) if '"kind": "update"' in line)
    action = json.loads(lines[index])
    action["call"]["body"]["email_consent"] = True
    lines[index] = json.dumps(action)
    written.path.write_text("\n".join(lines) + "\n")
    with pytest.raises(PlanRefused) as caught:
        read_plan(written.path)
    assert str(caught.value) == (f"{written.path}, line {index + 1}: action {action['id']} was changed after planning "
                                 "(it no longer matches its id); delete the line to drop the action, or plan again")
    del lines[index]                                                   # dropping a line is how a reviewer says no
    written.path.write_text("\n".join(lines) + "\n")
    assert len(read_plan(written.path).actions) == len(written.plan.actions) - 1


@pytest.mark.parametrize("files, said", [
    ((), "holds no results.json"),
    (("results.json",), "holds no discrepancies.csv"),
])
def test_a_folder_that_is_not_a_run_is_refused(tmp_path, audited, files, said):
    for name in files:
        shutil.copy(audited.run_dir / name, tmp_path / name)
    with audited.serve() as sandbox:
        app, track = clients(sandbox)
        with pytest.raises(UsageError, match=said):
            plan_run(tmp_path, audited.config(sandbox), app=app, track=track)
