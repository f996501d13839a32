"""config.toml for the purchases: [purchases] and [checks] max_age_hours, volume_drop."""

from __future__ import annotations

import pytest

from reconcile.config import PurchasesConfig, parse_config
from reconcile.errors import ConfigError

from known_config import MINIMAL_CONFIG

BASE = MINIMAL_CONFIG + "{checks}\n{purchases}\n"
CHECKS = '[checks]\nevents_sql = "SELECT * FROM events"\n'
ORDERS = 'orders_sql = "SELECT order_id, customer_id AS id, completed_at FROM orders"\n'


def config(purchases: str = "", checks: str = CHECKS):
    return parse_config(BASE.format(checks=checks, purchases=purchases), "/tmp/proj/config.toml")


def error(purchases: str = "", checks: str = CHECKS) -> str:
    with pytest.raises(ConfigError) as caught:
        config(purchases, checks)
    assert "\n" not in str(caught.value)
    return str(caught.value)


def test_defaults_are_the_documented_ones():
    loaded = config("[purchases]\n" + ORDERS)
    assert loaded.purchases == PurchasesConfig(
        orders_sql="SELECT order_id, customer_id AS id, completed_at FROM orders", event="order_completed",
        window_days=7, max_latency_seconds=300, revenue_tolerance=0.01, tolerance=0.005, activity_sample=200)
    assert (loaded.checks.max_age_hours, loaded.checks.volume_drop) == (24, 0.5)
    assert config().purchases is None


def test_everything_set():
    loaded = config("[purchases]\n" + ORDERS + 'event = "purchase"\nwindow_days = 3\nmax_latency_seconds = 60\n'
                    "revenue_tolerance = 0\ntolerance = 0.1\nactivity_sample = 0",
                    CHECKS + "max_age_hours = 6\nvolume_drop = 0.25\n")
    purchases = loaded.purchases
    assert (purchases.event, purchases.window_days, purchases.max_latency_seconds) == ("purchase", 3, 60)
    assert (purchases.revenue_tolerance, purchases.tolerance, purchases.activity_sample) == (0, 0.1, 0)
    assert (loaded.checks.max_age_hours, loaded.checks.volume_drop) == (6, 0.25)


@pytest.mark.parametrize("purchases, checks, message", [
    ("[purchases]\nevent = 'x'", CHECKS, "config.toml: purchases.orders_sql: is required"),
    ("[purchases]\n" + ORDERS, "", "config.toml: purchases: compares the orders with the events of [checks]: set "
                                   "checks.events_sql (or checks.events_jsonl) too"),
    ("[purchases]\n" + ORDERS, '[checks]\npeople_sql = "SELECT 1"\n',
     "config.toml: purchases: compares the orders with the events of [checks]: set checks.events_sql "
     "(or checks.events_jsonl) too"),
    ("[purchases]\n" + ORDERS + "tolerance = 5", CHECKS, "config.toml: purchases.tolerance: is a share between 0 "
                                                         "and 1, got 5"),
    ("[purchases]\n" + ORDERS + "activity_sample = -1", CHECKS,
     "config.toml: purchases.activity_sample: expected 0 (off) or a positive number of orders, got -1"),
    ("[purchases]\n" + ORDERS + "activity_sample = 2.5", CHECKS,
     "config.toml: purchases.activity_sample: expected an integer, got 2.5"),
    ("[purchases]\n" + ORDERS + "window_dayz = 3", CHECKS,
     "config.toml: purchases.window_dayz: unknown key (allowed: activity_sample, event, max_latency_seconds, "
     "orders_sql, revenue_tolerance, tolerance, window_days)"),
    ("", CHECKS + "volume_drop = 1.5\n", "config.toml: checks.volume_drop: is a share between 0 and 1, got 1.5"),
    ("", CHECKS + 'max_age_hours = "a day"\n', 'config.toml: checks.max_age_hours: expected a number, got "a day"'),
])
def test_mistakes_are_one_line_naming_the_key(purchases, checks, message):
    assert error(purchases, checks) == message
