"""The App API client against the sandbox over real HTTP on loopback.

Ground truth is built here, by rule, so every assertion is exact:

* person ``i`` (0 ≤ i < 70,001) has cio_id ``c0000i``, id ``"0000i"`` (leading zeros kept:
  ids are strings) except when ``i % 10 == 3`` (an email-only profile: id None), and email
  ``P<i>@Example.com`` except when ``i % 10 == 5`` (no email);
* segment 12 holds all of them in a shuffled but fixed order (so "in order" means the API's
  order, not sorted), segment 13 holds people 0-4, segment 14 is empty;
* person 7 has email ``a+b@x.com`` (a ``+`` that must be percent-encoded) and is unsubscribed.

Waits between retries are tiny (``backoff_base=0.01``) or recorded by a fake ``sleep``; no test
asserts how long anything took.
"""

from __future__ import annotations

import email.utils
import random
import threading
from datetime import datetime, timedelta, timezone

import pytest

from oracle import as_lists
from reconcile.customerio import CustomerIOClient, Membership, RateLimiter, Segment, parse_retry_after
from reconcile.errors import (APIUnavailable, AuthError, ConfigError, CustomerIOError, PaginationError, RateLimited,
                              SegmentNotFound, SegmentNotReady, WrongRegionError)
from reconcile.sandbox import Sandbox, Workspace

KEY = "sk-test-7f3a9c21d4"          # must never appear in an error message or repr
PEOPLE = 70_001
SHUFFLED = random.Random(20261128).sample(range(PEOPLE), PEOPLE)


def cio_id(i: int) -> str:
    return f"c{i:06d}"


def person_id(i: int) -> str | None:
    return None if i % 10 == 3 else f"{i:06d}"


def person_email(i: int) -> str | None:
    if i == 7:
        return "a+b@x.com"
    return None if i % 10 == 5 else f"P{i}@Example.com"


def build_workspace(identifiers: str = "email_or_id") -> Workspace:
    workspace = Workspace(identifiers)
    for i in range(PEOPLE):
        workspace.add_person(cio_id(i), person_id(i), person_email(i),
                             {"last_order_at": str(1712345678 + i)}, unsubscribed=(i == 7))
    workspace.add_segment(12, "Purchased in 30 days", [cio_id(i) for i in SHUFFLED], updated_at=1712345678)
    workspace.add_segment(13, "First five", [cio_id(i) for i in range(5)], tags=["vip"])
    workspace.add_segment(14, "Nobody")
    return workspace


@pytest.fixture(scope="module")
def workspace() -> Workspace:
    return build_workspace()


@pytest.fixture
def sandbox(workspace):
    with Sandbox(workspace, api_key=KEY) as running:
        yield running


def make_client(sandbox: Sandbox, **settings) -> CustomerIOClient:
    settings = {"api_key": KEY, "base_url": sandbox.url, "backoff_base": 0.01, "timeout": 5.0, **settings}
    return CustomerIOClient(**settings)


@pytest.fixture
def client(sandbox):
    with make_client(sandbox) as made:
        yield made


def fails(kind: type[Exception], call, *args, **kwargs) -> str:
    """Run ``call``, expect ``kind``, and return its message after checking it is one line without the key."""
    with pytest.raises(kind) as info:
        call(*args, **kwargs)
    message = str(info.value)
    assert KEY not in message and "\n" not in message
    return message


def statuses(sandbox: Sandbox, path: str) -> list[int]:
    return [record.status for record in sandbox.requests_to(path)]


def assert_complete(membership: Membership, order=SHUFFLED) -> None:
    members = as_lists(membership)
    assert members.cio_ids == [cio_id(i) for i in order]
    assert members.ids == [person_id(i) for i in order]
    assert members.emails == [person_email(i) for i in order]
    assert len(membership) == len(order)


# ---------------------------------------------------------------------- membership


def test_membership_returns_every_member_in_the_api_order_over_three_pages(sandbox, client):
    progress = []
    membership = client.segment_membership(12, on_page=lambda page, members: progress.append((page, members)))

    assert_complete(membership)
    assert membership.segment_id == 12 and membership.pages == 3
    assert progress == [(1, 30_000), (2, 60_000), (3, 70_001)]
    queries = [record.query for record in sandbox.requests_to(r"/membership$")]
    assert len(queries) == 3 and queries[0] == "limit=30000"
    assert all(query.startswith("limit=30000&start=") for query in queries[1:])


@pytest.mark.parametrize("end_of_pages", ["omit", "empty", "null"])
def test_every_form_of_the_last_page_ends_paging(workspace, end_of_pages):
    with Sandbox(workspace, api_key=KEY, end_of_pages=end_of_pages) as sandbox, make_client(sandbox) as client:
        assert_complete(client.segment_membership(12))
        assert client.segment_membership(14).pages == 1
        assert len(sandbox.requests_to(r"/membership$")) == 4


def test_small_pages_and_an_empty_segment(client):
    membership = client.segment_membership(13, page_size=2)
    assert membership.pages == 3 and as_lists(membership).cio_ids == [cio_id(i) for i in range(5)]
    empty = client.segment_membership(14)
    assert (len(empty), empty.pages, as_lists(empty).ids) == (0, 1, [])


def test_page_size_is_checked_before_any_request(sandbox, client):
    with pytest.raises(ValueError):
        client.segment_membership(12, page_size=30_001)
    assert sandbox.requests == []


def test_id_only_workspace_gives_no_emails():
    with Sandbox(build_workspace("id_only"), api_key=KEY) as sandbox, make_client(sandbox) as client:
        membership = client.segment_membership(13)
    assert as_lists(membership).emails == [None] * 5
    assert as_lists(membership).ids == [person_id(i) for i in range(5)]


def test_ids_are_read_only_when_identifiers_are_absent(sandbox, client):
    sandbox.inject("status", status=200, path=r"/membership$", body={"segment_id": 12, "ids": ["7", "", "9"]})
    membership = client.segment_membership(12)
    assert as_lists(membership).ids == ["7", None, "9"]
    assert as_lists(membership).emails == [None, None, None] and len(membership) == 3


def test_unknown_keys_are_ignored(sandbox, client):
    page = {"identifiers": [{"email": "x@y.z", "id": "1", "cio_id": "c1", "phone": "+1555", "new": {}}],
            "ids": ["1"], "next": None, "segment_id": 12, "brand_new_field": [1, 2]}
    sandbox.inject("status", status=200, path=r"/membership$", body=page)
    segment = {"id": 12, "name": "n", "description": "d", "state": "finished", "progress": None, "type": "dynamic",
               "tags": None, "updated_at": 5, "deduplicate_id": "12:5", "created_at": 1, "owner": {"x": 1}}
    sandbox.inject("status", status=200, path=r"/segments/12$", body={"segment": segment, "meta": {}})

    assert as_lists(client.segment_membership(12)).cio_ids == ["c1"]
    assert client.get_segment(12) == Segment(12, "n", "d", "finished", None, "dynamic", None, 5)


def test_a_repeated_token_stops_paging(sandbox, client):
    sandbox.inject("repeat_token", path=r"/membership$")
    message = fails(PaginationError, client.segment_membership, 12)
    assert "segment 12" in message and "page 1" in message and "page 2" in message


def test_a_token_from_any_earlier_page_stops_paging(sandbox, client):
    # page 3 hands back the token page 1 gave: not the previous token, an earlier one
    sandbox.inject("repeat_token", path=r"/membership$", after=1, earlier=1)
    message = fails(PaginationError, client.segment_membership, 12, page_size=10_000)
    assert "first given by page 1, again by page 3" in message
    assert len(sandbox.requests_to(r"/membership$")) == 3


def test_the_page_cap_stops_paging_only_when_more_pages_remain(sandbox):
    with make_client(sandbox, max_pages=3) as client:
        assert client.segment_membership(12).pages == 3
    with make_client(sandbox, max_pages=2) as client:
        message = fails(PaginationError, client.segment_membership, 12)
    assert "more than 2 pages" in message and "60,000 members so far" in message


def test_a_short_page_is_passed_on_and_the_count_tells(sandbox, client):
    """The client cannot see a short page; the audit compares customer_count with the list."""
    sandbox.inject("short_page", path=r"/membership$", drop=5)
    assert len(client.segment_membership(12)) == PEOPLE - 5
    assert client.segment_count(12) == PEOPLE


# ---------------------------------------------------------------------- retries


def recorded_sleeps(sandbox: Sandbox, **settings) -> tuple[CustomerIOClient, list[float]]:
    waits: list[float] = []
    return make_client(sandbox, sleep=waits.append, **settings), waits


def test_429_with_retry_after_in_seconds_is_honoured(sandbox):
    client, waits = recorded_sleeps(sandbox)
    sandbox.inject("status", status=429, path=r"/membership$", times=2, headers={"Retry-After": "7"})
    assert_complete(client.segment_membership(12))
    assert waits == [7.0, 7.0]
    assert statuses(sandbox, r"/membership$") == [429, 429, 200, 200, 200]


def test_429_with_retry_after_as_an_http_date_is_honoured_and_capped(sandbox):
    client, waits = recorded_sleeps(sandbox)
    soon = email.utils.format_datetime(datetime.now(timezone.utc) + timedelta(seconds=120), usegmt=True)
    sandbox.inject("status", status=429, path=r"/segments/13$", headers={"Retry-After": soon})
    sandbox.inject("status", status=429, path=r"/segments/13$", headers={"Retry-After": "86400"})
    assert client.get_segment(13).tags == ["vip"]
    assert 100 < waits[0] <= 120 and waits[1] == 300.0


def test_429_without_retry_after_backs_off_exponentially(sandbox):
    client, waits = recorded_sleeps(sandbox, backoff_base=0.5, backoff_cap=1.5)
    sandbox.inject("status", status=429, path=r"/membership$", times=4, headers={})   # no Retry-After
    assert_complete(client.segment_membership(12))
    assert len(waits) == 4
    assert all(0 <= wait <= limit for wait, limit in zip(waits, [0.5, 1.0, 1.5, 1.5]))


def test_the_sandbox_rate_limit_is_survived_with_its_retry_after(workspace):
    """A sandbox stricter than the client (2/s against 10/s) answers 429 with Retry-After; all calls succeed."""
    with Sandbox(workspace, api_key=KEY, rate_limit=2, retry_after=0.3) as sandbox, make_client(sandbox) as client:
        segments = [client.get_segment(13) for _ in range(5)]
    assert {segment.id for segment in segments} == {13}
    assert 429 in statuses(sandbox, r"/segments/13$")
    assert statuses(sandbox, r"/segments/13$").count(200) == 5


@pytest.mark.parametrize("kind, params", [
    ("status", {"status": 500}),
    ("status", {"status": 503, "body": "<html>Service Unavailable</html>"}),
    ("non_json", {}),
    ("truncated_json", {}),
    ("reset", {}),
])
def test_one_bad_answer_is_retried_and_the_result_is_complete(sandbox, client, kind, params):
    sandbox.inject(kind, path=r"/membership$", after=1, **params)   # the second page goes wrong once
    assert_complete(client.segment_membership(12))
    assert len(sandbox.requests_to(r"/membership$")) == 4
    assert sandbox.faults.pending() == []


def test_a_timeout_is_retried_and_the_result_is_complete(sandbox):
    """Small pages here, so that only the delayed answer (1 s) can exceed the 0.3 s timeout."""
    sandbox.inject("delay", path=r"/membership$", after=1, seconds=1.0)
    with make_client(sandbox, timeout=0.3) as client:
        membership = client.segment_membership(13, page_size=2)
    assert as_lists(membership).cio_ids == [cio_id(i) for i in range(5)]
    assert len(sandbox.requests_to(r"/membership$")) == 4 and sandbox.faults.pending() == []


@pytest.mark.parametrize("kind, params, last", [
    ("status", {"status": 503}, "503 Service Unavailable"),
    ("non_json", {}, "502 with a non-JSON body"),
    ("truncated_json", {}, "200 with a body that is not valid JSON"),
    ("reset", {}, "the connection was closed in the middle of the answer"),
    ("delay", {"seconds": 1.0}, "timed out after 0.3 s"),
])
def test_retries_exhausted_is_api_unavailable_saying_what_happened_last(sandbox, kind, params, last):
    sandbox.inject(kind, path=r"/customer_count$", times=3, **params)
    with make_client(sandbox, timeout=0.3, max_retries=2) as client:
        message = fails(APIUnavailable, client.segment_count, 12)
    assert last in message and "after 3 attempts" in message
    assert len(sandbox.requests_to(r"/customer_count$")) == 3


def test_429_on_every_attempt_is_rate_limited(sandbox):
    client, waits = recorded_sleeps(sandbox, max_retries=3)
    sandbox.inject("status", status=429, path=r"/segments$", times=4)
    message = fails(RateLimited, client.list_segments)
    assert "after 4 attempts" in message and "customerio.requests_per_second" in message
    assert len(waits) == 3


def test_nothing_listening_is_api_unavailable(workspace):
    with Sandbox(workspace, api_key=KEY) as sandbox:
        url = sandbox.url
    with CustomerIOClient(api_key=KEY, base_url=url, backoff_base=0.01, max_retries=1) as client:
        message = fails(APIUnavailable, client.list_segments)
    assert "refused" in message


# ---------------------------------------------------------------------- errors that are not retried


def test_wrong_key_is_an_auth_error_naming_what_to_check(sandbox):
    with CustomerIOClient(api_key="not-the-key-" + KEY[::-1], base_url=sandbox.url) as client:
        message = fails(AuthError, client.get_segment, 12)
    assert message == ("Customer.io answered 401 Unauthorized for GET /v1/segments/12: the App API key is wrong or "
                       "belongs to a workspace in the other region; check customerio.app_api_key and customerio.region")
    assert KEY[::-1] not in message
    assert statuses(sandbox, r"/segments/12$") == [401]


def test_403_is_an_auth_error_about_scope(sandbox, client):
    sandbox.inject("status", status=403)
    assert "lacks the scope" in fails(AuthError, client.list_segments)


def test_wrong_datacenter_redirect_is_a_region_error_and_is_not_followed(sandbox, client):
    sandbox.inject("status", status=301, path=r"/membership$")   # body {"errors":[{"detail":"wrong datacenter"}]}
    message = fails(WrongRegionError, client.segment_membership, 12)
    assert "customerio.region" in message
    assert len(sandbox.requests) == 1


def test_a_redirect_elsewhere_is_refused_because_it_would_carry_the_key(sandbox, client):
    sandbox.inject("status", status=302, body="", headers={"Location": "http://127.0.0.2:9/v1/segments"})
    message = fails(CustomerIOError, client.list_segments)
    assert "127.0.0.2" in message and "not followed" in message
    assert len(sandbox.requests) == 1


@pytest.mark.parametrize("call", ["get_segment", "ensure_ready", "segment_count", "segment_membership"])
def test_unknown_segment_is_segment_not_found_naming_the_id(client, call):
    message = fails(SegmentNotFound, getattr(client, call), 99)
    assert message == "Customer.io has no segment 99 (404): check customerio_segment_id in the config"


def test_a_building_segment_is_not_ready(sandbox, client):
    sandbox.inject("state", path=r"/segments/12$")
    message = fails(SegmentNotReady, client.ensure_ready, 12)
    assert '"build"' in message and "40% done" in message and "segment 12" in message
    assert client.ensure_ready(12).state == "finished"


@pytest.mark.parametrize("body, detail", [
    ({"meta": {"error": "id_type is invalid"}}, "id_type is invalid"),
    ({"meta": {"errors": ["first problem", "second problem"]}}, "first problem; second problem"),
    ({"errors": [{"detail": "ids must not be empty", "status": "400"}]}, "ids must not be empty"),
    ("plain\ntext " * 40, ("plain text " * 40)[:200].strip()),
])
def test_other_4xx_carry_the_servers_detail_on_one_line(sandbox, client, body, detail):
    sandbox.inject("status", status=400, body=body)
    message = fails(CustomerIOError, client.customers_attributes, ["1"])
    assert message.startswith("Customer.io answered 400 Bad Request for POST /v1/customers/attributes: ")
    assert detail in message


@pytest.mark.parametrize("path, body, call", [
    (r"/segments/12$", {"segment": {"name": "no id"}}, lambda c: c.get_segment(12)),
    (r"/segments$", [1, 2], lambda c: c.list_segments()),
    (r"/membership$", {"identifiers": "not a list of objects"}, lambda c: c.segment_membership(12)),
    (r"/customer_count$", {"segment_id": 12, "count": "70001"}, lambda c: c.segment_count(12)),
])
def test_an_answer_of_an_unexpected_shape_is_reported_not_a_crash(sandbox, client, path, body, call):
    sandbox.inject("status", status=200, path=path, body=body)
    assert "the API may have changed" in fails(CustomerIOError, call, client)


def test_the_key_is_scrubbed_even_when_the_server_echoes_it(sandbox, client):
    sandbox.inject("status", status=422, body=f"Authorization: Bearer {KEY} is malformed")
    assert "Bearer *** is malformed" in fails(CustomerIOError, client.list_segments)


def test_repr_does_not_show_the_key(client, sandbox):
    assert KEY not in repr(client) and sandbox.url in repr(client)


@pytest.mark.parametrize("key", ["", "   ", "abc\ndef", "clé-secrète"])
def test_an_unusable_key_is_refused_without_echoing_it(key):
    with pytest.raises(ConfigError) as info:
        CustomerIOClient(api_key=key)
    assert (key.strip() or "\0") not in str(info.value)


def test_region_chooses_the_base_url():
    assert CustomerIOClient(api_key=KEY).base_url == "https://api.customer.io"
    assert CustomerIOClient(api_key=KEY, region="eu").base_url == "https://api-eu.customer.io"
    assert CustomerIOClient(api_key=KEY, region="eu", base_url="http://h:1/").base_url == "http://h:1"
    with pytest.raises(ConfigError):
        CustomerIOClient(api_key=KEY, region="apac")


# ---------------------------------------------------------------------- segments and customers


def test_segments_and_counts(client):
    segments = client.list_segments()
    assert [(s.id, s.name, s.state, s.type) for s in segments] == [
        (12, "Purchased in 30 days", "finished", "dynamic"), (13, "First five", "finished", "dynamic"),
        (14, "Nobody", "finished", "dynamic")]
    assert client.get_segment(12).updated_at == 1712345678
    assert [client.segment_count(i) for i in (12, 13, 14)] == [PEOPLE, 5, 0]


def test_customers_attributes_batches_by_100_and_leaves_unknown_ids_out(sandbox, client):
    wanted = [person_id(i) for i in range(300) if person_id(i) is not None][:230] + [f"nobody-{n}" for n in range(20)]
    customers = client.customers_attributes(wanted)

    assert len(wanted) == 250 and len(sandbox.requests_to(r"/customers/attributes$")) == 3
    assert [c["id"] for c in customers] == wanted[:230]
    seven = next(c for c in customers if c["identifiers"]["cio_id"] == cio_id(7))
    assert seven["unsubscribed"] is True and seven["attributes"] == {"last_order_at": "1712345685"}
    assert client.customers_attributes([]) == [] and len(sandbox.requests) == 3


def test_customers_attributes_by_email_and_cio_id(client):
    assert [c["id"] for c in client.customers_attributes(["p1@example.com", "A+B@x.com"], "email")] == ["000001", "000007"]
    assert [c["id"] for c in client.customers_attributes([cio_id(2)], "cio_id")] == ["000002"]
    with pytest.raises(ValueError):
        client.customers_attributes(["1"], "phone")


def test_customers_attributes_by_email_in_an_id_only_workspace_is_a_400():
    with Sandbox(build_workspace("id_only"), api_key=KEY) as sandbox, make_client(sandbox) as client:
        message = fails(CustomerIOError, client.customers_attributes, ["p1@example.com"], "email")
    assert "400" in message and "email is not an identifier in this workspace" in message


def test_customers_by_email_percent_encodes_plus(sandbox, client):
    assert client.customers_by_email("a+b@x.com") == [{"email": "a+b@x.com", "id": "000007", "cio_id": cio_id(7)}]
    assert "a%2Bb%40x.com" in sandbox.requests[-1].query
    assert client.customers_by_email("nobody@x.com") == []


def test_customer_segments_and_a_missing_profile_is_empty(client):
    assert [s["id"] for s in client.customer_segments("000002")] == [12, 13]
    assert [s["id"] for s in client.customer_segments("a+b@x.com", "email")] == [12]
    assert client.customer_segments("merged-away") == []


# ---------------------------------------------------------------------- throttling


def test_a_burst_from_four_threads_stays_within_ten_per_second(sandbox, client):
    errors: list[BaseException] = []

    def ten_calls():
        try:
            for _ in range(10):
                client.segment_count(13)
        except BaseException as exc:  # noqa: BLE001 - reported by the assertion below
            errors.append(exc)

    threads = [threading.Thread(target=ten_calls) for _ in range(4)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert errors == []
    assert len(sandbox.requests) == 40 and set(statuses(sandbox, ".")) == {200}
    assert sandbox.max_requests_per_second() <= 10


def test_retries_pass_through_the_rate_limiter_too(sandbox, client):
    acquired = []
    real_acquire = client.limiter.acquire
    client.limiter.acquire = lambda: (acquired.append(1), real_acquire())[1]
    sandbox.inject("status", status=500, times=3)
    client.list_segments()
    assert len(acquired) == len(sandbox.requests) == 4


class FakeClock:
    def __init__(self):
        self.now = 1000.0
        self.slept: list[float] = []

    def __call__(self) -> float:
        return self.now

    def sleep(self, seconds: float) -> None:
        self.slept.append(seconds)
        self.now += seconds


@pytest.mark.parametrize("rate", [10.0, 2.5, 0.5, 1.0])
def test_rate_limiter_keeps_every_one_second_window_within_the_rate(rate):
    clock = FakeClock()
    limiter = RateLimiter(rate, clock=clock, sleep=clock.sleep)
    starts = []
    for n in range(35):
        limiter.acquire()
        starts.append(clock.now)
        if n == int(rate) - 1:
            assert clock.slept == []          # a burst up to the rate starts at once
        clock.now += 0.013 * (n % 3)          # callers arrive unevenly
    for first in starts:
        assert sum(first <= start < first + 1.0 for start in starts) <= max(1, rate)


def test_rate_limiter_refuses_a_rate_of_zero():
    with pytest.raises(ValueError):
        RateLimiter(0)


def test_parse_retry_after():
    now = datetime(2026, 11, 28, 12, 0, tzinfo=timezone.utc)
    assert parse_retry_after("3", now) == 3.0
    assert parse_retry_after(" 0.5 ", now) == 0.5
    assert parse_retry_after("Sat, 28 Nov 2026 12:00:45 GMT", now) == 45.0
    assert parse_retry_after("Sat, 28 Nov 2026 11:00:00 GMT", now) == 0.0
    assert parse_retry_after("100000", now) == 300.0
    assert parse_retry_after("soon", now) is None and parse_retry_after(None) is None


def test_every_request_carries_the_timeout_and_refuses_redirects():
    """The one unit test with a fake session: kwargs that the sandbox cannot observe."""
    seen = []

    class Response:
        status_code = 200

        def json(self):
            return {"segments": []}

    class Session:
        def request(self, method, url, **kwargs):
            seen.append((method, url, kwargs))
            return Response()

    client = CustomerIOClient(api_key=KEY, region="eu", timeout=12.5, session=Session())
    assert client.list_segments() == []
    method, url, kwargs = seen[0]
    assert (method, url) == ("GET", "https://api-eu.customer.io/v1/segments")
    assert kwargs["timeout"] == 12.5 and kwargs["allow_redirects"] is False
    assert kwargs["headers"]["Authorization"] == f"Bearer {KEY}"
    assert kwargs["headers"]["Accept"] == "application/json"
