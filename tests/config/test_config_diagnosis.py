"""config.toml for the diagnosis: [diagnosis] and per segment compare, window_column, lookup_sql."""

from __future__ import annotations

import pytest

from reconcile.config import DiagnosisConfig, parse_config
from reconcile.errors import ConfigError

BASE = """
[database]
url = "sqlite:///shop.db"
[customerio]
app_api_key = "k"
{diagnosis}
[[segments]]
name = "buyers"
customerio_segment_id = 12
sql = "SELECT id, last_order_at FROM customers"
{segment}
"""


def config(diagnosis: str = "", segment: str = ""):
    return parse_config(BASE.format(diagnosis=diagnosis, segment=segment), "/tmp/proj/config.toml")


def error(diagnosis: str = "", segment: str = "") -> str:
    with pytest.raises(ConfigError) as caught:
        config(diagnosis, segment)
    assert "\n" not in str(caught.value)
    return str(caught.value)


def test_defaults_are_the_documented_ones():
    loaded = config()
    assert loaded.diagnosis == DiagnosisConfig(enabled=True, max_people=2000, boundary_grace_seconds=3600,
                                               window_edge_counts=False, lookup_sql=None)
    segment = loaded.segments[0]
    assert segment.compare == () and segment.window_column is None and segment.lookup_sql is None


def test_everything_set():
    loaded = config('[diagnosis]\nmax_people = 50\nboundary_grace_seconds = 600\nwindow_edge_counts = true\n'
                    'lookup_sql = "SELECT id FROM customers WHERE id IN :ids"\nenabled = false',
                    'window_column = "last_order_at"\nlookup_sql = "SELECT 1 WHERE 1 IN :ids"\n'
                    '[segments.compare]\nlast_order_at = "last_order_at"\nemail_consent = "consent"')
    assert loaded.diagnosis.max_people == 50 and loaded.diagnosis.window_edge_counts is True
    assert loaded.diagnosis.enabled is False and loaded.diagnosis.boundary_grace_seconds == 600
    segment = loaded.segments[0]
    assert segment.compare == (("last_order_at", "last_order_at"), ("email_consent", "consent"))
    assert segment.window_column == "last_order_at" and "IN :ids" in segment.lookup_sql


@pytest.mark.parametrize("diagnosis, segment, expected", [
    ("[diagnosis]\nmax_samples = 5", "", "config.toml: diagnosis.max_samples: unknown key"),
    ("[diagnosis]\nmax_people = 0", "", "config.toml: diagnosis.max_people: expected a positive integer, got 0"),
    ("[diagnosis]\nwindow_edge_counts = \"no\"", "", "config.toml: diagnosis.window_edge_counts: expected true or false"),
    ("[diagnosis]\nboundary_grace_seconds = -1", "", "config.toml: diagnosis.boundary_grace_seconds: must not be negative"),
    ("", "[segments.compare]\nlast_order_at = 3", "config.toml: segments[0].compare.last_order_at: expected a string, got 3"),
    ("", "window_colum = \"x\"", "config.toml: segments[0].window_colum: unknown key"),
    ("", "compare = \"last_order_at\"", "config.toml: segments[0].compare: expected a table"),
])
def test_mistakes_are_one_line_naming_the_key(diagnosis, segment, expected):
    assert error(diagnosis, segment).startswith(expected)
