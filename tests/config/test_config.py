"""config.toml: every mistake is one line naming the file and the key path."""

from __future__ import annotations

import pytest

from reconcile.config import load_config, parse_config
from reconcile.errors import ConfigError

GOOD = """
[database]
url = "sqlite:///shop.db"

[customerio]
region = "eu"
app_api_key = "${TEST_CIO_KEY}"

[identity]
key = "email"

[[segments]]
name = "buyers"
title = "Buyers"
customerio_segment_id = 12
window_days = 30
tolerance = 0.02
sql = "SELECT id, email FROM customers"

[[segments]]
name = "sms"
customerio_segment_id = 13
sql = "SELECT id FROM customers"
"""


def _error(text: str, monkeypatch=None) -> str:
    with pytest.raises(ConfigError) as caught:
        parse_config(text, "/tmp/proj/config.toml")
    message = str(caught.value)
    assert "\n" not in message
    return message


def test_good_config_parses_with_defaults(monkeypatch):
    monkeypatch.setenv("TEST_CIO_KEY", "secret-key-123")
    config = parse_config(GOOD, "/tmp/proj/config.toml")
    assert config.customerio.app_api_key == "secret-key-123"
    assert config.customerio.region == "eu"
    assert config.customerio.base_url is None
    assert config.identity_key == "email"
    assert [s.name for s in config.segments] == ["buyers", "sms"]
    sms = config.segment("sms")
    assert (sms.window_days, sms.tolerance, sms.title, sms.label) == (30, 0.01, "", "sms")
    # a relative SQLite path is anchored at the config's folder, not the working directory
    assert config.database.url == "sqlite:////tmp/proj/shop.db"
    assert "secret-key-123" not in repr(config)


@pytest.mark.parametrize("old, new, expected", [
    ("customerio_segment_id = 12", 'customerio_segment_id = "abc"',
     'config.toml: segments[0].customerio_segment_id: expected an integer, got "abc"'),
    ("customerio_segment_id = 13", "customerio_segment_id = true",
     "config.toml: segments[1].customerio_segment_id: expected an integer, got true"),
    ("customerio_segment_id = 13", "customerio_segment_id = -3",
     "config.toml: segments[1].customerio_segment_id: expected a positive integer, got -3"),
    ('region = "eu"', 'region = "asia"', "config.toml: customerio.region: expected one of 'us', 'eu', got \"asia\""),
    ('key = "email"', 'key = "phone"', "config.toml: identity.key: expected one of 'id', 'email', got \"phone\""),
    ("tolerance = 0.02", "tolerance = 5", "config.toml: segments[0].tolerance: is a share between 0 and 1, got 5"),
    ("window_days = 30", 'window_days = "30"', 'config.toml: segments[0].window_days: expected a number, got "30"'),
    ('name = "sms"', 'name = "buyers"',
     'config.toml: segments[1].name: "buyers" is already used by segments[0]; segment names must be unique'),
    ('title = "Buyers"', 'titel = "Buyers"', "config.toml: segments[0].titel: unknown key"),
    ('[identity]', '[identiti]', "config.toml: identiti: unknown key"),
    ('sql = "SELECT id FROM customers"', "", "config.toml: segments[1].sql: is required"),
    ('url = "sqlite:///shop.db"', 'url = "not a url"', "config.toml: database.url: is not a SQLAlchemy URL"),
    ('region = "eu"', 'region = "eu"\nbase_url = "ftp://x"', "config.toml: customerio.base_url: expected an http"),
    ('region = "eu"', 'region = "eu"\nrequests_per_second = 50', "config.toml: customerio.requests_per_second: must be above 0 and at most 10"),
])
def test_each_mistake_names_file_and_key_path(monkeypatch, old, new, expected):
    monkeypatch.setenv("TEST_CIO_KEY", "k")
    assert old in GOOD
    assert _error(GOOD.replace(old, new, 1)).startswith(expected)


def test_unset_variable_names_key_and_variable_not_value(monkeypatch):
    monkeypatch.delenv("TEST_CIO_KEY", raising=False)
    assert _error(GOOD) == ("config.toml: customerio.app_api_key: environment variable TEST_CIO_KEY is not set; "
                            "export it or write the value")


def test_malformed_toml_is_one_line():
    message = _error("[database\nurl = 1")
    assert message.startswith("config.toml: not valid TOML:")


def test_no_segments_and_missing_sections():
    assert _error('[database]\nurl="sqlite://"\n[customerio]\napp_api_key="k"\n') == \
        "config.toml: segments: is required"
    assert _error('[customerio]\napp_api_key="k"\n[[segments]]\nname="a"\ncustomerio_segment_id=1\nsql="x"') == \
        "config.toml: database: is required"
    assert _error('database = 3\n[customerio]\napp_api_key="k"') == "config.toml: database: expected a table, got 3"


def test_missing_file(tmp_path):
    with pytest.raises(ConfigError, match="no such file; pass --config PATH"):
        load_config(tmp_path / "nope.toml")


def test_masked_url_hides_password(monkeypatch):
    monkeypatch.setenv("TEST_CIO_KEY", "k")
    monkeypatch.setenv("DB_PASS", "hunter2")
    text = GOOD.replace('url = "sqlite:///shop.db"', 'url = "postgresql+psycopg://shop:${DB_PASS}@db/shop"')
    config = parse_config(text, "config.toml")
    assert "hunter2" not in config.database.masked_url
    assert "hunter2" in config.secrets()
