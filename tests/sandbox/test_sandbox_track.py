"""The sandbox's Track API, spoken to with plain ``requests``: does it write as the doc says, and do
its data-driven segments follow the people it writes to?

The workspace is written out in full. ``p1``..``p4`` have ids 1..4 (p4 is email-only: no id);
segment 21 ("consented buyers") is data-driven: ``email_consent`` is "true" and ``last_order_at``
within 30 days of the workspace's clock (``NOW``); it holds p1 only, which its condition gives.
Segment 22 is manual (no condition) and holds p4.
"""

from __future__ import annotations

import base64
import json
from datetime import datetime, timedelta, timezone

import pytest
import requests

from reconcile.demo import build_demo
from reconcile.sandbox import Sandbox, Workspace
from reconcile.sandbox.conditions import check, matches

SITE, TRACK_KEY, APP_KEY = "site-42", "track-key-Zq81", "app-key-Lp02"
NOW = 1_800_000_000
DAY = 86_400
CONDITION = {"and": [{"attribute": "email_consent", "equals": "true"},
                     {"attribute": "last_order_at", "within_days": 30}]}
DATA = {
    "identifiers": "email_or_id", "environment_id": "ws-7", "clock": NOW,
    "people": [
        {"cio_id": "p1", "id": "1", "email": "one@x.com",
         "attributes": {"email_consent": "true", "last_order_at": str(NOW - DAY)}, "unsubscribed": False},
        {"cio_id": "p2", "id": "2", "email": "two@x.com",
         "attributes": {"email_consent": "true", "last_order_at": str((NOW - DAY) * 1000)}, "unsubscribed": False},
        {"cio_id": "p3", "id": "3", "email": "three@x.com",
         "attributes": {"email_consent": "false", "last_order_at": str(NOW - DAY)}, "unsubscribed": False},
        {"cio_id": "p4", "id": None, "email": "one@x.com",
         "attributes": {"cart_value": "12.50", "email_consent": "true"}, "unsubscribed": False},
    ],
    "segments": [
        {"id": 21, "name": "Consented buyers", "members": ["p1"], "condition": CONDITION},
        {"id": 22, "name": "Manual", "type": "manual", "members": ["p4"]},
    ],
}
BASIC = {"Authorization": "Basic " + base64.b64encode(f"{SITE}:{TRACK_KEY}".encode()).decode()}


@pytest.fixture
def sandbox():
    with Sandbox(Workspace.from_dict(json.loads(json.dumps(DATA))), api_key=APP_KEY, site_id=SITE,
                 track_api_key=TRACK_KEY) as running:
        yield running


def track(sandbox, method: str, path: str, body=None, headers=BASIC) -> requests.Response:
    return requests.request(method, sandbox.url + path, json=body, headers=headers, timeout=5)


def members(sandbox, segment_id: int) -> list[str]:
    page = requests.get(f"{sandbox.url}/v1/segments/{segment_id}/membership",
                        headers={"Authorization": f"Bearer {APP_KEY}"}, timeout=5).json()
    return sorted(person["cio_id"] for person in page["identifiers"])


def profile(sandbox, cio_id: str) -> dict | None:
    found = requests.post(f"{sandbox.url}/v1/customers/attributes", params={"id_type": "cio_id"},
                          json={"ids": [cio_id]}, headers={"Authorization": f"Bearer {APP_KEY}"}, timeout=5).json()
    return found["customers"][0]["customer"] if found["customers"] else None


def test_the_region_call_names_the_workspace_and_only_the_track_credentials_open_it(sandbox):
    answer = track(sandbox, "GET", "/api/v1/accounts/region")
    assert answer.status_code == 200
    assert answer.json() == {"url": sandbox.url, "region": "us", "environment_id": "ws-7"}
    wrong = {"Authorization": "Basic " + base64.b64encode(f"{SITE}:{APP_KEY}".encode()).decode()}
    assert track(sandbox, "GET", "/api/v1/accounts/region", headers=wrong).status_code == 401
    assert track(sandbox, "GET", "/api/v1/accounts/region", headers={"Authorization": f"Bearer {APP_KEY}"}
                 ).status_code == 401
    assert requests.get(sandbox.url + "/v1/segments", headers=BASIC, timeout=5).status_code == 401   # nor the App API


def test_an_update_changes_attributes_and_the_segment_follows(sandbox):
    seconds = NOW - 2 * DAY
    assert track(sandbox, "PUT", "/api/v1/customers/2", {"last_order_at": seconds, "_update": True}).json() == {}
    assert profile(sandbox, "p2")["attributes"]["last_order_at"] == str(seconds)        # stored as text
    assert members(sandbox, 21) == ["p1", "p2"]                                           # seconds match, ms did not
    assert track(sandbox, "PUT", "/api/v1/customers/cio_p1", {"email_consent": False, "_update": True}).ok
    assert profile(sandbox, "p1")["attributes"]["email_consent"] == "false"
    assert members(sandbox, 21) == ["p2"]
    assert members(sandbox, 22) == ["p4"]                                                 # manual: untouched


def test_update_only_never_creates_and_a_missing_cio_id_is_dropped(sandbox):
    assert track(sandbox, "PUT", "/api/v1/customers/99", {"email_consent": True, "_update": True}).status_code == 200
    assert track(sandbox, "PUT", "/api/v1/customers/cio_nobody", {"email_consent": True}).status_code == 200
    assert len(sandbox.workspace) == 4
    assert sandbox.track.failures == ["Failed Attribute Change: no profile with id 99", "no profile cio_nobody: dropped"]


def test_an_identify_that_matches_nobody_creates_the_person_and_segments_take_them_in(sandbox):
    body = {"email": "new@x.com", "email_consent": True, "last_order_at": NOW - 3 * DAY}
    assert track(sandbox, "PUT", "/api/v1/customers/77", body).status_code == 200
    row = sandbox.workspace.find("77")
    person = sandbox.workspace.person(row)
    assert (person.id, person.email, person.attributes) == (
        "77", "new@x.com", {"email": "new@x.com", "email_consent": "true", "last_order_at": str(NOW - 3 * DAY)})
    assert members(sandbox, 21) == sorted(["p1", person.cio_id])


def test_an_id_is_given_through_the_body_email_or_the_cio_id(sandbox):
    assert track(sandbox, "PUT", "/api/v1/customers/cio_p4", {"id": "4", "_update": True}).ok
    assert sandbox.workspace.person(sandbox.workspace.find("4")).cio_id == "p4"
    assert track(sandbox, "PUT", "/api/v1/customers/8", {"email": "three@x.com"}).ok     # path nobody, body p3
    assert sandbox.workspace.find("8") is None                                         # p3 already has id 3: kept
    assert sandbox.track.failures == ["Attribute Update Failure: the id of cio_p3 is kept"]


def test_delete_and_suppress(sandbox):
    assert track(sandbox, "DELETE", "/api/v1/customers/1").json() == {}
    assert profile(sandbox, "p1") is None and members(sandbox, 21) == []
    assert track(sandbox, "DELETE", "/api/v1/customers/1").status_code == 200          # again: nothing to do
    assert track(sandbox, "POST", "/api/v1/customers/cio_p3/suppress").status_code == 200
    assert profile(sandbox, "p3") is None
    assert track(sandbox, "PUT", "/api/v1/customers/3", {"email_consent": True}).status_code == 200
    assert sandbox.workspace.find("3") is None and len(sandbox.workspace) == 2         # suppressed: not re-created


def test_merge_moves_what_the_primary_lacks_and_deletes_the_secondary(sandbox):
    body = {"primary": {"cio_id": "p1"}, "secondary": {"cio_id": "p4"}}
    assert track(sandbox, "POST", "/api/v1/merge_customers", body).json() == {}
    merged = profile(sandbox, "p1")
    assert merged["attributes"] == {"email_consent": "true", "last_order_at": str(NOW - DAY), "cart_value": "12.50"}
    assert profile(sandbox, "p4") is None
    assert members(sandbox, 22) == ["p1"]                                              # its manual segment moved over
    assert track(sandbox, "POST", "/api/v1/merge_customers", body).status_code == 200  # replayed: nothing left to merge
    assert len(sandbox.workspace) == 3
    both = {"primary": {"id": "1", "email": "one@x.com"}, "secondary": {"cio_id": "p2"}}
    refused = track(sandbox, "POST", "/api/v1/merge_customers", both)
    assert refused.status_code == 400 and "exactly one" in refused.json()["meta"]["error"]


def test_a_value_over_1000_bytes_is_refused_and_nothing_changes(sandbox):
    refused = track(sandbox, "PUT", "/api/v1/customers/1", {"note": "x" * 1001, "email_consent": False})
    assert refused.status_code == 400
    assert refused.json() == {"meta": {"errors": ["value for attribute 'note' cannot be longer than 1000 bytes"]}}
    assert profile(sandbox, "p1")["attributes"]["email_consent"] == "true"


def test_requests_record_their_bodies(sandbox):
    track(sandbox, "PUT", "/api/v1/customers/1", {"a": 1})
    (record,) = sandbox.requests_to("/api/v1/customers/1$")
    assert (record.method, record.status, json.loads(record.body)) == ("PUT", 200, {"a": 1})


def test_conditions_read_timestamps_in_whole_seconds_only():
    within = {"attribute": "t", "within_days": 1}
    assert matches(within, {"t": str(NOW - 3600)}, NOW)
    assert not matches(within, {"t": str((NOW - 3600) * 1000)}, NOW)                   # milliseconds: no rule matches
    assert not matches(within, {"t": "2027-01-15T08:00:00Z"}, NOW)
    assert not matches({"attribute": "t", "before_days": 1}, {"t": str(NOW * 1000)}, NOW)
    assert matches({"attribute": "c", "contains": "mask"}, {"c": "cleanser,mask"}, NOW)
    with pytest.raises(ValueError, match=r"condition.and\[1\]: expected \"attribute\" and one of"):
        check({"and": [within, {"attribute": "t", "within": 3}]})


def test_the_demo_segments_conditions_reproduce_their_members_exactly(tmp_path):
    as_of = datetime(2026, 11, 28, 9, 30, tzinfo=timezone.utc)
    demo = build_demo(f"sqlite:///{tmp_path / 'shop.db'}", as_of=as_of, customers=600)
    workspace = Workspace.from_dict(demo.workspace)
    assert workspace.clock == int((as_of - timedelta(minutes=15)).timestamp())
    for segment in workspace.segments:
        listed = sorted(workspace.person(row).cio_id for row in segment.members)
        assert listed, segment.name
        assert sorted(workspace.evaluate(segment)) == listed, segment.name
