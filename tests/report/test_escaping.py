"""Hostile data is inert: markup in names, emails, ids, titles and event properties shows as text
in the report (opened in a real headless Chromium: no script runs, no element is injected), and
discrepancies.csv neutralises every cell a spreadsheet would run as a formula.

The data comes through a real ``reconcile run`` (shop in SQLite, workspace in the sandbox,
events from a JSON Lines export checked by a suite), so every path from input to page is the
one production takes. Each payload sets ``window.__pwned`` if it ever runs.
"""

from __future__ import annotations

import csv
import json
import sqlite3

import pytest

from reconcile.cli import main
from reconcile.sandbox import Sandbox, Workspace

from browser import Chromium
from smtp import smtp_server
from known_stage import config_text

KEY = "escaping-key"
SCRIPT = "<script>window.__pwned='script'</script>"
IMG = "<img src=x onerror=\"window.__pwned='img'\">"
SVG = "<svg onload=\"window.__pwned='svg'\"></svg>"
FORMULAS = ["=HYPERLINK(\"http://evil.example\",\"x\")", "+SUM(1,1)", "-2+3", "@SUM(1)", "\tx", "\r=1+1"]
SHOP = [  # (id, email, name): every one missing in Customer.io, so every one is in the report and the CSV
    (f"a{SCRIPT}", f"{IMG}@x.example", SVG),
    (f"b{IMG}", "plain@x.example", f"{SCRIPT}{IMG}"),
    *[(formula, f"{formula}@x.example", formula) for formula in FORMULAS],
    ("ok-1", "ok1@x.example", "Fine"),
]
WORKSPACE = [  # (cio_id, id, email) members the shop does not know: extra in Customer.io
    ("cio-1", f"x{SCRIPT}", f"{SVG}@y.example"),
    ("cio-2", "=1+2", f"{IMG}"),
    ("cio-3", "ok-1", "ok1@x.example"),
]
EVENTS = [{"event_id": f"e{i}", "name": "product_viewed", "customer_id": "ok-1", "timestamp": 1_764_000_000 + i,
           "properties": {"product_id": value, "category": SVG}}
          for i, value in enumerate([SCRIPT, IMG, "=CMD()", "p-1"])]
SUITE = """description = "product ids are plain"
event = "product_viewed"
[[expectations]]
type = "expect_column_values_to_match_regex"
column = "product_id"
regex = '^[a-z0-9-]+$'
severity = "warning"
"""


@pytest.fixture(scope="module")
def written(tmp_path_factory):
    """The run's folder (report.html, discrepancies.csv) and an email body of the same run."""
    folder = tmp_path_factory.mktemp("hostile")
    with sqlite3.connect(folder / "shop.db") as conn:
        conn.execute("CREATE TABLE customers (id TEXT, email TEXT, name TEXT)")
        conn.executemany("INSERT INTO customers VALUES (?, ?, ?)", SHOP)
    (folder / "checks").mkdir()
    (folder / "checks" / "product_viewed.toml").write_text(SUITE)
    (folder / "events.jsonl").write_text("\n".join(json.dumps(e) for e in EVENTS) + "\n")
    workspace = Workspace("email_or_id")
    for cio_id, id_, email in WORKSPACE:
        workspace.add_person(cio_id, id_, email, {"name": SCRIPT})
    workspace.add_segment(41, f"Segment {SCRIPT}", [row[0] for row in WORKSPACE])
    with Sandbox(workspace, api_key=KEY, rate_limit=None) as sandbox, smtp_server() as (mailbox, port):
        config = folder / "config.toml"
        config.write_text(config_text(f"sqlite:///{folder / 'shop.db'}", sandbox.url, key=KEY, segment_id=41,
                                      sql="SELECT id, email, name FROM customers", extra=f"""
title = {json.dumps("Title " + SCRIPT + IMG)}
[checks]
suites = "checks"
events_jsonl = "events.jsonl"
[email]
smtp_host = "127.0.0.1"
smtp_port = {port}
starttls = false
from = "reconcile@shop.example"
to = ["retention@shop.example"]
"""))
        assert main(["run", "--config", str(config), "--out", str(folder / "out"), "--email", "--quiet"]) == 1
    body = mailbox.messages[0].message.get_body(preferencelist=("html",)).get_content()
    (folder / "out" / "email.html").write_text(body, encoding="utf-8")
    return folder / "out"


@pytest.fixture(scope="module")
def browser(tmp_path_factory):
    with Chromium(tmp_path_factory.mktemp("chromium-profile")) as chromium:
        yield chromium


@pytest.mark.parametrize("page", ["report.html", "email.html"])
def test_markup_in_the_data_is_shown_as_text_and_never_runs(written, browser, page):
    seen = browser.inspect(written / page, 1280)
    state = json.loads(browser.evaluate("""JSON.stringify({
        pwned: window.__pwned === undefined ? null : String(window.__pwned),
        scripts: document.querySelectorAll('script').length,
        handlers: [...document.querySelectorAll('*')].filter(e => [...e.attributes].some(a => a.name.startsWith('on')))
                  .map(e => e.outerHTML.slice(0, 80)),
        images: document.querySelectorAll('img').length,
        text: document.body.innerText})"""))
    assert state["pwned"] is None
    assert state["scripts"] == 0 and state["handlers"] == [] and state["images"] == 0
    assert seen.requests == [(written / page).resolve().as_uri()]       # no image, no script was fetched
    assert SCRIPT in state["text"]                                      # shown to the reader, as text
    if page == "report.html":
        assert IMG in state["text"] and "Title " + SCRIPT in state["text"]
        event_sample = state["text"].split("on product_id", 1)[1]        # the data-quality section's examples
        assert SCRIPT in event_sample and IMG in event_sample and "=CMD()" in event_sample


def test_discrepancies_csv_neutralises_formulas(written):
    with open(written / "discrepancies.csv", newline="", encoding="utf-8") as handle:
        rows = list(csv.DictReader(handle))
    cells = [value for row in rows for value in row.values() if value]
    assert len(rows) == len(SHOP) - 1 + 2     # ok-1 matches; the others differ (a "\r" in a cell never breaks a row)
    assert not [cell for cell in cells if cell[0] in "=+-@\t\r"]
    ids = {row["id"] for row in rows}
    assert {"'" + formula for formula in FORMULAS} <= ids and "'=1+2" in ids
    assert (written / "discrepancies.csv").read_bytes().count(b"\r\n") == len(rows) + 1   # CRLF rows, RFC 4180
    assert f"a{SCRIPT}" in ids                                     # markup is data here: kept as it is
