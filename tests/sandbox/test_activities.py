"""The sandbox's activity log and the answers the spec types strictly, spoken to with plain ``requests``.

The workspace: ``cio1`` (id 1) holds five purchases (a minute apart), an added_to_cart event and
an attribute change; ``cio4`` is an email-only profile holding one purchase; ``cio2`` holds none.
"""

from __future__ import annotations

import re

import pytest
import requests

from reconcile.sandbox import Sandbox, Workspace

KEY = "sandbox-activities-key"
AUTH = {"Authorization": f"Bearer {KEY}"}
T = 1_795_856_400


def data() -> dict:
    people = [{"cio_id": "cio1", "id": "1", "email": "one@x.com", "attributes": {}, "unsubscribed": False},
              {"cio_id": "cio2", "id": "2", "email": "two@x.com", "attributes": {}, "unsubscribed": False},
              {"cio_id": "cio4", "id": None, "email": "a+b@x.com", "attributes": {}, "unsubscribed": False}]
    activities = [{"cio_id": "cio1", "id": f"act-{n}", "type": "event", "name": "order_completed",
                   "timestamp": T + 60 * n, "data": {"order_id": f"O-{n}", "revenue": 10 + n}} for n in range(5)]
    activities += [{"cio_id": "cio1", "id": "cart", "type": "event", "name": "added_to_cart", "timestamp": T + 600,
                    "data": {"cart_id": "c"}},
                   {"cio_id": "cio1", "id": "attr", "type": "attribute_change", "timestamp": T + 700,
                    "data": {"plan": {"from": "", "to": "gold"}}},
                   {"cio_id": "cio4", "id": "guest", "type": "event", "name": "order_completed", "timestamp": T,
                    "data": {"order_id": "O-9"}}]
    return {"identifiers": "email_or_id", "people": people, "segments": [], "activities": activities}


@pytest.fixture
def sandbox():
    with Sandbox(Workspace.from_dict(data()), api_key=KEY) as running:
        yield running


def get(sandbox: Sandbox, path: str, **params) -> requests.Response:
    return requests.get(sandbox.url + path, params=params, headers=AUTH, timeout=5)


def test_activities_are_served_newest_first_in_the_specs_shape(sandbox):
    page = get(sandbox, "/v1/customers/1/activities", type="event", name="order_completed").json()
    assert [a["id"] for a in page["activities"]] == ["act-4", "act-3", "act-2", "act-1", "act-0"]
    assert page["activities"][0] == {"id": "act-4", "type": "event", "name": "order_completed",
                                     "timestamp": T + 240, "data": {"order_id": "O-4", "revenue": 14},
                                     "customer_id": "1",
                                     "customer_identifiers": {"email": "one@x.com", "id": "1", "cio_id": "cio1"}}
    assert "next" not in page
    everything = get(sandbox, "/v1/customers/1/activities").json()["activities"]
    assert [a["id"] for a in everything] == ["attr", "cart", "act-4", "act-3", "act-2", "act-1", "act-0"]
    assert [a["id"] for a in get(sandbox, "/v1/customers/1/activities", type="attribute_change").json()
            ["activities"]] == ["attr"]
    assert get(sandbox, "/v1/customers/2/activities").json() == {"activities": []}


def test_an_id_less_profiles_activity_has_a_null_customer_id(sandbox):
    (only,) = get(sandbox, "/v1/customers/a%2Bb%40x.com/activities", id_type="email").json()["activities"]
    assert only["customer_id"] is None and only["customer_identifiers"] == {"email": "a+b@x.com", "id": None,
                                                                          "cio_id": "cio4"}


def test_activities_page_with_start_and_next_and_at_most_100(sandbox):
    first = get(sandbox, "/v1/customers/1/activities", type="event", limit=2).json()
    second = get(sandbox, "/v1/customers/1/activities", type="event", limit=2, start=first["next"]).json()
    third = get(sandbox, "/v1/customers/1/activities", type="event", limit=2, start=second["next"]).json()
    assert [[a["id"] for a in p["activities"]] for p in (first, second, third)] == [
        ["cart", "act-4"], ["act-3", "act-2"], ["act-1", "act-0"]]
    assert "next" not in third
    assert len(get(sandbox, "/v1/customers/1/activities").json()["activities"]) == 7     # default 10
    assert get(sandbox, "/v1/customers/1/activities", limit=500).status_code == 200       # clamped to 100
    # a token is this person's: another person's list, or a forged one, is a 400
    assert get(sandbox, "/v1/customers/2/activities", limit=2, start=first["next"]).status_code == 400
    assert get(sandbox, "/v1/customers/1/activities", start="forged").status_code == 400
    assert get(sandbox, "/v1/customers/1/activities", limit="ten").status_code == 400


def test_an_unknown_person_is_404_with_the_documented_text(sandbox):
    answer = get(sandbox, "/v1/customers/404/activities", type="event")
    assert answer.status_code == 404
    assert answer.json() == {"errors": [{"detail": "The customer_id does not exist.", "status": "404"}]}


def test_a_customer_without_an_id_has_no_id_key_rather_than_null(sandbox):
    """The spec types a customer's ``id`` as a string: an id-less profile leaves it out."""
    one = get(sandbox, "/v1/customers/a%2Bb%40x.com/attributes", id_type="email").json()["customer"]
    batch = requests.post(sandbox.url + "/v1/customers/attributes", params={"id_type": "cio_id"},
                          json={"ids": ["cio4", "cio1"]}, headers=AUTH, timeout=5).json()["customers"]
    assert "id" not in one and one["identifiers"]["id"] is None
    assert ["id" in c["customer"] for c in batch] == [False, True] and batch[1]["customer"]["id"] == "1"


def test_the_activity_log_round_trips_and_refuses_strangers(tmp_path):
    workspace = Workspace.from_dict(data())
    assert sorted(workspace.to_dict()["activities"], key=lambda a: a["id"]) == sorted(data()["activities"],
                                                                                    key=lambda a: a["id"])
    workspace.save(tmp_path / "ws.json")
    assert len(Workspace.load(tmp_path / "ws.json").activities) == 8
    with pytest.raises(ValueError, match=re.escape("activities[0] names no known person's cio_id")):
        Workspace.from_dict({**data(), "activities": [{"cio_id": "ghost", "type": "event", "timestamp": T}]})
    with pytest.raises(ValueError, match="needs an integer timestamp"):
        Workspace.from_dict({**data(), "activities": [{"cio_id": "cio1", "type": "event", "timestamp": "soon"}]})
