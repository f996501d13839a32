"""The config's JSON Schema comes from the loader's own key definitions: the shipped copy is what
``reconcile schema`` prints, the shipped and demo configs validate, and on good and bad examples
the schema and the loader give the same verdict."""

from __future__ import annotations

import json
import tomllib
from importlib import resources

import jsonschema
import pytest

from reconcile.cli import main
from reconcile.config import parse_config
from reconcile.config.schema import config_schema
from reconcile.errors import ConfigError

from known_config import MINIMAL_CONFIG

VALIDATOR = jsonschema.Draft202012Validator(config_schema())

GOOD = MINIMAL_CONFIG

EMAIL = '[email]\nsmtp_host = "smtp.example.com"\nfrom = "r@example.com"\nto = ["a@example.com"]\n'


def loader_accepts(text: str) -> bool:
    try:
        parse_config(text, "/tmp/proj/config.toml")
    except ConfigError:
        return False
    return True


def schema_accepts(text: str) -> bool:
    return VALIDATOR.is_valid(tomllib.loads(text))


def test_the_shipped_copy_is_what_reconcile_schema_prints(capsys):
    shipped = json.loads(resources.files("reconcile.config").joinpath("config.schema.json").read_text())
    assert main(["schema"]) == 0
    printed = json.loads(capsys.readouterr().out)
    assert printed == config_schema()
    assert shipped == printed, "regenerate it: python -m reconcile schema > reconcile/config/config.schema.json"
    jsonschema.Draft202012Validator.check_schema(printed)


def test_the_demo_and_init_configs_validate():
    for package in ("reconcile.demo", "reconcile.init"):
        text = resources.files(package).joinpath("config.toml").read_text()
        assert list(VALIDATOR.iter_errors(tomllib.loads(text))) == [], package


GOOD_EXAMPLES = [
    GOOD,
    GOOD.replace('app_api_key = "k"', 'app_api_key = "k"\nregion = "eu"\nrequests_per_second = 10\nmembership = "auto"'),
    GOOD + 'title = "Buyers"\nwindow_days = 0.5\ntolerance = 1\ndiff = "database"\n[segments.compare]\nlast_order_at = "x"\n',
    GOOD + EMAIL + 'ssl = true\nusername = "u"\npassword = "${SMTP_PASSWORD}"\n',
    GOOD + EMAIL + 'starttls = false\nsmtp_port = 25\nsend = "on_failure"\n',
    GOOD + '[slack]\nwebhook_url = "${SLACK_WEBHOOK_URL}"\nsend = "on_failure"\n',
    GOOD + '[webhook]\nurl = "https://hooks.example.com/reconcile"\ntimeout_seconds = 5\n',
    GOOD + '[checks]\nevents_jsonl = "events.jsonl"\nengine = "pandas"\n',
    GOOD + 'checks = ["order_completed"]\n[checks]\nevents_jsonl = "events.jsonl"\n',
    GOOD + "checks = []\n",
    GOOD + '[history]\nkeep_runs = 0\n[diagnosis]\nenabled = false\nmax_people = 5\n',
    'diff = "memory"\n' + GOOD + '[identity]\nkey = "email"\n',
]

BAD_EXAMPLES = [
    GOOD.replace("customerio_segment_id = 12", 'customerio_segment_id = "12"'),
    GOOD.replace("customerio_segment_id = 12", "customerio_segment_id = 0"),
    GOOD.replace('name = "buyers"', 'name = "two words"'),
    GOOD.replace('app_api_key = "k"', 'app_api_key = "k"\nregoin = "us"'),
    GOOD.replace('app_api_key = "k"', 'app_api_key = "k"\nregion = "asia"'),
    GOOD.replace('app_api_key = "k"', 'app_api_key = "k"\nbase_url = "ftp://x"'),
    GOOD.replace('app_api_key = "k"', 'app_api_key = "k"\nrequests_per_second = 11'),
    GOOD.replace('app_api_key = "k"', 'app_api_key = "k"\nrequests_per_second = 0'),
    GOOD.replace('app_api_key = "k"', ""),
    GOOD.replace('url = "sqlite:///shop.db"', 'url = "not a url"'),
    GOOD.replace('sql = "SELECT id FROM customers"', 'sql = "   "'),
    GOOD + "tolerance = 1.5\n",
    GOOD + "window_days = -1\n",
    GOOD + "window_days = 40000\n",
    GOOD + '[segments.compare]\nlast_order_at = 3\n',
    GOOD.split("[[segments]]")[0],
    GOOD.split("[[segments]]")[0] + "segments = []\n",
    GOOD + EMAIL + "ssl = true\nstarttls = true\n",
    GOOD + EMAIL + 'password = "${SMTP_PASSWORD}"\n',
    GOOD + EMAIL + 'username = "u"\npassword = "hunter2"\n',
    GOOD + EMAIL.replace('to = ["a@example.com"]', 'to = []'),
    GOOD + EMAIL.replace('"a@example.com"', '"not an address"'),
    GOOD + EMAIL + 'send = "sometimes"\n',
    GOOD + '[slack]\nwebhook_url = "https://hooks.slack.com/services/T0/B0/xyz"\n',
    GOOD + '[webhook]\nurl = "hooks.example.com"\n',
    GOOD + '[checks]\nevents_sql = "SELECT 1"\nevents_jsonl = "e.jsonl"\n',
    GOOD + '[checks]\nengine = "spark"\n',
    GOOD + 'checks = ["order_completed"]\n',                  # names suites, but there is no [checks]
    GOOD + 'checks = "order_completed"\n',
    GOOD + "[history]\nkeep_runs = -1\n",
    GOOD + "[diagnosis]\nenabled = 1\n",
    'diff = "disk"\n' + GOOD,
    "database = 3\n" + GOOD.split("[database]")[1].split("\n", 2)[2],
]


@pytest.mark.parametrize("text", GOOD_EXAMPLES)
def test_good_examples_pass_both(text, monkeypatch):
    monkeypatch.setenv("SMTP_PASSWORD", "pw")
    monkeypatch.setenv("SLACK_WEBHOOK_URL", "https://hooks.slack.com/services/T0/B0/xyz")
    assert loader_accepts(text) and schema_accepts(text)


@pytest.mark.parametrize("text", BAD_EXAMPLES)
def test_bad_examples_fail_both(text):
    assert not loader_accepts(text)
    assert not schema_accepts(text)


def test_what_the_schema_cannot_say_is_written_down():
    """Names unique, variables set: only the loader can tell (the schema module says so)."""
    twice = GOOD + '[[segments]]\nname = "buyers"\ncustomerio_segment_id = 13\nsql = "SELECT 1 AS id"\n'
    assert schema_accepts(twice) and not loader_accepts(twice)
    import reconcile.config.schema as module
    assert "segment names are unique" in module.__doc__
