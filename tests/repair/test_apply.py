"""``apply`` against the sandbox over real HTTP: each kind of action reaches Customer.io, a dry run
sends nothing, faults are survived or leave an exact record, a resumed apply sends each action
exactly once, and a plan that is stale, unconfirmed or for another workspace sends nothing."""

from __future__ import annotations

import json
from collections import Counter
from datetime import timedelta

import pytest

from reconcile.audit import run_audit
from reconcile.errors import ConfirmationNeeded, PlanRefused
from reconcile.repair import apply_plan, plan_run, progress_path, read_plan

from reconcile.demo import DEMO_SITE_ID, DEMO_TRACK_API_KEY
from reconcile.sandbox import Sandbox, Workspace

from audited_demo import AS_OF, Audited, audit_demo, clients, person_key, track_writes

ALL = ("update", "identify", "merge", "delete")


@pytest.fixture(scope="module")
def audited(tmp_path_factory) -> Audited:
    return audit_demo(tmp_path_factory.mktemp("audited"))


@pytest.fixture
def served(audited, tmp_path):
    """A fresh sandbox, its clients, and a plan made on it (planning's own requests cleared)."""
    with audited.serve() as sandbox:
        app, track = clients(sandbox)
        written = plan_run(audited.run_dir, audited.config(sandbox), app=app, track=track, out=tmp_path / "plan.jsonl")
        sandbox.requests.clear()
        yield sandbox, track, written


def sent(sandbox) -> Counter:
    """How many times each distinct write was accepted (2xx)."""
    return Counter((r.method, r.path, r.body) for r in track_writes(sandbox) if 200 <= r.status < 300)


def calls(actions) -> Counter:
    return Counter((a.call.method, a.call.path, json.dumps(a.call.body).encode() if a.call.body else b"")
                   for a in actions)


def test_a_dry_run_sends_nothing(served):
    sandbox, track, written = served
    report = apply_plan(written.path, client=track, include=ALL)
    assert sandbox.requests == [] and not progress_path(written.path).exists()
    assert [a.id for a in report.pending] == [a.id for a in written.plan.actions if a.kind in ALL]
    assert report.dry_run and not report.complete


def test_every_kind_reaches_customerio_and_only_timing_noise_is_left(served, audited):
    sandbox, track, written = served
    report = apply_plan(written.path, client=track, include=ALL, confirmed={"merge", "delete"}, dry_run=False)
    assert report.complete and report.failed == [] and len(report.applied) == len(written.plan.of_kind(*ALL))
    assert sent(sandbox) == calls(report.applied)                      # each call accepted exactly once
    assert sandbox.track.failures == []
    workspace = sandbox.workspace
    for action in written.plan.of_kind("identify"):                    # created, with the shop's values
        person = workspace.person(workspace.find(action.person["id"]))
        assert {k: person.attributes[k] for k in action.after} == {
            k: str(v).lower() if isinstance(v, bool) else str(v) for k, v in action.after.items()}
    for action in written.plan.of_kind("delete"):
        assert workspace.find(action.person["cio_id"], "cio_id") is None
    for action in written.plan.of_kind("merge"):
        if action.call.path.endswith("merge_customers"):
            assert workspace.find(action.call.body["secondary"]["cio_id"], "cio_id") is None
    again = run_audit(audited.config(sandbox), as_of=AS_OF)           # the audit, on the repaired workspace
    left = {s.name: sorted(s.discrepancies.apply(lambda r: r["id"] or f"cio:{r['cio_id']}", axis=1))
            for s in again.segments if s.differing}
    expected = {name: sorted(key for key, cause in segment["causes"].items() if cause == "window_edge")
                for name, segment in audited.record["segments"].items()}
    assert left == {name: people for name, people in expected.items() if people}
    assert {cause for s in again.segments for cause in (s.causes or {})} <= {"window_edge"}


def test_suppressions_delete_and_block_the_identifiers(audited, tmp_path):
    with audited.serve() as sandbox:
        app, track = clients(sandbox)
        written = plan_run(audited.run_dir, audited.config(sandbox), app=app, track=track,
                           out=tmp_path / "plan.jsonl", removal="suppress")
        with pytest.raises(ConfirmationNeeded):                        # --yes-delete confirms suppressions too
            apply_plan(written.path, client=track, include=("suppress",), dry_run=False)
        report = apply_plan(written.path, client=track, include=("suppress",), confirmed={"delete"}, dry_run=False)
        suppressed = written.plan.of_kind("suppress")
        assert report.complete and len(report.applied) == len(suppressed) == len(audited.people_with("not_in_shop"))
        for action in suppressed:
            assert sandbox.workspace.find(action.person["cio_id"], "cio_id") is None
            assert f"id:{action.person['id']}" in sandbox.track.suppressed


def test_a_429_storm_is_waited_out_and_each_action_is_sent_once(audited, tmp_path):
    """A client far faster than the sandbox's 3 requests a second: every call beyond the limit gets
    429 with Retry-After, is waited for and sent again."""
    with audited.serve(retry_after=1, rate_limit=3) as sandbox:
        app, track = clients(sandbox, rate_limit=3)
        written = plan_run(audited.run_dir, audited.config(sandbox), app=app, track=track, out=tmp_path / "plan.jsonl")
        _, fast = clients(sandbox, rate_limit=100)
        sandbox.requests.clear()
        report = apply_plan(written.path, client=fast, dry_run=False)
        chosen = written.plan.of_kind("update", "identify")
        assert len(chosen) > 6 and report.complete
        refused = Counter((r.method, r.path, r.body) for r in track_writes(sandbox) if r.status == 429)
        assert refused and set(refused) <= set(calls(chosen))          # the storm hit the writes ...
        assert sent(sandbox) == calls(chosen)                          # ... and each was accepted exactly once


def test_a_5xx_mid_apply_stops_with_an_exact_record_and_a_resumed_apply_sends_the_rest_once(served, caplog):
    sandbox, _, written = served
    _, track = clients(sandbox, max_retries=2)
    sandbox.inject("status", status=503, path=r"^/api/v1/customers/", after=5, times=3)   # every retry of the 6th
    first = apply_plan(written.path, client=track, dry_run=False)
    chosen = written.plan.of_kind("update", "identify")
    assert [a.id for a in first.applied] == [a.id for a in chosen[:5]]
    assert [a.id for a, _ in first.failed] == [chosen[5].id]
    assert first.failed[0][1].startswith("Customer.io gave no usable answer to PUT /api/v1/customers/… after 3 "
                                         "attempts (last: 503 Service Unavailable")
    assert [a.id for a in first.not_attempted] == [a.id for a in chosen[6:]] and not first.complete
    journal = [json.loads(line) for line in progress_path(written.path).read_text().splitlines()]
    outcomes = [(entry["action"], entry["outcome"]) for entry in journal if entry["type"] == "outcome"]
    assert outcomes == [(a.id, "applied") for a in chosen[:5]] + [(chosen[5].id, "failed")]
    assert all(a.person["email"] not in progress_path(written.path).read_text() for a in chosen if a.person["email"])

    second = apply_plan(written.path, client=track, dry_run=False)
    assert [a.id for a in second.applied_before] == [a.id for a in chosen[:5]]
    assert [a.id for a in second.applied] == [a.id for a in chosen[5:]] and second.complete
    assert sent(sandbox) == calls(chosen)                              # over both runs: each exactly once
    third = apply_plan(written.path, client=track, dry_run=False)
    assert third.applied == [] and third.complete and len(sent(sandbox)) == len(chosen)
    assert "retry 1 of 2" in caplog.text                               # the retries were logged ...
    for action in chosen:                                              # ... without the people or the key
        assert not [value for value in (action.person["email"], action.person["cio_id"]) if value and value in caplog.text]
    assert DEMO_TRACK_API_KEY not in caplog.text + progress_path(written.path).read_text()


def test_a_stale_plan_is_refused_even_for_a_dry_run(served):
    sandbox, track, written = served
    later = written.plan.data_as_of + timedelta(hours=25, minutes=6)
    for dry_run in (True, False):
        with pytest.raises(PlanRefused) as caught:
            apply_plan(written.path, client=track, dry_run=dry_run, now=later)
        assert "25.1 hours ago, more than customerio.max_plan_age_hours (24)" in str(caught.value)
    assert sandbox.requests == []
    assert apply_plan(written.path, client=track, now=later, max_age_hours=26).dry_run    # a longer limit allows it


@pytest.mark.parametrize("include, flag, count_of", [
    (("update", "merge"), "merge", ("merge",)),
    (("identify", "delete"), "delete", ("delete",)),
])
def test_merges_and_deletes_are_refused_without_their_confirmation(served, include, flag, count_of):
    sandbox, track, written = served
    with pytest.raises(ConfirmationNeeded) as caught:
        apply_plan(written.path, client=track, include=include, dry_run=False)
    count = len(written.plan.of_kind(*count_of))
    assert (caught.value.kind, caught.value.count) == (flag, count) and count > 0
    assert f"add --yes-{flag}" in str(caught.value)
    assert sandbox.requests == []                                      # not even the workspace check


def test_a_plan_for_another_workspace_is_refused(audited, served):
    _, _, written = served
    other = json.loads(json.dumps(audited.workspace)) | {"environment_id": "somebody-else"}
    with Sandbox(Workspace.from_dict(other), api_key=audited.api_key, site_id=DEMO_SITE_ID,
                 track_api_key=DEMO_TRACK_API_KEY) as elsewhere:
        _, track = clients(elsewhere)
        with pytest.raises(PlanRefused) as caught:
            apply_plan(written.path, client=track, dry_run=False)
        assert track_writes(elsewhere) == []
    assert "was made for workspace demo-workspace, but these Track API credentials write to workspace somebody-else" \
        in str(caught.value)


def test_a_refused_call_is_recorded_and_the_others_still_go(served):
    sandbox, track, written = served
    sandbox.inject("status", status=400, path=r"^/api/v1/customers/", after=1,
                   body={"meta": {"errors": ["value for attribute 'x' cannot be longer than 1000 bytes"]}})
    report = apply_plan(written.path, client=track, dry_run=False)
    chosen = written.plan.of_kind("update", "identify")
    assert [a.id for a, _ in report.failed] == [chosen[1].id] and not report.complete
    assert len(report.applied) == len(chosen) - 1 and report.not_attempted == [] and report.stopped is None
    assert report.failed[0][1].endswith("value for attribute 'x' cannot be longer than 1000 bytes")


def test_merge_follow_ups_wait_for_their_merge(served):
    sandbox, track, written = served
    merges = written.plan.of_kind("merge")
    follow_ups = [a for a in merges if a.needs]
    assert follow_ups and all(any(m.id == a.needs for m in merges) for a in follow_ups)
    first_merge = next(a for a in merges if a.call.path.endswith("merge_customers"))
    sandbox.inject("status", status=422, path=r"^/api/v1/merge_customers$", times=1)
    report = apply_plan(written.path, client=track, include=("merge",), confirmed={"merge"}, dry_run=False)
    skipped = [a for a, message in report.failed if message == f"needs action {first_merge.id}, which is not applied"]
    assert [a.needs for a in skipped] == [first_merge.id] * len(skipped)
    assert person_key(first_merge.person) and read_plan(written.path).of_kind("merge") == merges


def test_a_progress_line_cut_short_by_a_crash_is_sent_again_and_another_plans_progress_is_refused(served):
    sandbox, track, written = served
    chosen = written.plan.of_kind("update", "identify")
    apply_plan(written.path, client=track, dry_run=False)
    journal = progress_path(written.path)
    lines = journal.read_text().splitlines()
    journal.write_text("\n".join(lines[:-1]) + "\n" + lines[-1][:25])      # the last outcome half written
    again = apply_plan(written.path, client=track, dry_run=False)
    assert [a.id for a in again.applied] == [chosen[-1].id] and again.complete
    header = json.loads(lines[0]) | {"plan_id": "0" * 16}
    journal.write_text(json.dumps(header) + "\n")
    with pytest.raises(PlanRefused, match="records another plan's progress"):
        apply_plan(written.path, client=track)
