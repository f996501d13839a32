"""The sandbox App API, spoken to with plain ``requests`` (no client): does it follow the doc?

The workspace below is small and written out in full, in the JSON shape the demo generator
produces, so each answer can be checked by eye. ``cio1``..``cio4``: cio4 is an email-only
profile (id None), cio2 and cio3 share an email in different case, cio3 is unsubscribed.
Segment 12 holds cio3, cio1, cio4 (in that order); 13 holds cio2; 14 is still building.
"""

from __future__ import annotations

import json
import re
import signal
import subprocess
import sys

import pytest
import requests

from reconcile.sandbox import FAULT_KINDS, RequestRecord, Sandbox, Workspace

KEY = "sandbox-test-key"
AUTH = {"Authorization": f"Bearer {KEY}"}
DATA = {
    "identifiers": "email_or_id",
    "people": [
        {"cio_id": "cio1", "id": "1", "email": "one@x.com", "attributes": {"plan": "gold"}, "unsubscribed": False},
        {"cio_id": "cio2", "id": "2", "email": "Two@X.com", "attributes": {}, "unsubscribed": False},
        {"cio_id": "cio3", "id": "3", "email": "two@x.com", "attributes": {"last_order_at": "1712345678"},
         "unsubscribed": True},
        {"cio_id": "cio4", "id": None, "email": "a+b@x.com", "attributes": {}, "unsubscribed": False},
    ],
    "segments": [
        {"id": 12, "name": "Buyers", "description": "bought", "state": "finished", "progress": None,
         "type": "dynamic", "tags": ["lifecycle"], "created_at": 1700000000, "updated_at": 1700000100,
         "members": ["cio3", "cio1", "cio4"]},
        {"id": 13, "name": "VIP", "description": "", "state": "finished", "progress": None, "type": "manual",
         "tags": None, "created_at": 1700000000, "updated_at": 1700000000, "members": ["cio2"]},
        {"id": 14, "name": "New", "description": "", "state": "build", "progress": 15, "type": "dynamic",
         "tags": None, "created_at": 1700000000, "updated_at": 1700000000, "members": []},
    ],
}


def data(**changes) -> dict:
    return {**json.loads(json.dumps(DATA)), **changes}


@pytest.fixture
def sandbox():
    with Sandbox(Workspace.from_dict(data()), api_key=KEY) as running:
        yield running


def get(sandbox: Sandbox, path: str, headers=AUTH, **params) -> requests.Response:
    return requests.get(sandbox.url + path, params=params, headers=headers, timeout=5, allow_redirects=False)


def post(sandbox: Sandbox, path: str, body, **params) -> requests.Response:
    return requests.post(sandbox.url + path, params=params, json=body, headers=AUTH, timeout=5)


def big_sandbox(members: int, **options) -> Sandbox:
    workspace = Workspace()
    for i in range(members):
        workspace.add_person(f"c{i}", str(i), None)
    workspace.add_segment(1, "big", (f"c{i}" for i in range(members)))
    return Sandbox(workspace, api_key=KEY, **options)


# ---------------------------------------------------------------------- auth and routing


@pytest.mark.parametrize("headers", [{}, {"Authorization": "Bearer wrong"}, {"Authorization": KEY}])
def test_missing_or_wrong_bearer_is_401_with_the_documented_text(sandbox, headers):
    answer = get(sandbox, "/v1/segments", headers=headers)
    assert answer.status_code == 401
    assert answer.json()["errors"][0]["detail"] == ("Unauthorized request. Make sure that you provided the right "
                                                    "credentials.")


@pytest.mark.parametrize("path", ["/v1/nothing", "/v1/segments/12/used_by", "/v2/segments", "/v1/segments/abc"])
def test_unknown_paths_are_404(sandbox, path):
    assert get(sandbox, path).status_code == 404


def test_unknown_segment_is_404_on_every_segment_path(sandbox):
    for path in ["/v1/segments/99", "/v1/segments/99/customer_count", "/v1/segments/99/membership"]:
        assert get(sandbox, path).status_code == 404


# ---------------------------------------------------------------------- segments


def test_segments_are_listed_with_the_documented_fields_and_no_members(sandbox):
    segments = get(sandbox, "/v1/segments").json()["segments"]
    assert [s["id"] for s in segments] == [12, 13, 14]
    assert segments[0] == {"id": 12, "deduplicate_id": "12:1700000100", "name": "Buyers", "description": "bought",
                           "state": "finished", "progress": None, "type": "dynamic", "tags": ["lifecycle"],
                           "created_at": 1700000000, "updated_at": 1700000100}
    assert get(sandbox, "/v1/segments/14").json()["segment"]["progress"] == 15


def test_customer_count(sandbox):
    assert get(sandbox, "/v1/segments/12/customer_count").json() == {"segment_id": 12, "count": 3}


def test_membership_page_shape(sandbox):
    page = get(sandbox, "/v1/segments/12/membership").json()
    assert page == {"segment_id": 12, "ids": ["3", "1", ""], "identifiers": [
        {"email": "two@x.com", "id": "3", "cio_id": "cio3"},
        {"email": "one@x.com", "id": "1", "cio_id": "cio1"},
        {"email": "a+b@x.com", "id": None, "cio_id": "cio4"}]}


def test_id_only_workspace_pages_have_no_email_key():
    with Sandbox(Workspace.from_dict(data(identifiers="id_only")), api_key=KEY) as sandbox:
        page = get(sandbox, "/v1/segments/12/membership").json()
    assert page["identifiers"][0] == {"id": "3", "cio_id": "cio3"}


@pytest.mark.parametrize("end_of_pages, last", [("omit", {}), ("empty", {"next": ""}), ("null", {"next": None})])
def test_paging_follows_next_and_the_last_page_ends_as_configured(end_of_pages, last):
    with Sandbox(Workspace.from_dict(data()), api_key=KEY, end_of_pages=end_of_pages) as sandbox:
        first = get(sandbox, "/v1/segments/12/membership", limit=2).json()
        second = get(sandbox, "/v1/segments/12/membership", limit=2, start=first["next"]).json()
    assert first["ids"] == ["3", "1"] and first["next"]
    assert second["ids"] == [""]
    assert {key: second[key] for key in second if key == "next"} == last


def test_limit_defaults_to_1000_and_is_clamped_to_30000():
    with big_sandbox(30_005, rate_limit=None) as sandbox:
        default = get(sandbox, "/v1/segments/1/membership").json()
        clamped = get(sandbox, "/v1/segments/1/membership", limit=50_000).json()
        rest = get(sandbox, "/v1/segments/1/membership", limit=50_000, start=clamped["next"]).json()
    assert len(default["identifiers"]) == 1000 and default["next"]
    assert len(clamped["identifiers"]) == 30_000 and clamped["identifiers"][-1]["cio_id"] == "c29999"
    assert [p["cio_id"] for p in rest["identifiers"]] == [f"c{i}" for i in range(30_000, 30_005)]
    assert "next" not in rest


@pytest.mark.parametrize("limit", ["0", "-5", "many"])
def test_a_limit_that_is_not_a_positive_integer_is_400(sandbox, limit):
    assert get(sandbox, "/v1/segments/12/membership", limit=limit).status_code == 400


def test_forged_and_foreign_tokens_are_400(sandbox):
    token = get(sandbox, "/v1/segments/12/membership", limit=1).json()["next"]
    with Sandbox(Workspace.from_dict(data()), api_key=KEY) as other:
        foreign = get(other, "/v1/segments/12/membership", limit=1).json()["next"]
    assert get(sandbox, "/v1/segments/12/membership", start=token).status_code == 200
    for bad in [token[:-2] + "AA", "not-a-token", foreign]:
        assert get(sandbox, "/v1/segments/12/membership", start=bad).status_code == 400
    assert get(sandbox, "/v1/segments/13/membership", start=token).status_code == 400   # another segment's


def test_a_million_members_are_served():
    """Memory stays modest (columns, not objects): a 1,000,000-member segment builds and pages."""
    with big_sandbox(1_000_000, rate_limit=None) as sandbox:
        start = sandbox.endpoints.tokens.make(1, 990_000)
        last = get(sandbox, "/v1/segments/1/membership", limit=30_000, start=start).json()
        count = get(sandbox, "/v1/segments/1/customer_count").json()["count"]
    assert count == 1_000_000
    assert len(last["ids"]) == 10_000 and last["ids"][-1] == "999999" and "next" not in last


# ---------------------------------------------------------------------- customers


def test_attributes_batch_returns_known_people_in_order_and_leaves_out_unknown(sandbox):
    answer = post(sandbox, "/v1/customers/attributes", {"ids": ["3", "nobody", "1"]}, id_type="id").json()
    assert answer == {"customers": [
        {"customer": {"id": "3", "identifiers": {"email": "two@x.com", "id": "3", "cio_id": "cio3"},
                      "attributes": {"last_order_at": "1712345678"}, "unsubscribed": True, "devices": []}},
        {"customer": {"id": "1", "identifiers": {"email": "one@x.com", "id": "1", "cio_id": "cio1"},
                      "attributes": {"plan": "gold"}, "unsubscribed": False, "devices": []}}]}


def test_attributes_batch_by_email_and_cio_id(sandbox):
    by_email = post(sandbox, "/v1/customers/attributes", {"ids": ["ONE@x.com "]}, id_type="email").json()
    by_cio = post(sandbox, "/v1/customers/attributes", {"ids": ["cio_cio4", "cio2"]}, id_type="cio_id").json()
    assert [c["customer"]["id"] for c in by_email["customers"]] == ["1"]
    assert [c["customer"]["identifiers"]["cio_id"] for c in by_cio["customers"]] == ["cio4", "cio2"]


@pytest.mark.parametrize("body, id_type", [
    ({"ids": []}, "id"), ({"ids": [str(i) for i in range(101)]}, "id"), ({"people": ["1"]}, "id"),
    ({"ids": ["1"]}, "phone"), ({"ids": ["1"]}, "nickname"),
])
def test_attributes_batch_refuses_bad_requests_with_400(sandbox, body, id_type):
    assert post(sandbox, "/v1/customers/attributes", body, id_type=id_type).status_code == 400


def test_attributes_batch_takes_100_ids(sandbox):
    assert post(sandbox, "/v1/customers/attributes", {"ids": [str(i) for i in range(100)]}).status_code == 200


def test_email_lookups_are_400_in_an_id_only_workspace():
    with Sandbox(Workspace.from_dict(data(identifiers="id_only")), api_key=KEY) as sandbox:
        answer = post(sandbox, "/v1/customers/attributes", {"ids": ["one@x.com"]}, id_type="email")
        by_path = get(sandbox, "/v1/customers/one@x.com/segments", id_type="email")
        by_id = post(sandbox, "/v1/customers/attributes", {"ids": ["1"]}).json()
    assert answer.status_code == by_path.status_code == 400
    assert by_id["customers"][0]["customer"]["identifiers"] == {"id": "1", "cio_id": "cio1"}


def test_customers_by_email_finds_every_profile_case_insensitively(sandbox):
    assert get(sandbox, "/v1/customers", email="TWO@x.com").json() == {"results": [
        {"email": "Two@X.com", "id": "2", "cio_id": "cio2"}, {"email": "two@x.com", "id": "3", "cio_id": "cio3"}]}


def test_a_plus_must_be_percent_encoded(sandbox):
    encoded = requests.get(f"{sandbox.url}/v1/customers?email=a%2Bb@x.com", headers=AUTH, timeout=5).json()
    raw = requests.get(f"{sandbox.url}/v1/customers?email=a+b@x.com", headers=AUTH, timeout=5).json()
    assert [r["cio_id"] for r in encoded["results"]] == ["cio4"]
    assert raw == {"results": []}      # "+" decodes to a space: empty, no error (as documented)
    assert get(sandbox, "/v1/customers").status_code == 400


def test_one_person_attributes_and_segments(sandbox):
    assert get(sandbox, "/v1/customers/1/attributes").json()["customer"]["attributes"] == {"plan": "gold"}
    assert get(sandbox, "/v1/customers/cio3/segments", id_type="cio_id").json() == {
        "segments": [{"id": 12, "name": "Buyers", "description": "bought"}]}
    assert get(sandbox, "/v1/customers/a%2Bb%40x.com/segments", id_type="email").json()["segments"][0]["id"] == 12
    assert get(sandbox, "/v1/customers/2/segments").json()["segments"] == [{"id": 13, "name": "VIP", "description": ""}]
    assert get(sandbox, "/v1/customers/404/attributes").status_code == 404
    assert get(sandbox, "/v1/customers/404/segments").status_code == 404


# ---------------------------------------------------------------------- rate limit and records


@pytest.mark.parametrize("retry_after, header", [(None, "1"), (2, "2"), (0.25, "0.25")])
def test_more_than_the_limit_in_a_second_is_429(retry_after, header):
    with Sandbox(Workspace.from_dict(data()), api_key=KEY, rate_limit=3, retry_after=retry_after) as sandbox:
        with requests.Session() as session:
            answers = [session.get(sandbox.url + "/v1/segments", headers=AUTH, timeout=5) for _ in range(5)]
    # five requests on loopback arrive well within one second: three pass, two are refused
    assert [a.status_code for a in answers] == [200, 200, 200, 429, 429]
    assert answers[3].json()["errors"][0]["detail"] == "Your request is over the 3-per-second limit"
    assert answers[3].headers.get("Retry-After") == header
    assert sandbox.max_requests_per_second() == 5


def test_max_requests_per_second_counts_half_open_windows(sandbox):
    def at(*moments):
        sandbox.requests[:] = [RequestRecord(moment, "GET", "/v1/segments", "", 200) for moment in moments]
        return sandbox.max_requests_per_second()

    assert at() == 0
    assert at(0.0, 1.0, 2.0) == 1                    # exactly one second apart: never in one window
    assert at(0.0, 0.1, 0.2, 1.1, 1.15) == 3          # [0.2, 1.2) holds three
    assert at(5.0, 0.0, 0.5, 0.99) == 3               # order of recording does not matter


def test_every_request_is_recorded_with_its_status(sandbox):
    get(sandbox, "/v1/segments/12/membership", limit=2)
    get(sandbox, "/v1/segments/99")
    assert [(r.method, r.path, r.query, r.status) for r in sandbox.requests] == [
        ("GET", "/v1/segments/12/membership", "limit=2", 200), ("GET", "/v1/segments/99", "", 404)]
    assert sandbox.requests[0].time <= sandbox.requests[1].time


# ---------------------------------------------------------------------- faults


def test_status_fault_with_body_and_headers_fires_times_then_is_spent(sandbox):
    sandbox.inject("status", status=503, path=r"/segments$", times=2, body={"meta": {"error": "down"}},
                   headers={"X-Test": "1"})
    answers = [get(sandbox, "/v1/segments") for _ in range(3)]
    assert [a.status_code for a in answers] == [503, 503, 200]
    assert answers[0].json() == {"meta": {"error": "down"}} and answers[0].headers["X-Test"] == "1"
    assert sandbox.faults.pending() == []


def test_status_fault_defaults_look_like_the_api(sandbox):
    sandbox.inject("status", status=301)
    sandbox.inject("status", status=429)
    moved, limited = get(sandbox, "/v1/segments"), get(sandbox, "/v1/segments")
    assert moved.json() == {"errors": [{"detail": "wrong datacenter", "status": "301"}]}
    assert moved.headers["Location"] == "https://api-eu.customer.io/v1/segments"
    assert limited.json()["errors"][0]["detail"] == "Your request is over the 10-per-second limit"
    assert limited.headers["Retry-After"] == "1"                # as the limit's own 429 carries one


def test_a_fault_only_hits_matching_paths_and_can_wait_its_turn(sandbox):
    sandbox.inject("status", status=500, path=r"/customer_count$", after=1)
    assert get(sandbox, "/v1/segments").status_code == 200
    assert get(sandbox, "/v1/segments/12/customer_count").status_code == 200
    assert get(sandbox, "/v1/segments/12/customer_count").status_code == 500


def test_non_json_fault_is_html(sandbox):
    sandbox.inject("non_json")
    answer = get(sandbox, "/v1/segments")
    assert answer.status_code == 502 and answer.headers["Content-Type"] == "text/html"
    assert answer.text.startswith("<html>")


def test_truncated_json_is_a_consistent_200_with_half_the_body(sandbox):
    whole = get(sandbox, "/v1/segments").content
    sandbox.inject("truncated_json")
    cut = get(sandbox, "/v1/segments")
    assert cut.status_code == 200 and cut.content == whole[: len(whole) // 2]
    with pytest.raises(ValueError):
        cut.json()


def test_reset_closes_the_connection_mid_body(sandbox):
    sandbox.inject("reset")
    with pytest.raises(requests.exceptions.ChunkedEncodingError):
        get(sandbox, "/v1/segments")
    assert get(sandbox, "/v1/segments").status_code == 200


def test_delay_holds_the_answer_past_a_client_timeout(sandbox):
    sandbox.inject("delay", seconds=0.5)
    with pytest.raises(requests.exceptions.ReadTimeout):
        requests.get(sandbox.url + "/v1/segments", headers=AUTH, timeout=0.1)
    assert sandbox.requests[0].status == 0          # recorded on arrival, still being answered


def test_repeat_token_hands_back_the_token_it_was_given(sandbox):
    sandbox.inject("repeat_token", path=r"/membership$")
    first = get(sandbox, "/v1/segments/12/membership", limit=1).json()      # no token given: not fired
    second = get(sandbox, "/v1/segments/12/membership", limit=1, start=first["next"]).json()
    assert second["next"] == first["next"] and second["ids"] == ["1"]


def test_repeat_token_can_hand_back_an_earlier_pages_token(sandbox):
    sandbox.inject("repeat_token", path=r"/membership$", after=1, earlier=1)
    page1 = get(sandbox, "/v1/segments/12/membership", limit=1).json()
    page2 = get(sandbox, "/v1/segments/12/membership", limit=1, start=page1["next"]).json()
    page3 = get(sandbox, "/v1/segments/12/membership", limit=1, start=page2["next"]).json()
    assert page3["next"] == page1["next"]


def test_short_page_drops_members_but_still_gives_next(sandbox):
    sandbox.inject("short_page", path=r"/membership$", drop=2)
    page = get(sandbox, "/v1/segments/12/membership").json()
    after = get(sandbox, "/v1/segments/12/membership", start=page["next"]).json()
    assert page["ids"] == ["3"] and page["next"]
    assert after["ids"] == [] and "next" not in after


def test_count_changes_and_state(sandbox):
    sandbox.inject("count_changes", delta=-1)
    sandbox.inject("state", path=r"/segments/12$")
    assert get(sandbox, "/v1/segments/12/customer_count").json()["count"] == 2
    segment = get(sandbox, "/v1/segments/12").json()["segment"]
    assert (segment["state"], segment["progress"]) == ("build", 40)
    assert get(sandbox, "/v1/segments/12").json()["segment"]["state"] == "finished"


@pytest.mark.parametrize("kind, params", [("explode", {}), ("status", {}), ("delay", {}), ("reset", {"x": 1})])
def test_unknown_faults_and_parameters_are_refused(sandbox, kind, params):
    with pytest.raises(ValueError):
        sandbox.inject(kind, **params)


def test_every_fault_kind_is_documented():
    assert set(FAULT_KINDS) == {"status", "non_json", "truncated_json", "delay", "reset", "repeat_token", "fresh_token_same_page",
                                "short_page", "count_changes", "state"}


# ---------------------------------------------------------------------- workspace


def test_workspace_round_trips_through_dict_and_file(tmp_path):
    workspace = Workspace.from_dict(data())
    assert workspace.to_dict() == DATA
    workspace.save(tmp_path / "ws.json")
    assert Workspace.load(tmp_path / "ws.json").to_dict() == DATA


def test_workspace_lookups():
    workspace = Workspace.from_dict(data())
    assert workspace.find("2") == 1 and workspace.find("4") is None
    assert workspace.find(" TWO@x.com", "email") == 1 and workspace.rows_with_email("two@X.COM") == [1, 2]
    assert workspace.find("cio_cio3", "cio_id") == workspace.find("cio3", "cio_id") == 2
    assert workspace.person(3).id is None and workspace.person(2).unsubscribed is True
    assert [s.id for s in workspace.segments_of(2)] == [12]


@pytest.mark.parametrize("broken, problem", [
    ({"people": [{"cio_id": "x"}, {"cio_id": "x"}]}, "two people have cio_id"),
    ({"people": [{"id": "1"}]}, "people[0] needs a cio_id"),
    ({"people": [], "segments": [{"id": 1, "name": "s", "members": ["ghost"]}]}, "not in people"),
    ({"people": [], "segments": [{"id": 1, "name": "a"}, {"id": 1, "name": "b"}]}, "two segments have id 1"),
    ({"identifiers": "phone_only"}, "identifiers must be one of"),
])
def test_workspace_refuses_inconsistent_data(broken, problem):
    with pytest.raises(ValueError, match=re.escape(problem)):
        Workspace.from_dict(broken)


# ---------------------------------------------------------------------- python -m reconcile.sandbox


def test_the_module_serves_a_workspace_file_until_ctrl_c(tmp_path):
    Workspace.from_dict(data()).save(tmp_path / "ws.json")
    process = subprocess.Popen([sys.executable, "-m", "reconcile.sandbox", "--workspace", str(tmp_path / "ws.json"),
                                "--port", "0", "--api-key", "cli-key"], stdout=subprocess.PIPE, text=True)
    try:
        banner = process.stdout.readline()
        url = banner.split(" at ")[1].split()[0]
        answer = requests.get(url + "/v1/segments/13", headers={"Authorization": "Bearer cli-key"}, timeout=5)
        assert answer.json()["segment"]["name"] == "VIP"
        process.send_signal(signal.SIGINT)
        assert process.wait(timeout=10) == 0
    finally:
        if process.poll() is None:
            process.kill()
            process.wait()


def test_reconcile_sandbox_started_as_a_background_job_stops_on_ctrl_c(tmp_path):
    """``reconcile sandbox`` blocks in the same serve() as the module. A shell starts a background
    job with SIGINT ignored; Ctrl-C (``kill -INT``) must stop it all the same."""
    Workspace.from_dict(data()).save(tmp_path / "ws.json")
    process = subprocess.Popen([sys.executable, "-m", "reconcile", "sandbox", "--workspace", str(tmp_path / "ws.json"),
                                "--port", "0"], stdout=subprocess.PIPE, text=True,
                               preexec_fn=lambda: signal.signal(signal.SIGINT, signal.SIG_IGN))
    try:
        url = process.stdout.readline().split(" at ")[1].strip()
        listed = requests.get(url + "/v1/segments", headers={"Authorization": "Bearer sandbox-key"}, timeout=5)
        process.send_signal(signal.SIGINT)
        stopped = process.wait(timeout=10)
    finally:
        process.kill()     # a no-op once it has stopped
        process.wait()
    assert listed.status_code == 200 and stopped == 0


def test_the_module_reports_an_unreadable_workspace(tmp_path):
    from reconcile.sandbox.__main__ import main

    assert main(["--workspace", str(tmp_path / "missing.json"), "--port", "0"]) == 2
