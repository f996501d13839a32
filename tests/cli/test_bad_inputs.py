"""The bad-input table (README "When something is wrong"): each mistake through ``reconcile run``.

Every row asserts the exit code, the exact shape of the one line that says what is wrong and
what to do, that no traceback was printed or logged, and that no secret (the App API key, the
database password, the SMTP password) appears anywhere in the output. Configuration mistakes
stop the run before it starts (stderr, exit 2); a segment that cannot be compared is an
``ERROR`` line of the summary (exit 3); a report that cannot be emailed is exit 4.
"""

from __future__ import annotations

import logging
import re
import subprocess
import sys

import pytest

from reconcile.cli import main

from smtp import free_port, smtp_server
from known_stage import (BUILDING, BUYERS, EMPTY, FIRST_THREE, KEY, config_text, fast_retries, sandbox,  # noqa: F401
                   segment_line, stage, write_config)

DB_PASSWORD = "db-pw-Qm3Tn8Vy"
SMTP_PASSWORD = "smtp-pw-Hj5Rc2Wd"
SECRETS = (KEY, DB_PASSWORD, SMTP_PASSWORD)
pytestmark = [pytest.mark.usefixtures("fast_retries"),
              pytest.mark.filterwarnings("ignore:Requiring AUTH while not requiring TLS")]


def run(tmp_path, capsys, caplog, text: str, *extra: str) -> tuple[int, str, str]:
    """``reconcile run`` on this config text; (exit code, stdout, stderr) after the common checks."""
    config = tmp_path / "config.toml"
    config.write_text(text, encoding="utf-8")
    with caplog.at_level(logging.WARNING):
        code = main(["run", "--config", str(config), "--out", str(tmp_path / "out"), *extra])
    out, err = capsys.readouterr()
    logged = "\n".join(caplog.messages)
    for stream in (out, err, logged):
        assert "Traceback" not in stream
        assert not any(secret in stream for secret in SECRETS)
    assert not [record for record in caplog.records if record.exc_info]
    return code, out, err


def error_line(err: str) -> str:
    lines = err.splitlines()
    assert len(lines) == 1, err
    assert lines[0].startswith("reconcile: error: ")
    return lines[0][len("reconcile: error: "):]


def segment_error(out: str) -> str:
    match = re.fullmatch(r"buyers\s+ERROR\s+(.+)", segment_line(out))
    assert match, out
    assert out.splitlines()[-1].startswith("ERROR: 0 failed, 1 could not be compared, 0 passed")
    return match.group(1)


# --------------------------------------------------------------------------- configuration: exit 2

CONFIG_ROWS = {
    "malformed TOML": (
        lambda t: t.replace("[customerio]", "[customerio"),
        r"config\.toml: not valid TOML: Expected '\]' at the end of a table declaration \(at line \d+, column \d+\); "
        r"fix the file there"),
    "unknown key": (
        lambda t: t.replace("max_retries = 3", "max_retries = 3\nregoin = \"eu\""),
        r"config\.toml: customerio\.regoin: unknown key \(allowed: app_api_key, base_url, [a-z_, ]*region, [a-z_, ]+\)"),
    "missing ${VAR}": (
        lambda t: t.replace(KEY, "${RECONCILE_TEST_UNSET_KEY}"),
        r"config\.toml: customerio\.app_api_key: environment variable RECONCILE_TEST_UNSET_KEY is not set; "
        r"export it or write the value"),
    "wrong type": (
        lambda t: t.replace("max_retries = 3", 'max_retries = "three"'),
        r'config\.toml: customerio\.max_retries: expected an integer, got "three"'),
    "wrong type (table for a string)": (
        lambda t: t.replace('[identity]', '') + '\n[identity]\nkey = ["id"]\n',
        r'config\.toml: identity\.key: expected a string, got a list'),
    "duplicate segment names": (
        lambda t: t + '\n[[segments]]\nname = "buyers"\ncustomerio_segment_id = 34\nsql = "SELECT 1 AS id"\n',
        r'config\.toml: segments\[1\]\.name: "buyers" is already used by segments\[0\]; segment names must be unique'),
    "segment id not an integer (string)": (
        lambda t: t.replace(f"customerio_segment_id = {BUYERS}", 'customerio_segment_id = "31"'),
        r'config\.toml: segments\[0\]\.customerio_segment_id: expected an integer, got "31"'),
    "segment id not an integer (float)": (
        lambda t: t.replace(f"customerio_segment_id = {BUYERS}", "customerio_segment_id = 31.5"),
        r"config\.toml: segments\[0\]\.customerio_segment_id: expected an integer, got 31\.5"),
    "segment id not positive": (
        lambda t: t.replace(f"customerio_segment_id = {BUYERS}", "customerio_segment_id = -4"),
        r"config\.toml: segments\[0\]\.customerio_segment_id: expected a positive integer, got -4"),
}


@pytest.mark.parametrize("row", CONFIG_ROWS)
def test_configuration_mistakes_stop_before_the_run(row, stage, tmp_path, capsys, caplog, monkeypatch):
    monkeypatch.delenv("RECONCILE_TEST_UNSET_KEY", raising=False)
    change, expected = CONFIG_ROWS[row]
    code, out, err = run(tmp_path, capsys, caplog, change(config_text(stage[0], stage[1].url)))
    assert code == 2 and out == ""
    assert re.fullmatch(expected, error_line(err))
    assert not (tmp_path / "out").exists() and stage[1].requests_to(r"/segments/31") == []


def test_a_checks_file_that_does_not_parse(stage, tmp_path, capsys, caplog):
    (tmp_path / "checks").mkdir()
    (tmp_path / "checks" / "order_completed.toml").write_text("[[expectations]\ntype = 1\n")
    text = config_text(stage[0], stage[1].url, extra='\n[checks]\nsuites = "checks"\nevents_sql = "SELECT 1 AS x"\n')
    code, out, err = run(tmp_path, capsys, caplog, text)
    assert code == 2 and out == ""
    assert re.fullmatch(r"checks/order_completed\.toml: not valid TOML: .+ \(at line 1, column \d+\); fix the file there",
                        error_line(err))
    assert not (tmp_path / "out").exists()


# --------------------------------------------------------------------------- could not compare: exit 3

DATABASE_ROWS = {
    "unreachable database": (
        f"postgresql+psycopg://shop:{DB_PASSWORD}@127.0.0.1:1/shop", None,
        r"segment buyers: cannot connect to postgresql\+psycopg://shop:\*\*\*@127\.0\.0\.1:1/shop \(.*refused.*\); "
        r"check database\.url and that the server is up"),
    "bad database credentials": (
        f"mysql+pymysql://nobody:{DB_PASSWORD}@127.0.0.1:3306/test", None,
        r"segment buyers: the database refused the credentials for mysql\+pymysql://nobody:\*\*\*@127\.0\.0\.1:3306/test "
        r"\(.*Access denied.*\); check the user and password"),
    "SQL syntax error": (
        None, "SELEC id FROM customers",
        r'segment buyers: the truth SQL failed: near "SELEC": syntax error; fix the SQL and try again'),
    "SQL without the identity column": (
        None, "SELECT email FROM customers",
        r'segment buyers: the truth SQL returns no column named "id" \(identity\.key\); it returns email; '
        r"select the customer's id AS id"),
    "SQL that tries to write": (
        None, "DELETE FROM customers RETURNING id",
        r"segment buyers: the truth SQL tried to write, and reconcile only reads \(attempt to write a readonly "
        r"database\); make it a SELECT"),
}


@pytest.mark.parametrize("row", DATABASE_ROWS)
def test_database_mistakes_are_a_segment_error(row, stage, sandbox, tmp_path, capsys, caplog):
    url, sql, expected = DATABASE_ROWS[row]
    kwargs = {"sql": sql} if sql else {}
    code, out, err = run(tmp_path, capsys, caplog, config_text(url or stage[0], sandbox.url, **kwargs))
    assert code == 3
    assert re.fullmatch(expected, segment_error(out))
    if row == "SQL that tries to write":
        assert _customers(stage[0]) == 2_500     # the shop is unchanged


def _customers(url: str) -> int:
    import sqlite3
    with sqlite3.connect(url.removeprefix("sqlite:///")) as conn:
        return conn.execute("SELECT count(*) FROM customers").fetchone()[0]


UNAUTHORIZED = (r"Customer\.io answered 401 Unauthorized for GET /v1/segments/31: the App API key is wrong or belongs "
                r"to a workspace in the other region; check customerio\.app_api_key and customerio\.region")
API_ROWS = {
    "unreachable API (closed port)": (
        {"base_url": "http://127.0.0.1:9"}, None,
        r"Customer\.io gave no usable answer to GET /v1/segments/31 after 4 attempts \(last: the connection was "
        r"refused\); check that http://127\.0\.0\.1:9 is reachable and https://status\.customer\.io, then re-run"),
    "wrong key (401)": ({"key": "not-the-right-key"}, None, UNAUTHORIZED),
    "wrong region (401)": ({"key": "eu-workspace-key"}, None, UNAUTHORIZED),
    "wrong region (301 wrong datacenter)": (
        {}, {"kind": "status", "status": 301, "path": r"/segments/31$"},
        r'Customer\.io answered 301 "wrong datacenter" for GET /v1/segments/31: the workspace lives in the other '
        r'region; set customerio\.region to the workspace\'s region \("us" or "eu"\) and check customerio\.base_url'),
    "unknown segment (404)": (
        {"segment_id": 99}, None,
        r"Customer\.io has no segment 99 \(404\): check customerio_segment_id in the config"),
    "segment still building": (
        {"segment_id": BUILDING}, None,
        r'Customer\.io segment 32 \("Still building"\) is still building \(state "build", 40% done\); its membership '
        r"is not final yet: re-run once it is finished"),
}


@pytest.mark.parametrize("row", API_ROWS)
def test_api_mistakes_are_a_segment_error(row, stage, sandbox, tmp_path, capsys, caplog):
    changes, fault, expected = API_ROWS[row]
    changes = dict(changes)
    base_url = changes.pop("base_url", sandbox.url)
    if fault:
        sandbox.inject(fault.pop("kind"), **fault)
    code, out, err = run(tmp_path, capsys, caplog, config_text(stage[0], base_url, **changes))
    assert code == 3
    assert re.fullmatch(expected, segment_error(out))
    assert {p.name for p in (tmp_path / "out").iterdir()} >= {"results.json", "report.html"}  # the error is reported


# --------------------------------------------------------------------------- empty segments: a verdict, decided

def test_truth_has_people_and_customerio_is_empty_is_a_fail_never_a_pass(stage, sandbox, tmp_path, capsys, caplog):
    code, out, _ = run(tmp_path, capsys, caplog, config_text(stage[0], sandbox.url, segment_id=EMPTY))
    assert code == 1
    assert re.fullmatch(r"buyers\s+FAIL\s+2,500\s+0\s+2,500\s+0\s+100\.0 %", segment_line(out))


def test_both_sides_empty_passes_with_a_warning(stage, sandbox, tmp_path, capsys, caplog):
    text = config_text(stage[0], sandbox.url, segment_id=EMPTY, sql="SELECT id FROM customers WHERE id < 0")
    code, out, _ = run(tmp_path, capsys, caplog, text)
    assert code == 0
    assert re.fullmatch(r"buyers\s+PASS\s+0\s+0\s+0\s+0\s+0\.0 %", segment_line(out))
    assert "warning: both sides are empty: check the truth SQL and the segment's conditions" in out


def test_truth_empty_and_customerio_not_is_a_fail(stage, sandbox, tmp_path, capsys, caplog):
    text = config_text(stage[0], sandbox.url, segment_id=FIRST_THREE, sql="SELECT id FROM customers WHERE id < 0")
    code, out, _ = run(tmp_path, capsys, caplog, text)
    assert code == 1
    assert re.fullmatch(r"buyers\s+FAIL\s+0\s+3\s+0\s+3\s+n/a", segment_line(out))


# --------------------------------------------------------------------------- delivery: exit 4

def email_section(port: int, password: bool = False) -> str:
    section = (f'\n[email]\nsmtp_host = "127.0.0.1"\nsmtp_port = {port}\nstarttls = false\n'
               'from = "reconcile@shop.example"\nto = ["retention@shop.example"]\n')
    return section + ('username = "reconcile"\npassword = "${RECONCILE_TEST_SMTP_PASSWORD}"\n' if password else "")


def test_an_smtp_server_that_is_not_there(stage, sandbox, tmp_path, capsys, caplog):
    port = free_port()
    code, out, err = run(tmp_path, capsys, caplog, config_text(stage[0], sandbox.url, extra=email_section(port)),
                         "--email")
    assert code == 4
    assert error_line(err) == (f"the report is in {tmp_path / 'out'} but could not be emailed via 127.0.0.1:{port}: "
                               "connection refused; check email.smtp_host and email.smtp_port")
    assert (tmp_path / "out" / "report.html").exists()


def test_an_smtp_server_that_refuses_the_login(stage, sandbox, tmp_path, capsys, caplog, monkeypatch):
    monkeypatch.setenv("RECONCILE_TEST_SMTP_PASSWORD", SMTP_PASSWORD)
    with smtp_server("reconcile", "the-real-password") as (mailbox, port):
        text = config_text(stage[0], sandbox.url, extra=email_section(port, password=True))
        code, out, err = run(tmp_path, capsys, caplog, text, "--email")
    assert code == 4 and mailbox.messages == []
    assert error_line(err) == (f"the report is in {tmp_path / 'out'} but could not be emailed via 127.0.0.1:{port}: "
                               "login refused for reconcile (535); check email.username and the password variable")


# --------------------------------------------------------------------------- no traceback, as a real process

def test_a_real_process_prints_one_line_and_no_traceback(stage, tmp_path):
    """In-process rows cannot see what a crash would print; a real process can, for one of each kind."""
    bad_toml = write_config(tmp_path, stage[0], "http://127.0.0.1:9")
    bad_toml.write_text(bad_toml.read_text().replace("[customerio]", "[customerio"))
    done = subprocess.run([sys.executable, "-m", "reconcile", "run", "--config", str(bad_toml)],
                          capture_output=True, text=True, timeout=120)
    assert done.returncode == 2 and done.stdout == "" and len(done.stderr.splitlines()) == 1
    (tmp_path / "b").mkdir()
    no_db = write_config(tmp_path / "b", f"postgresql+psycopg://shop:{DB_PASSWORD}@127.0.0.1:1/shop",
                         "http://127.0.0.1:9", customerio="timeout_seconds = 1", key=KEY)
    no_db.write_text(no_db.read_text().replace("max_retries = 3", "max_retries = 0"))
    done = subprocess.run([sys.executable, "-m", "reconcile", "run", "--config", str(no_db),
                           "--out", str(tmp_path / "b" / "out")], capture_output=True, text=True, timeout=120)
    assert done.returncode == 3
    for stream in (done.stdout, done.stderr):
        assert "Traceback" not in stream and not any(secret in stream for secret in SECRETS)
    assert re.search(r"^buyers\s+ERROR\s+Customer\.io gave no usable answer", done.stdout, re.M)
