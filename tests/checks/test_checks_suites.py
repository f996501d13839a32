"""Suite files and the [checks] section are validated up front: every mistake is one line that
names the file and the expectation (exit 2); nothing runs on a malformed suite."""

from __future__ import annotations

import subprocess
import sys
import textwrap
from pathlib import Path

import pytest

from reconcile.checks import suites_for
from reconcile.checks.suites import load_suite, load_suites
from reconcile.cli import main
from reconcile.config import parse_config
from reconcile.errors import ConfigError

ROOT = Path(__file__).resolve().parents[2]
BASE_CONFIG = """
[database]
url = "sqlite:///shop.db"
[customerio]
app_api_key = "k"
base_url = "http://127.0.0.1:9"
[[segments]]
name = "s"
customerio_segment_id = 1
sql = "SELECT 1 AS id"
"""


def suite_file(folder: Path, name: str, body: str) -> Path:
    folder.mkdir(parents=True, exist_ok=True)
    path = folder / f"{name}.toml"
    path.write_text(textwrap.dedent(body), encoding="utf-8")
    return path


def error_of(path: Path, base: Path) -> str:
    with pytest.raises(ConfigError) as caught:
        load_suite(path, base)
    message = str(caught.value)
    assert "\n" not in message
    return message


@pytest.mark.parametrize("body, expected", [
    ('[[expectations]]\ntype = "expect_column_values_to_be_uniq"\ncolumn = "order_id"\n',
     "checks/order_completed.toml: expectations[0] (expect_column_values_to_be_uniq): unknown expectation type"),
    ('[[expectations]]\ntype = "expect_column_values_to_not_be_null"\ncolumn = "a"\n'
     '[[expectations]]\ntype = "expect_column_values_to_not_be_null"\ncolumn = "b"\n'
     '[[expectations]]\ntype = "expect_column_values_to_be_unique"\ncolumn = "order_id"\nmostly = 2\n',
     "checks/order_completed.toml: expectations[2] (expect_column_values_to_be_unique): "
     "mostly: ensure this value is less than or equal to 1.0"),
    ('[[expectations]]\ntype = "expect_column_values_to_be_unique"\ncolumn = "order_id"\nmostley = 0.9\n',
     "checks/order_completed.toml: expectations[0] (expect_column_values_to_be_unique): mostley: unknown argument"),
    ('[[expectations]]\ntype = "expect_column_values_to_be_unique"\n',
     "checks/order_completed.toml: expectations[0] (expect_column_values_to_be_unique): column: is required"),
    ('[[expectations]]\ntype = "expect_column_values_to_be_between"\ncolumn = "revenue"\n',
     "checks/order_completed.toml: expectations[0] (expect_column_values_to_be_between): "
     "min_value and max_value cannot both be None"),
    ('[[expectations]]\ntype = "expect_column_values_to_be_unique"\ncolumn = "order_id"\nseverity = "fatal"\n',
     "checks/order_completed.toml: expectations[0] (expect_column_values_to_be_unique): severity: "
     "expected \"critical\" or \"warning\", got 'fatal'"),
    ('[[expectations]]\ntype = "expect_column_values_to_be_unique"\ncolumn = "order_id"\non = "lines"\n',
     "checks/order_completed.toml: expectations[0] (expect_column_values_to_be_unique): on: "
     "expected 'events' or 'items', got 'lines'"),
    ('[[expectations]]\ntype = "expect_events_to_follow"\nkey = "cart_id"\n',
     "checks/order_completed.toml: expectations[0] (expect_events_to_follow): after: is required"),
    ('[[expectations]]\ntype = "expect_timestamps_to_be_in_unit"\nunit = "minutes"\n',
     "checks/order_completed.toml: expectations[0] (expect_timestamps_to_be_in_unit): unit: Input should be 's' or 'ms'"),
    ('[[expectations]]\ntype = "expect_orders_to_be_counted_once"\nrevenue = "x"\n',
     "checks/order_completed.toml: expectations[0] (expect_orders_to_be_counted_once): revenue: unknown argument "
     "(allowed: column, mostly, value_column)"),
    ('[[expectations]]\ncolumn = "order_id"\n',
     "checks/order_completed.toml: expectations[0]: type: is required"),
    ('[[expectations]]\ntype = "expect_column_values_to_be_unique"\ncolumn = "order_id"\n]\n',
     "checks/order_completed.toml: not valid TOML"),
    ('expectation = []\n', "checks/order_completed.toml: expectation: unknown key"),
    ('description = "x"\n', "checks/order_completed.toml: expectations: expected at least one [[expectations]] table"),
])
def test_a_malformed_suite_is_one_line_naming_file_and_expectation(tmp_path, body, expected):
    path = suite_file(tmp_path / "checks", "order_completed", body)
    assert error_of(path, tmp_path).startswith(expected)


def test_a_rule_cannot_run_in_a_people_suite(tmp_path):
    path = suite_file(tmp_path / "checks", "people", '[[expectations]]\ntype = "expect_items_to_be_arrays"\n')
    assert error_of(path, tmp_path) == ("checks/people.toml: expectations[0] (expect_items_to_be_arrays): "
                                        "is a rule on events; it cannot run in a people suite")


def test_the_shipped_suites_are_valid():
    suites = load_suites(ROOT / "checks", ROOT)
    assert {s.name for s in suites} == {"product_viewed", "added_to_cart", "checkout_started", "order_completed",
                                        "people"}
    people = next(s for s in suites if s.name == "people")
    assert people.event is None and people.source == "people"
    orders = next(s for s in suites if s.name == "order_completed")
    assert orders.event == "order_completed"
    assert any(e.on == "items" for e in orders.expectations) and any(e.rule for e in orders.expectations)


def test_two_suites_for_one_event_are_refused(tmp_path):
    suite_file(tmp_path / "checks", "orders", 'event = "order_completed"\n[[expectations]]\n'
               'type = "expect_column_values_to_not_be_null"\ncolumn = "order_id"\n')
    suite_file(tmp_path / "checks", "order_completed", '[[expectations]]\n'
               'type = "expect_column_values_to_not_be_null"\ncolumn = "order_id"\n')
    with pytest.raises(ConfigError, match=r"^checks/orders.toml: checks 'order_completed' like "
                                          r"checks/order_completed.toml"):
        load_suites(tmp_path / "checks", tmp_path)


def config_text(checks: str) -> str:
    return BASE_CONFIG + "\n[checks]\n" + textwrap.dedent(checks)


def test_the_checks_section_has_documented_defaults(tmp_path):
    config = parse_config(config_text('events_sql = "SELECT * FROM events"\n'), tmp_path / "config.toml")
    checks = config.checks
    assert checks.suites == tmp_path / "checks" and checks.events_jsonl is None and checks.people_sql is None
    assert (checks.window_days, checks.max_event_ids, checks.sample_size) == (30, 100, 5)
    assert parse_config(BASE_CONFIG, tmp_path / "config.toml").checks is None
    jsonl = parse_config(config_text('events_jsonl = "export/events.jsonl"\nsuites = "qa"\n'), tmp_path / "config.toml")
    assert jsonl.checks.events_jsonl == tmp_path / "export" / "events.jsonl" and jsonl.checks.suites == tmp_path / "qa"


@pytest.mark.parametrize("checks, expected", [
    ('events_sql = "x"\nevents_jsonl = "y"\n', "config.toml: checks.events_jsonl: give events_sql or events_jsonl, not both"),
    ('event_sql = "x"\n', "config.toml: checks.event_sql: unknown key"),
    ('max_event_ids = 0\n', "config.toml: checks.max_event_ids: expected a positive integer, got 0"),
])
def test_checks_section_errors_name_the_key(tmp_path, checks, expected):
    with pytest.raises(ConfigError) as caught:
        parse_config(config_text(checks), tmp_path / "config.toml")
    assert str(caught.value).startswith(expected)


def test_a_suite_needs_its_source_configured(tmp_path):
    suite_file(tmp_path / "checks", "people", '[[expectations]]\ntype = "expect_column_values_to_not_be_null"\n'
               'column = "email"\n')
    config = parse_config(config_text('events_sql = "SELECT 1"\n'), tmp_path / "config.toml")
    with pytest.raises(ConfigError, match=r"^config.toml: checks: checks/people.toml checks people; "
                                          r"set checks.people_sql$"):
        suites_for(config.checks, tmp_path)


def test_the_cli_exits_2_on_a_malformed_suite_before_anything_runs(tmp_path, capsys):
    suite_file(tmp_path / "checks", "order_completed", '[[expectations]]\ntype = "expect_column_values_to_not_be_null"\n'
               'column = "order_id"\n[[expectations]]\ntype = "expect_column_values_to_not_be_null"\ncolumn = "x"\n'
               '[[expectations]]\ntype = "expect_column_values_to_be_uniq"\ncolumn = "order_id"\n')
    (tmp_path / "config.toml").write_text(config_text('events_sql = "SELECT 1"\n'), encoding="utf-8")
    code = main(["run", "--config", str(tmp_path / "config.toml"), "--out", str(tmp_path / "out")])
    err = capsys.readouterr().err.strip()
    assert code == 2
    assert err == ("reconcile: error: checks/order_completed.toml: expectations[2] (expect_column_values_to_be_uniq): "
                   "unknown expectation type")
    assert not (tmp_path / "out").exists()


def test_great_expectations_is_imported_only_when_checks_run(tmp_path):
    """``--help`` and a config without [checks] never import GX (a 3 s, 120 MB import)."""
    (tmp_path / "config.toml").write_text(BASE_CONFIG, encoding="utf-8")
    probe = textwrap.dedent(f"""
        import sys, contextlib, io
        from reconcile.cli import main
        with contextlib.redirect_stdout(io.StringIO()), contextlib.redirect_stderr(io.StringIO()):
            try:
                main(["--help"])
            except SystemExit:
                pass
            help_loaded = "great_expectations" in sys.modules
            main(["run", "--config", {str(tmp_path / "config.toml")!r}, "--out", {str(tmp_path / "out")!r}])
        print(help_loaded, "great_expectations" in sys.modules)
    """)
    done = subprocess.run([sys.executable, "-c", probe], capture_output=True, text=True, cwd=tmp_path, timeout=300)
    assert done.stdout.split() == ["False", "False"], done.stderr
