"""The purchases in every output: results.json, purchase_discrepancies.csv (formulas neutralised),
the report's "Purchases" section (after the segments, escaped), the email, the verdict line, the
terminal and the exit code. The run is built by hand, with hostile strings in its order ids,
emails and evidence; every number is stated here."""

from __future__ import annotations

import csv
import json
from datetime import datetime, timezone

import pandas as pd
import pytest

from reconcile.cli.commands import exit_code_for
from reconcile.cli.screens import summary
from reconcile.purchases.problems import SEVERITY
from reconcile.report import render_email_body, render_html, write_outputs
from reconcile.report.html import EMAIL_BODY_LIMIT, body_size
from reconcile.report.summary import verdict_line
from reconcile.results import (PURCHASE_COLUMNS, ActivityResult, FlowResult, PurchaseResult, Status, decide_flow,
                               decide_purchases)

from built_runs import EXTERNAL, Spec, make_run, weekly

FORMULA = '=HYPERLINK("http://evil.example","x")'
SCRIPT = "<script>alert('order')</script>"
ROWS = [  # order_id, id, email, problem, evidence
    ("ORD-1", "11", "one@shop.example", "missing_event", "no order_completed event with this order_id"),
    ("ORD-2", "12", "two@shop.example", "missing_event", "no order_completed event with this order_id"),
    (FORMULA, "13", f"{SCRIPT}@x.example", "wrong_person", f"the event is under id {SCRIPT}"),
    ("ORD-4", "+SUM(1,1)", "four@shop.example", "duplicate_event", "2 events with this order_id"),
    ("X-1", None, None, "orphan_event", "event e9 has order_id X-1"),
]


def purchases(*, orders: int = 200, activity: bool = True) -> PurchaseResult:
    frame = pd.DataFrame([(o, i, e, p, SEVERITY[p].value, ev) for o, i, e, p, ev in ROWS], columns=PURCHASE_COLUMNS,
                         dtype=object)
    result = PurchaseResult(event="order_completed", window_days=7, tolerance=0.005, orders=orders,
                            problems={"missing_event": 2, "wrong_person": 1, "duplicate_event": 1,
                                      "revenue_mismatch": 0, "late_event": 0, "orphan_event": 1},
                            severities=dict(SEVERITY), revenue_without_event=1234.5, revenue_counted_twice=40.0,
                            discrepancies=frame, engine="database")
    if activity:
        result.activity = ActivityResult(tolerance=0.005, orders=[
            {"order_id": "ORD-1", "id": "11", "email": "one@shop.example", "outcome": "not_found",
             "evidence": "no order_completed activity with this order_id under id 11", "cio_id": None},
            {"order_id": "ORD-5", "id": "15", "email": "five@shop.example", "outcome": "found_once", "evidence": "",
             "cio_id": "c15"}])
    decide_purchases(result)
    return result


def flows() -> list[FlowResult]:
    made = [FlowResult(event="order_completed", critical=True, newest=datetime(2026, 11, 21, 8, 0, tzinfo=timezone.utc),
                       age_hours=1.0, count=40, baseline=100.0, runs_in_baseline=3),
            FlowResult(event="added_to_cart", newest=datetime(2026, 11, 21, 8, 30, tzinfo=timezone.utc),
                       age_hours=0.5, count=300, baseline=None)]
    for flow in made:
        decide_flow(flow, 24, 0.5)
    return made


@pytest.fixture
def run():
    run = make_run([Spec("buyers", 100, 0, 0)], weekly(21))          # the segment passes
    run.purchases, run.flow = purchases(), flows()
    return run


def test_the_verdict_and_the_exit_code_include_the_purchases(run):
    assert run.purchases.status == Status.FAIL and run.purchases.problem_rate == pytest.approx(4 / 200)
    assert run.status == Status.FAIL and exit_code_for(run) == 1
    assert verdict_line(run) == ("FAIL: the segment is within tolerance, purchases out of tolerance (4 of 200 "
                                 "orders, 1 of 2 sampled wrong in Customer.io), order_completed not flowing as "
                                 "usual (critical)")
    run.purchases = purchases(orders=10_000, activity=False)          # 0.04 %: within tolerance
    run.flow = [f for f in run.flow if not f.critical]
    assert (run.status, exit_code_for(run)) == (Status.PASS, 0)
    run.purchases.error = "purchases.orders_sql failed: no such table: orders; fix the SQL and try again"
    decide_purchases(run.purchases)
    assert (run.status, exit_code_for(run)) == (Status.ERROR, 3)
    assert verdict_line(run).endswith("purchases could not be compared")


def test_results_json_and_the_csv(run, tmp_path):
    folder = write_outputs(run, tmp_path / "out")
    results = json.loads((folder / "results.json").read_text())
    p = results["purchases"]
    assert {k: p[k] for k in ("orders", "with_event", "missing_event", "wrong_person", "duplicate_event",
                              "revenue_mismatch", "late_event", "orphan_event", "revenue_without_event",
                              "revenue_counted_twice", "status")} == {
        "orders": 200, "with_event": 198, "missing_event": 2, "wrong_person": 1, "duplicate_event": 1,
        "revenue_mismatch": 0, "late_event": 0, "orphan_event": 1, "revenue_without_event": 1234.5,
        "revenue_counted_twice": 40.0, "status": "fail"}
    activity = p["activity"]
    assert (activity["sampled"], activity["not_found"], activity["found_once"], activity["status"]) == (2, 1, 1, "fail")
    assert [o["order_id"] for o in activity["orders"]] == ["ORD-1", "ORD-5"]
    assert [(f["event"], f["count"], f["baseline"], f["status"], f["age_hours"]) for f in results["flow"]] == [
        ("order_completed", 40, 100.0, "fail", 1.0), ("added_to_cart", 300, None, "pass", 0.5)]
    assert results["flow"][0]["newest"] == "2026-11-21T08:00:00+00:00"
    with open(folder / "purchase_discrepancies.csv", newline="") as handle:
        rows = list(csv.DictReader(handle))
    assert list(rows[0]) == ["order_id", "id", "email", "problem", "severity", "evidence"]
    assert [r["order_id"] for r in rows] == ["ORD-1", "ORD-2", "'" + FORMULA, "ORD-4", "X-1"]
    assert rows[3]["id"] == "'+SUM(1,1)" and rows[2]["severity"] == "high" and rows[4]["id"] == ""


def test_without_purchases_nothing_changes(tmp_path):
    plain = make_run([Spec("buyers", 100, 0, 0)], weekly(21))
    folder = write_outputs(plain, tmp_path / "out")
    results = json.loads((folder / "results.json").read_text())
    assert results["purchases"] is None and results["flow"] == []
    assert not (folder / "purchase_discrepancies.csv").exists()
    assert 'id="purchases"' not in (folder / "report.html").read_text()


def test_the_report_shows_purchases_after_the_segments_escaped(run):
    html = render_html(run)
    section = html[html.index('id="purchases"'):html.index('id="identity"')]
    assert html.index('id="segment-buyers"') < html.index('id="purchases"')
    for text in ("4 of 200 orders have a problem: 2.0 %", "1,234.50", "40.00", "Order without its purchase event",
                 "Send the purchase event from the server", "Purchase event under another profile", "ORD-1"):
        assert text in html, text
    assert html.index("Order without its purchase event") < html.index("Purchase event for an order the shop")
    assert "<script>alert('order')</script>" not in html and "&lt;script&gt;alert(&#39;order&#39;)" in html
    assert "What Customer.io recorded" in html and "Not recorded" in html
    assert "Core events flowing" in html and "40 in the last 24 hours, below 0.5 of the usual 100" in html
    assert not EXTERNAL.search(html) and "ORD-2" in section
    assert ("Worst problem found: <strong>critical</strong>: a core event the segments need stopped flowing as "
            "usual.") in html
    run.flow = [f for f in run.flow if not f.critical]
    assert "Worst problem found: <strong>high</strong>: buyers in cart or winback flows, or double sends." in \
        render_html(run)


def test_the_email_carries_the_section_and_masks_emails(run):
    body, _ = render_email_body(run, mask=True)
    assert body_size(body) <= EMAIL_BODY_LIMIT and "Purchases" in body and "1,234.50" in body
    assert "one@shop.example" not in body and "o•••@shop.example" in body


def test_the_terminal_summary_shows_the_purchases(run):
    text = summary(run, None)
    assert ("purchases: FAIL  4 of 200 orders with a problem (2.0 %, tolerance 0.5 %); revenue without an event "
            "1,234.50, counted twice 40.00") in text
    assert "  missing_event 2 (high), wrong_person 1 (high), duplicate_event 1 (high), orphan_event 1 (medium)" in text
    assert "  activity log: FAIL  2 orders sampled: not_found 1, found_once 1" in text
    assert "core events: order_completed 40 in 24 h, added_to_cart 300 in 24 h" in text
    assert "  FAIL    order_completed flow: 40 in the last 24 hours, below 0.5 of the usual 100" in text
    assert text.splitlines()[-1].startswith("FAIL: 0 failed, 0 could not be compared, 1 passed; purchases out of "
                                            "tolerance")
