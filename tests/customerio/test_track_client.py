"""The Track API client against the sandbox over real HTTP: Basic auth, the workspace check,
writes, and the App client's retries and errors (429 with Retry-After, 5xx, 401, 400), with
messages and logs that name the call by its label and never hold the key or the person."""

from __future__ import annotations

import logging

import pytest

from reconcile.customerio import TrackClient
from reconcile.errors import APIUnavailable, AuthError, BadRequest, ConfigError, RateLimited, WrongRegionError
from reconcile.sandbox import Sandbox, Workspace

SITE, KEY = "site-9", "track-Xc72Lq0Pw3"
LABEL = "PUT /api/v1/customers/…"
EMAIL_PATH = "/api/v1/customers/jane%40shop.example"


@pytest.fixture
def sandbox():
    workspace = Workspace("email_or_id", environment_id="env-31")
    workspace.add_person("c1", "1", "jane@shop.example", {"plan": "gold"})
    with Sandbox(workspace, api_key="app-key", site_id=SITE, track_api_key=KEY) as running:
        yield running


def client(sandbox, **settings) -> TrackClient:
    return TrackClient(**{"site_id": SITE, "api_key": KEY, "base_url": sandbox.url, "backoff_base": 0.01,
                          "timeout": 5.0, **settings})


def fails(kind, call, *args, **kwargs) -> str:
    with pytest.raises(kind) as caught:
        call(*args, **kwargs)
    return str(caught.value)


def test_region_names_the_workspace_the_credentials_write_to(sandbox):
    with client(sandbox) as track:
        assert track.workspace() == {"region": "us", "environment_id": "env-31", "url": sandbox.url}
    assert repr(track) == f"TrackClient(base_url={sandbox.url!r}, region='us')"


def test_a_write_reaches_the_profile(sandbox):
    with client(sandbox) as track:
        assert track.send("PUT", EMAIL_PATH, {"plan": "silver", "_update": True}, label=LABEL) == {}
    assert sandbox.workspace.person(0).attributes == {"plan": "silver"}


def test_the_hosts_follow_the_region():
    assert TrackClient(site_id=SITE, api_key=KEY).base_url == "https://track.customer.io"
    assert TrackClient(site_id=SITE, api_key=KEY, region="eu").base_url == "https://track-eu.customer.io"


def test_a_429_storm_is_waited_out_with_retry_after(sandbox):
    waits = []
    sandbox.inject("status", status=429, path=r"^/api/v1/customers/", times=3, headers={"Retry-After": "0.05"})
    with client(sandbox, sleep=waits.append) as track:
        track.send("PUT", EMAIL_PATH, {"plan": "bronze"}, label=LABEL)
    assert waits == [0.05, 0.05, 0.05]
    assert [r.status for r in sandbox.requests] == [429, 429, 429, 200]


def test_429_on_every_attempt_is_rate_limited(sandbox):
    sandbox.inject("status", status=429, times=4)
    with client(sandbox, max_retries=3, sleep=lambda s: None) as track:
        message = fails(RateLimited, track.send, "PUT", EMAIL_PATH, {}, label=LABEL)
    assert message.startswith(f"Customer.io still answered 429 (over the per-second limit) to {LABEL} after 4 attempts")


def test_5xx_exhausted_says_what_happened_and_logs_only_the_label(sandbox, caplog):
    sandbox.inject("status", status=503, times=3)
    with caplog.at_level(logging.WARNING), client(sandbox, max_retries=2) as track:
        message = fails(APIUnavailable, track.send, "PUT", EMAIL_PATH, {"plan": "x"}, label=LABEL)
    assert message.startswith(f"Customer.io gave no usable answer to {LABEL} after 3 attempts (last: 503")
    assert LABEL in caplog.text and "jane" not in caplog.text and "jane" not in message


def test_wrong_credentials_are_an_auth_error_without_the_key(sandbox):
    with client(sandbox, api_key="wrong-" + KEY[::-1]) as track:
        message = fails(AuthError, track.workspace)
    assert message == ("Customer.io answered 401 for GET /api/v1/accounts/region: the Site ID or Track API key is "
                       "wrong, lacks write access, or belongs to a workspace in the other region; check "
                       "customerio.site_id, customerio.track_api_key and customerio.region")
    assert KEY[::-1] not in message


def test_a_400_is_a_bad_request_with_the_servers_words_and_the_key_scrubbed(sandbox):
    sandbox.inject("status", status=400, body={"meta": {"errors": [f"bad key {KEY} for value"]}})
    with client(sandbox) as track:
        with pytest.raises(BadRequest) as caught:
            track.send("PUT", EMAIL_PATH, {"plan": "y"}, label=LABEL)
    assert caught.value.status == 400
    assert str(caught.value) == f"Customer.io answered 400 Bad Request for {LABEL}: bad key *** for value"
    assert len(sandbox.requests) == 1                                            # a 400 is not retried


def test_a_wrong_datacenter_is_never_followed(sandbox):
    sandbox.inject("status", status=301, headers={"Location": "https://track-eu.customer.io/api/v1/accounts/region"})
    with client(sandbox) as track:
        assert "customerio.region" in fails(WrongRegionError, track.workspace)
    assert len(sandbox.requests) == 1


@pytest.mark.parametrize("site, key, said", [
    ("", KEY, "customerio.site_id is empty"),
    ("a:b", KEY, "contains ':'"),
    (SITE, "two words", "customerio.track_api_key contains spaces"),
])
def test_unusable_credentials_are_refused_before_any_request(site, key, said):
    with pytest.raises(ConfigError) as caught:
        TrackClient(site_id=site, api_key=key)
    assert said in str(caught.value)


def test_only_writes_to_the_track_api_are_sent(sandbox):
    with client(sandbox) as track, pytest.raises(ValueError, match="not a Track API write"):
        track.send("GET", "/v1/segments")
    assert sandbox.requests == []


def test_429_with_no_retry_after_and_no_per_second_words_is_a_quota(sandbox):
    sandbox.inject("status", status=429, times=4, headers={}, body={"meta": {"error": "Daily request quota exceeded"}})
    with client(sandbox, max_retries=3, sleep=lambda s: None) as track:
        message = fails(RateLimited, track.send, "PUT", EMAIL_PATH, {}, label=LABEL)
    assert message == (f"Customer.io answered 429 to {LABEL} on all 4 attempts with no Retry-After and without naming "
                       "the per-second limit (last: 429 Too Many Requests (a quota: Daily request quota exceeded)): a "
                       "quota beyond the per-second limit (daily or plan) is used up; check the workspace's API usage "
                       "in Customer.io, then re-run once it resets")
