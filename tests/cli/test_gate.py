"""A gate with one meaning (issue 14, point 5), on SQLite, PostgreSQL and MariaDB: ``reconcile check
SEGMENT`` decides on the segment's diff and the critical failures of the suites it lists
(``[[segments]] checks = [...]``) only, prints one verdict that agrees with its exit code, and
never points at a report it did not write; ``reconcile run`` still runs every suite."""

from __future__ import annotations

import json

from reconcile.cli import main
from reconcile.cli.screens import gate_screen

from built_runs import Spec, make_run, weekly
from known_buyers import AS_OF, CONFIG, base, fill_shop, served
from known_events import load_events

T = int(AS_OF.timestamp()) - 3600
SUITES = {
    "order_completed": 'event = "order_completed"\n[[expectations]]\ntype = "expect_orders_to_be_counted_once"\n',
    "added_to_cart": 'event = "added_to_cart"\n[[expectations]]\ntype = "expect_timestamps_to_be_in_unit"\n',
}
CHECKS = ('\n[checks]\nsuites = "checks"\nengine = "pandas"\n'
          'events_sql = "SELECT event_id, name, customer_id, anonymous_id, timestamp, properties FROM events"\n')


def events() -> list[tuple]:
    """Carts sent in seconds (their suite passes); one order sent twice (a critical failure)."""
    order = '{"order_id": "A-1", "revenue": 10}'
    return [("e1", "added_to_cart", "1", None, T, '{"cart_id": "c1"}'),
            ("e2", "order_completed", "1", None, T + 60, order),
            ("e3", "order_completed", "1", None, T + 90, order)]


def gate(tmp_path, url: str, base_url: str, listed: str | None, *args: str) -> int:
    text = CONFIG.replace('window_column = "last_order_at"',
                          f'window_column = "last_order_at"\nchecks = {listed}' if listed else 'window_column = "last_order_at"')
    config = tmp_path / "config.toml"
    config.write_text(text.format(url=url, base_url=base_url) + CHECKS)
    return main([*args[:1], "--config", str(config), "--as-of", AS_OF.isoformat(), *args[1:]])


def test_the_gate_decides_on_the_segment_and_its_own_suites(any_db_url, tmp_path, capsys):
    rows, people = base()
    fill_shop(any_db_url, rows)
    load_events(any_db_url, events())
    (tmp_path / "checks").mkdir()
    for name, text in SUITES.items():
        (tmp_path / "checks" / f"{name}.toml").write_text(text)
    with served(people) as sandbox:
        assert gate(tmp_path, any_db_url, sandbox.url, '["added_to_cart"]', "check", "buyers") == 0
        safe = capsys.readouterr().out
        assert gate(tmp_path, any_db_url, sandbox.url, '["order_completed", "added_to_cart"]', "check", "buyers") == 1
        blocked = capsys.readouterr().out
        assert gate(tmp_path, any_db_url, sandbox.url, None, "check", "buyers") == 0
        unlisted = capsys.readouterr().out
        assert gate(tmp_path, any_db_url, sandbox.url, '["added_to_cart"]', "run", "--out", str(tmp_path / "out"),
                    "--quiet") == 1
    assert "Safe to launch" in safe and "FAIL" not in safe and "Do not launch" not in safe
    assert "  Data quality of its suites (added_to_cart): 1 expectations, all met." in safe
    assert safe.splitlines()[-1] == "PASS: the segment is within tolerance"
    assert "Safe to launch" not in blocked and blocked.splitlines()[-1] == (
        "FAIL: the segment is within tolerance, 1 critical data-quality check failed")
    assert "  Do not launch: 1 critical data-quality check of its suites failed." in blocked
    assert "    FAIL  order_completed: expect_orders_to_be_counted_once(order_id): 1 of 2 events repeat" in blocked
    assert "this segment lists no suites" in unlisted and unlisted.splitlines()[-1].startswith("PASS")
    results = json.loads((tmp_path / "out" / "results.json").read_text())
    assert sorted(c["suite"] for c in results["checks"]) == ["added_to_cart", "order_completed"]  # run: every suite


def test_a_listed_suite_that_does_not_exist(sqlite_url, tmp_path, capsys):
    rows, people = base()
    fill_shop(sqlite_url, rows)
    (tmp_path / "checks").mkdir()
    (tmp_path / "checks" / "added_to_cart.toml").write_text(SUITES["added_to_cart"])
    with served(people) as sandbox:
        assert gate(tmp_path, sqlite_url, sandbox.url, '["order_complete"]', "check", "buyers") == 2
    assert capsys.readouterr().err == ('reconcile: error: config.toml: segments[0].checks[0]: no suite named '
                                       '"order_complete" in checks/ (the suites: added_to_cart)\n')


def test_more_causes_than_fit_never_point_at_an_unwritten_report(tmp_path):
    five = {c: ("medium", 0.2) for c in ("timestamp_unit", "attribute_stale", "profile_missing", "not_in_shop",
                                          "unexplained")}
    run = make_run([Spec("buyers", 1000, 40, 10, causes=five)], weekly(21))
    unwritten, written = gate_screen(run), gate_screen(run, out=tmp_path)
    assert "report" not in unwritten
    assert "    … and 1 more cause (unexplained; --json has them all)" in unwritten.splitlines()
    assert f"    … and 1 more cause in {tmp_path / 'report.html'}" in written.splitlines()
