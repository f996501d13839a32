"""What a repair writes for one attribute: seconds never milliseconds, consent only as the shop
records it (never true without a record), nothing for a value the shop does not have."""

from __future__ import annotations

from datetime import datetime, timezone
from decimal import Decimal

import pytest

from reconcile.repair.values import Change, Skip, from_run, initial, repair, unchanged

INSTANT = datetime(2026, 11, 28, 2, 14, 14, tzinfo=timezone.utc)
SECONDS = int(INSTANT.timestamp())


@pytest.mark.parametrize("shop, customerio, expected", [
    (False, "true", Change("email_consent", "true", False)),        # withdrawn in the shop
    (None, "true", Change("email_consent", "true", False)),         # no record of consent: not consent
    (True, "false", Change("email_consent", "false", True)),        # a grant the shop records
    (1, None, Change("email_consent", None, True)),
    (None, "false", None),                                           # no record, and Customer.io says no: agree
    (None, None, None),
    ("maybe", "false", None),                                        # unreadable: never read as a grant
    (False, "false", None),
])
def test_consent_follows_the_shop_and_is_never_granted_without_a_record(shop, customerio, expected):
    assert repair("email_consent", "email_consent", shop, customerio) == expected


@pytest.mark.parametrize("shop, customerio, expected", [
    (INSTANT, str(SECONDS * 1000), Change("last_order_at", str(SECONDS * 1000), SECONDS)),      # ms → the shop's s
    (None, str(SECONDS * 1000 + 999), Change("last_order_at", str(SECONDS * 1000 + 999), SECONDS)),  # no shop: ms // 1000
    (INSTANT.isoformat(), str(SECONDS - 86_400), Change("last_order_at", str(SECONDS - 86_400), SECONDS)),
    (INSTANT.replace(tzinfo=None), None, Change("last_order_at", None, SECONDS)),    # naive is UTC
    (SECONDS * 1000, str(SECONDS), Skip("last_order_at", "Customer.io holds seconds already; the shop keeps "
                                                         "milliseconds")),
    (None, str(SECONDS), Skip("last_order_at", "the shop has no value, and removing an attribute is unconfirmed "
                                               "upstream")),
    (INSTANT, str(SECONDS), None),
])
def test_timestamps_are_whole_seconds(shop, customerio, expected):
    assert repair("last_order_at", "last_order_at", shop, customerio) == expected


def test_other_values_keep_their_type():
    assert repair("orders", "orders_count", 7, "6") == Change("orders_count", "6", 7)
    assert repair("ltv", "lifetime_value", Decimal("120.50"), "99.00") == Change("lifetime_value", "99.00", "120.50")
    assert repair("phone", "phone", " +15551234 ", None) == Change("phone", None, "+15551234")
    assert repair("plan", "plan", "gold", " gold ") is None
    assert (initial("x_consent", "x_consent", None), initial("x_consent", "x_consent", "yes")) == (None, True)
    assert (initial("score", "score", 3.0), initial("score", "score", 2.5)) == (3, 2.5)


def test_what_the_run_saw_is_read_back_and_compared_with_the_shop_now():
    assert from_run("2026-11-28 02:14:14 UTC (1795832054)") == 1795832054
    assert from_run("(none)") is None and from_run("") is None and from_run("gold") == "gold"
    assert unchanged("last_order_at", "last_order_at", f"2026-11-28 02:14:14 UTC ({SECONDS})", INSTANT)
    assert not unchanged("last_order_at", "last_order_at", f"x ({SECONDS})", INSTANT.replace(hour=5))
    assert unchanged("email_consent", "email_consent", "false", 0)
    assert not unchanged("email_consent", "email_consent", "false", 1)
    assert unchanged("phone", "phone", "(none)", None) and not unchanged("phone", "phone", "(none)", "+1555")
    assert unchanged("orders", "orders", "7", 7.0) and not unchanged("plan", "plan", "gold", "silver")
