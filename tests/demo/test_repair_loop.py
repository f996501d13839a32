"""``reconcile demo --repair``: the audit, the plan, the apply to the sandbox and the audit again,
held to the generator's record person by person.

What must change is derived from the record and the plan, never from constants: the people the
plan repaired (an applied ``update`` or ``identify``) are gone from the second run, and everyone
else is still there with the cause the record gives them. The causes this version plans for
must land on the right side: stale attributes, milliseconds, consent and missing profiles are
repaired; merges and deletes (not included by default) and timing noise are left.
"""

from __future__ import annotations

import contextlib
import csv
import io
import json
from collections import Counter
from datetime import datetime, timezone

import pytest

from reconcile.cli import main
from reconcile.repair import read_plan

from demo_project import assert_matches_record, person_key

AS_OF = datetime(2026, 11, 28, 9, 30, tzinfo=timezone.utc)
REPAIRED_BY_DEFAULT = {"attribute_stale", "timestamp_unit", "consent_mismatch", "profile_missing"}
LEFT_BY_DEFAULT = {"idless_profile": "left: merge not included (apply --include merge)",
                   "duplicate_profile": "left: merge not included (apply --include merge)",
                   "not_in_shop": "left: delete not included (apply --include delete)",
                   "window_edge": "left: timing noise at the window's edge"}


def rows_of(folder) -> list[dict]:
    with open(folder / "discrepancies.csv", newline="") as handle:
        return list(csv.DictReader(handle))


@pytest.fixture(scope="module")
def loop(tmp_path_factory):
    """The loop run once for the module: (exit code, its folder, what it printed)."""
    out = tmp_path_factory.mktemp("loop") / "demo"
    screen = io.StringIO()
    with contextlib.redirect_stdout(screen):
        code = main(["demo", "--repair", "--out", str(out), "--as-of", AS_OF.isoformat()])
    return code, out, screen.getvalue()


def test_the_first_audit_is_the_record_and_the_plan_repairs_what_it_should(loop):
    code, out, _ = loop
    record = json.loads((out / "before" / "demo-record.json").read_text())
    assert_matches_record(json.loads((out / "before" / "results.json").read_text()), rows_of(out / "before"), record)
    causes = {key: cause for segment in record["segments"].values() for key, cause in segment["causes"].items()}
    repaired = repaired_people(out)
    assert {key for key, cause in causes.items() if cause in REPAIRED_BY_DEFAULT} <= repaired
    assert not {key for key, cause in causes.items() if cause in LEFT_BY_DEFAULT} & repaired


def repaired_people(out) -> set[str]:
    applied = {json.loads(line)["action"] for line in (out / "plan.progress.jsonl").read_text().splitlines()
               if json.loads(line).get("outcome") == "applied"}
    return {person_key(a.person) for a in read_plan(out / "plan.jsonl").actions
            if a.kind in ("update", "identify") and a.id in applied}


def test_the_second_audit_holds_exactly_the_people_the_plan_left(loop):
    code, out, _ = loop
    record = json.loads((out / "before" / "demo-record.json").read_text())
    repaired = repaired_people(out)
    after = {s["name"]: s for s in json.loads((out / "after" / "results.json").read_text())["segments"]}
    rows = rows_of(out / "after")
    for name, expected in record["segments"].items():
        missing = sorted(k for k in expected["missing_in_customerio"] if k not in repaired)
        extra = sorted(k for k in expected["extra_in_customerio"] if k not in repaired)
        fixed_missing = len(expected["missing_in_customerio"]) - len(missing)
        fixed_extra = len(expected["extra_in_customerio"]) - len(extra)
        segment = after[name]
        assert (segment["truth_count"], segment["customerio_count"], segment["matched"]) == (
            len(expected["truth"]), len(expected["customerio"]) + fixed_missing - fixed_extra,
            expected["matched"] + fixed_missing), name
        assert (segment["missing_in_customerio"], segment["extra_in_customerio"]) == (len(missing), len(extra)), name
        for side, people in (("missing_in_customerio", missing), ("extra_in_customerio", extra)):
            assert sorted(person_key(r) for r in rows if r["segment"] == name and r["side"] == side) == people
        left = Counter(expected["causes"][key] for key in missing + extra)
        assert {cause: entry["count"] for cause, entry in (segment.get("causes") or {}).items()} == dict(left), name


def test_the_screen_shows_each_cause_before_and_after_and_says_why_the_rest_is_left(loop):
    code, out, screen = loop
    before = json.loads((out / "before" / "results.json").read_text())
    after = json.loads((out / "after" / "results.json").read_text())
    assert code == {"pass": 0, "fail": 1}[after["status"]]
    totals = []
    for results in (before, after):
        counts = Counter()
        for segment in results["segments"]:
            counts.update({cause: entry["count"] for cause, entry in (segment.get("causes") or {}).items()})
        totals.append(counts)
    for cause, count in totals[0].items():
        line = next(line for line in screen.splitlines() if line.startswith(f"{cause} "))
        assert line.split()[1:3] == [f"{count:,}", f"{totals[1][cause]:,}"]
        if cause in REPAIRED_BY_DEFAULT:
            assert totals[1][cause] == 0 and "repaired (" in line
        if cause in LEFT_BY_DEFAULT:
            assert totals[1][cause] == count and LEFT_BY_DEFAULT[cause] in line
    assert "3. apply to the sandbox's Track API:" in screen and ", 0 failed" in screen
