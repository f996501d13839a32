"""The sampled activity log, read from the sandbox over real HTTP: one outcome per order, each
stated below, through the client's one rate limiter and its retries (429 with Retry-After, 5xx,
a person who does not exist).

The workspace (an id-or-email one) and the orders, all of event ``order_completed``:

    order  customer  what Customer.io holds                                        outcome
    A      1         A once, as the shop has it (and other events and activities)   found_once
    B      2         B twice                                                         found_twice
    C      3         C with revenue 1000 (the shop: 10)                              revenue_differs
    D      4         D with a timestamp in milliseconds                              timestamp_unit
    E      5         nothing under 5 (its profile has an old email); E under the
                     email-only profile of the order's email ghost5@x.com            other_profile
    F      6         no profile with id 6 nor with email nobody@x.com (404s)         not_found
    G      7         profile 7 exists, without G; the email names the same profile   not_found
    H      8         H among 250 other purchases: three pages of 100                 found_once
"""

from __future__ import annotations

import pytest

from reconcile.customerio import CustomerIOClient
from reconcile.purchases.activity import newest_first, read_activity, sample_positions
from reconcile.purchases.problems import Order
from reconcile.results import Status, decide_purchases, PurchaseResult
from reconcile.sandbox import Sandbox, Workspace

KEY = "activity-test-key"
T = 1_795_856_400
EXPECTED = {"A": "found_once", "B": "found_twice", "C": "revenue_differs", "D": "timestamp_unit",
            "E": "other_profile", "F": "not_found", "G": "not_found", "H": "found_once"}


def purchase(order_id: str, t: int, revenue: float = 10.0, **data) -> dict:
    return {"type": "event", "name": "order_completed", "timestamp": t, "data": {"order_id": order_id,
                                                                                  "revenue": revenue, **data}}


def workspace() -> Workspace:
    ws = Workspace()
    for n in (1, 2, 3, 4, 7, 8):
        ws.add_person(f"p{n}", id=str(n), email=f"a{n}@x.com")
    ws.add_person("p5", id="5", email="old5@x.com")
    ws.add_person("g5", id=None, email="ghost5@x.com")
    log = ws.activities
    log.add("p1", purchase("A", T))
    log.add("p1", {"type": "event", "name": "added_to_cart", "timestamp": T - 60, "data": {"order_id": "A"}})
    log.add("p1", {"type": "attribute_change", "timestamp": T - 30, "data": {"order_id": "A"}})
    log.add("p2", purchase("B", T))
    log.add("p2", purchase("B", T + 40))
    log.add("p3", purchase("C", T, revenue=1000.0))
    log.add("p4", purchase("D", T * 1000))
    log.add("g5", purchase("E", T))
    for n in range(250):
        log.add("p8", purchase(f"other-{n}", T - 3600 - n))
    log.add("p8", purchase("H", T - 7200))
    return ws


ORDERS = [Order(order_id=o, person=str(c), id=str(c), email=e, revenue=10.0, t=T - i)
          for i, (o, c, e) in enumerate([("A", 1, "a1@x.com"), ("B", 2, "a2@x.com"), ("C", 3, "a3@x.com"),
                                         ("D", 4, "a4@x.com"), ("E", 5, "ghost5@x.com"), ("F", 6, "nobody@x.com"),
                                         ("G", 7, "a7@x.com"), ("H", 8, "a8@x.com")])]


@pytest.fixture
def sandbox():
    with Sandbox(workspace(), api_key=KEY) as running:
        yield running


def client_for(sandbox: Sandbox, **settings) -> CustomerIOClient:
    return CustomerIOClient(api_key=KEY, base_url=sandbox.url, backoff_base=0.01, timeout=5.0, **settings)


def outcomes(result) -> dict[str, str]:
    return {order["order_id"]: order["outcome"] for order in result.orders}


def test_each_order_gets_its_outcome_from_the_activity_log(sandbox):
    with client_for(sandbox) as client:
        result = read_activity(client, ORDERS, "order_completed", "id", 0.01, 0.005)
    assert result.error is None and outcomes(result) == EXPECTED
    by_order = {order["order_id"]: order for order in result.orders}
    assert by_order["E"]["cio_id"] == "g5" and "ghost5@x.com" in by_order["E"]["evidence"]
    assert by_order["C"]["evidence"] == "Customer.io recorded revenue 1000.0, the shop 10.00"
    assert by_order["D"]["evidence"] == f"Customer.io recorded timestamp {T * 1000}: milliseconds, not seconds"
    assert by_order["F"]["evidence"] == "no order_completed activity with this order_id under id 6 nor under email nobody@x.com"
    assert result.outcomes == {"not_found": 2, "other_profile": 1, "found_twice": 1, "revenue_differs": 1,
                               "timestamp_unit": 1, "found_once": 2}
    # every read asked for the purchase events only, 100 at a time; H took three pages
    reads = sandbox.requests_to(r"/activities$")
    assert all("type=event" in r.query and "name=order_completed" in r.query and "limit=100" in r.query for r in reads)
    assert len(sandbox.requests_to(r"/customers/8/activities$")) == 3
    assert [r.status for r in sandbox.requests_to(r"/customers/6/activities$")] == [404]
    assert sandbox.max_requests_per_second() <= 10


def test_the_verdict_counts_the_sampled_orders_that_are_wrong(sandbox):
    with client_for(sandbox) as client:
        result = PurchaseResult(orders=10, problems={}, tolerance=0.5)
        result.activity = read_activity(client, ORDERS, "order_completed", "id", 0.01, 0.75)
    decide_purchases(result)
    assert (result.activity.status, result.status) == (Status.PASS, Status.PASS)      # 6 of 8 wrong: within 75 %
    result.activity.tolerance = 0.5
    decide_purchases(result)
    assert (result.activity.status, result.status) == (Status.FAIL, Status.FAIL)


def test_429_with_retry_after_and_5xx_are_retried_through_the_limiter(sandbox):
    waits: list[float] = []
    sandbox.inject("status", status=429, path=r"/customers/1/activities$", headers={"Retry-After": "2"})
    sandbox.inject("status", status=503, path=r"/customers/2/activities$", times=2)
    sandbox.inject("non_json", path=r"/customers/3/activities$")
    with client_for(sandbox, sleep=waits.append) as client:
        result = read_activity(client, ORDERS, "order_completed", "id", 0.01, 0.005)
    assert result.error is None and outcomes(result) == EXPECTED
    assert [r.status for r in sandbox.requests_to(r"/customers/1/activities$")] == [429, 200]
    assert [r.status for r in sandbox.requests_to(r"/customers/2/activities$")] == [503, 503, 200]
    assert waits[0] == 2.0 and len(waits) == 4 and sandbox.faults.pending() == []


def test_an_api_that_keeps_failing_makes_the_purchases_an_error(sandbox):
    sandbox.inject("status", status=500, path=r"/activities$", times=10)
    with client_for(sandbox, max_retries=2) as client:
        activity = read_activity(client, ORDERS, "order_completed", "id", 0.01, 0.005)
    result = PurchaseResult(orders=10, problems={}, tolerance=0.5, activity=activity)
    decide_purchases(result)
    assert activity.error.startswith("the activity log could not be read: Customer.io gave no usable answer to GET "
                                     "/v1/customers/1/activities after 3 attempts")
    assert (activity.status, result.status) == (Status.ERROR, Status.ERROR) and KEY not in activity.error


def test_with_the_email_key_the_other_identifier_is_the_id(sandbox):
    by_email = [Order(order_id="E", person="ghost5@x.com", id="5", email="ghost5@x.com", revenue=10.0, t=T),
                Order(order_id="A", person="old5@x.com", id="1", email="old5@x.com", revenue=10.0, t=T)]
    with client_for(sandbox) as client:
        result = read_activity(client, by_email, "order_completed", "email", 0.01, 0.005)
    # E is under the profile its email names (found once); A is not under old5@x.com's profile but under id 1
    assert outcomes(result) == {"E": "found_once", "A": "other_profile"}
    assert [r.query.split("id_type=")[1].split("&")[0] for r in sandbox.requests] == ["email", "email", "id"]


def test_the_sample_is_even_and_newest_first():
    assert sample_positions(10, 4) == [0, 2, 5, 7] and sample_positions(3, 5) == [0, 1, 2]
    assert sample_positions(0, 5) == [] and sample_positions(5, 0) == []
    orders = [Order(order_id=f"O{i}", person=None, id=None, email=None, revenue=None, t=T - 100 * i) for i in range(5)]
    orders.append(Order(order_id="O9", person=None, id=None, email=None, revenue=None, t=T))   # a tie: O9 > O0
    assert [o.order_id for o in newest_first(orders, since=T - 300)] == ["O9", "O0", "O1", "O2", "O3"]
