"""``reconcile init`` writes a project that ``reconcile validate`` finds green against the demo's
sandbox (real SQLite shop, the sandbox App API over HTTP); a broken project shows each problem on
a line of its own, with the exit code a run would have. ``--config`` defaults to
``$RECONCILE_CONFIG``, else ``./config.toml``."""

from __future__ import annotations

import re

import pytest

from reconcile.checks import SHIPPED_SUITES
from reconcile.cli import main
from reconcile.demo.runner import sandbox_workspace
from reconcile.sandbox import Sandbox

SUITES = sorted(path.name for path in SHIPPED_SUITES.glob("*.toml"))


@pytest.fixture
def project(tmp_path, monkeypatch, capsys):
    """``reconcile init`` in a fresh folder, the demo's shop written where the config reads it, and
    the sandbox serving the demo's workspace; the config's base_url pointed at the sandbox."""
    folder = tmp_path / "audit"
    assert main(["init", str(folder)]) == 0
    written = capsys.readouterr().out
    workspace, key, shop = sandbox_workspace(None, folder / ".reconcile-demo")
    monkeypatch.setenv("CUSTOMERIO_APP_API_KEY", key)
    with Sandbox(workspace, api_key=key) as sandbox:
        config = folder / "config.toml"
        config.write_text(config.read_text().replace('base_url = "http://127.0.0.1:8765"',
                                                     f'base_url = "{sandbox.url}"'))
        yield folder, written, sandbox


def test_init_writes_the_config_the_suites_and_the_schema(project):
    folder, written, _ = project
    files = {str(p.relative_to(folder)) for p in folder.rglob("*") if p.is_file() and ".reconcile-demo" not in p.parts}
    assert files == {"config.toml", "config.schema.json", *(f"checks/{name}" for name in SUITES)}
    assert [line.split(" ", 1)[1] for line in written.splitlines() if line.startswith("wrote ")] == \
        [str(folder / name) for name in ("config.toml", "config.schema.json", *(f"checks/{n}" for n in SUITES))]
    for name in SUITES:
        assert (folder / "checks" / name).read_bytes() == (SHIPPED_SUITES / name).read_bytes()
    text = (folder / "config.toml").read_text()
    assert text.startswith("#:schema ./config.schema.json\n")
    for section in ("[[segments]]", "[diagnosis]", "[checks]", "[email]"):
        assert f"\n{section}\n" in text, section


def test_init_never_overwrites(project, capsys):
    folder, _, _ = project
    (folder / "checks" / "people.toml").write_text("# mine\n")
    before = {p: p.read_bytes() for p in folder.rglob("*") if p.is_file()}
    assert main(["init", str(folder)]) == 2
    err = capsys.readouterr().err
    assert err.startswith(f"reconcile: error: {folder / 'config.toml'}, {folder / 'config.schema.json'}, ")
    assert "already exists; reconcile init never overwrites" in err and err.count("\n") == 1
    assert {p: p.read_bytes() for p in folder.rglob("*") if p.is_file()} == before


def test_init_then_validate_is_green(project, capsys, monkeypatch):
    folder, _, sandbox = project
    monkeypatch.chdir(folder)                     # --config defaults to ./config.toml
    monkeypatch.delenv("RECONCILE_CONFIG", raising=False)
    sandbox.requests.clear()
    assert main(["validate"]) == 0
    lines = capsys.readouterr().out.splitlines()
    assert lines == [
        "ok       config.toml: 1 segment, diagnosis, checks, email",
        f"ok       {len(SUITES)} suites in checks: every expectation is known to Great Expectations or reconcile",
        "ok       [email] is complete (nothing is sent by validate)",
        f"ok       sqlite:///{folder.resolve() / '.reconcile-demo' / 'shop.db'} answers",
        "ok       segment purchased_30d_email_consent: the truth SQL compiles, read-only "
        "(id, email, last_order_at, email_consent)",
        "ok       diagnosis.lookup_sql compiles, read-only (id, email, email_consent, last_order_at)",
        "ok       checks.events_sql compiles, read-only (event_id, name, customer_id, anonymous_id, timestamp, properties)",
        "ok       checks.people_sql compiles, read-only (id, email, created_at, email_consent, sms_consent, last_order_at)",
        'ok       segment purchased_30d_email_consent: Customer.io segment 11 ("Purchased in the last 30 days with '
        'email consent") exists and is finished',
        "valid: 9 checks, no problem; reconcile run would start"]
    # the API was asked about the segment, never paged through
    assert [(r.method, r.path) for r in sandbox.requests] == [("GET", "/v1/segments/11")]


def test_a_broken_config_shows_each_problem_on_its_own_line(project, capsys, monkeypatch):
    folder, _, _ = project
    config = folder / "config.toml"
    text = config.read_text()
    for old, new in (('region = "us"', 'regoin = "us"'), ("customerio_segment_id = 11", 'customerio_segment_id = "11"'),
                     ('to = ["retention@example.com"]', 'to = "retention@example.com"'), ('key = "id"', 'key = "phone"')):
        assert old in text
        text = text.replace(old, new, 1)
    config.write_text(text)
    monkeypatch.setenv("RECONCILE_CONFIG", str(config))          # --config defaults to $RECONCILE_CONFIG
    monkeypatch.chdir(folder.parent)
    assert main(["validate"]) == 2
    assert capsys.readouterr().out.splitlines() == [
        "problem  config.toml: customerio.regoin: unknown key (allowed: app_api_key, base_url, export_above, "
        "max_plan_age_hours, max_retries, membership, region, requests_per_second, site_id, timeout_seconds, "
        "track_api_key)",
        "problem  config.toml: identity.key: expected one of 'id', 'email', got \"phone\"",
        'problem  config.toml: email.to: expected a non-empty list of addresses, got "retention@example.com"',
        'problem  config.toml: segments[0].customerio_segment_id: expected an integer, got "11"',
        "4 problems: fix them and run reconcile validate again (exit 2)"]


def test_what_cannot_be_reached_or_compiled_is_exit_3(project, capsys):
    folder, _, _ = project
    config = folder / "config.toml"
    config.write_text(config.read_text().replace("FROM customers c\nJOIN orders", "FROM customerz c\nJOIN orders", 1)
                      .replace("customerio_segment_id = 11", "customerio_segment_id = 99"))
    assert main(["validate", "--config", str(config)]) == 3
    problems = [line for line in capsys.readouterr().out.splitlines() if line.startswith("problem")]
    assert problems == [
        "problem  segment purchased_30d_email_consent: the truth SQL failed: no such table: customerz; "
        "fix the SQL and try again",
        "problem  segment purchased_30d_email_consent: Customer.io has no segment 99 (404): "
        "check customerio_segment_id in the config"]


def test_a_wrong_key_is_one_line_without_the_key(project, capsys, monkeypatch):
    folder, _, _ = project
    monkeypatch.setenv("CUSTOMERIO_APP_API_KEY", "not-the-sandbox-key-123")
    assert main(["validate", "--config", str(folder / "config.toml")]) == 3
    out = capsys.readouterr().out
    assert re.search(r"^problem  segment purchased_30d_email_consent: Customer.io answered 401 Unauthorized", out, re.M)
    assert "not-the-sandbox-key-123" not in out


def test_the_commented_purchases_section_validates_once_uncommented(project, capsys):
    """The [purchases] ``reconcile init`` writes commented out is valid as it stands, and a query
    without a column the comparison reads is a problem, exit 3."""
    folder, _, _ = project
    config = folder / "config.toml"
    lines = config.read_text().splitlines()
    start = lines.index(next(line for line in lines if line.startswith("# [purchases]")))
    end = next(i for i in range(start, len(lines)) if not lines[i].startswith("#"))
    lines[start:end] = [line[2:] for line in lines[start:end]]
    config.write_text("\n".join(lines) + "\n")
    assert main(["validate", "--config", str(config)]) == 0
    out = capsys.readouterr().out
    assert "ok       config.toml: 1 segment, diagnosis, checks, purchases, email" in out
    assert "ok       purchases.orders_sql compiles, read-only (order_id, id, email, completed_at, revenue)" in out
    config.write_text(config.read_text().replace("o.completed_at, o.revenue", "o.revenue", 1))
    assert main(["validate", "--config", str(config)]) == 3
    assert [line for line in capsys.readouterr().out.splitlines() if line.startswith("problem")] == [
        'problem  purchases.orders_sql returns no column named "completed_at"; it returns order_id, id, email, '
        "revenue; select it AS completed_at"]
