"""``[customerio]``'s Track API keys: ``site_id``, ``track_api_key`` (only as ``${VAR}``, read when
used, so an audit never needs the write key) and ``max_plan_age_hours``."""

from __future__ import annotations

import pytest

from reconcile.config import parse_config
from reconcile.customerio import track_client_from_settings
from reconcile.errors import ConfigError

BASE = """
[database]
url = "sqlite:///shop.db"
[customerio]
app_api_key = "app-key"
{extra}
[[segments]]
name = "buyers"
customerio_segment_id = 12
sql = "SELECT id FROM customers"
"""


def parse(extra: str):
    return parse_config(BASE.format(extra=extra), "/tmp/proj/config.toml")


def test_defaults_need_no_track_keys():
    settings = parse("").customerio
    assert (settings.site_id, settings.track_api_key_variable, settings.max_plan_age_hours) == (None, None, 24.0)
    with pytest.raises(ConfigError, match=r"^customerio.site_id is not set"):
        track_client_from_settings(settings)


def test_the_key_is_read_from_its_variable_only_when_used(monkeypatch):
    monkeypatch.delenv("TEST_TRACK_KEY", raising=False)
    config = parse('site_id = " site-5 "\ntrack_api_key = "${TEST_TRACK_KEY}"\nmax_plan_age_hours = 6')
    assert (config.customerio.site_id, config.customerio.max_plan_age_hours) == ("site-5", 6.0)
    with pytest.raises(ConfigError) as caught:
        config.customerio.track_api_key()
    assert str(caught.value) == ("customerio.track_api_key: environment variable TEST_TRACK_KEY is not set; "
                                 "export it with the workspace's Track API key")
    monkeypatch.setenv("TEST_TRACK_KEY", "track-secret-77")
    assert config.customerio.track_api_key() == "track-secret-77"
    assert "track-secret-77" in config.secrets() and "track-secret-77" not in repr(config)
    client = track_client_from_settings(config.customerio)
    assert (client.site_id, client.base_url) == ("site-5", "https://track.customer.io")


@pytest.mark.parametrize("extra, expected", [
    ('track_api_key = "literal-key"', 'config.toml: customerio.track_api_key: write it as "${VAR}" and export VAR: '
                                      "a secret is never kept in the file"),
    ("max_plan_age_hours = 0", "config.toml: customerio.max_plan_age_hours: must be above 0 hours, got 0"),
    ('site_id = ""', "config.toml: customerio.site_id: must not be empty"),
])
def test_mistakes_name_the_key(extra, expected):
    with pytest.raises(ConfigError) as caught:
        parse(extra)
    assert str(caught.value) == expected
