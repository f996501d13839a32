"""The report in a real headless Chromium at 600 px (email) and 1280 px: no horizontal overflow,
no console errors, no request beyond the file itself. Screenshots go to test-artifacts/.

Pages: a hand-built run with hostile strings, a trend and causes (``runs.py``), and the demo's
second run (trend, new since last run, data quality), each as report.html and as email body."""

from __future__ import annotations

from datetime import timedelta
from pathlib import Path

import pytest

from reconcile.demo.runner import demo_history, run_demo
from reconcile.report.history import History
from reconcile.report import render_email_body, write_outputs

from browser import ARTIFACTS, Chromium
from built_runs import make_run, standard_specs, weekly


@pytest.fixture(scope="module")
def browser(tmp_path_factory):
    with Chromium(tmp_path_factory.mktemp("chromium-profile")) as chromium:
        yield chromium


@pytest.fixture(scope="module")
def pages(tmp_path_factory) -> dict[str, Path]:
    """The full report of a second run (trend, new since last run, hostile strings) and its email body."""
    reports = tmp_path_factory.mktemp("reports")
    history = History(reports, "config-a")
    for day, first, scale in ((7, 0, 0.8), (14, 0, 1.0)):
        write_outputs(make_run(standard_specs(first, scale), weekly(day)), reports / f"day{day}", history=History(reports, "config-a"))
    run = make_run(standard_specs(first=200, scale=1.2), weekly(21))
    folder = write_outputs(run, reports / "day21", history=history)
    body, _ = render_email_body(run, history.context(run), mask=True)
    (folder / "email.html").write_text(body, encoding="utf-8")
    # the demo, twice, with its data-quality checks: the report as a team first sees it
    demo_reports = tmp_path_factory.mktemp("demo-reports")
    for days, seed in ((0, 7), (7, 8)):
        demo_run, demo_folder = run_demo(out=demo_reports / f"seed{seed}", as_of=weekly(14) + timedelta(days=days),
                                         seed=seed, customers=1500, history=demo_history(demo_reports))
    body, _ = render_email_body(demo_run, demo_history(demo_reports).context(demo_run, exclude=demo_folder))
    (demo_folder / "email.html").write_text(body, encoding="utf-8")
    return {"report": folder / "report.html", "email": folder / "email.html",
            "demo-report": demo_folder / "report.html", "demo-email": demo_folder / "email.html"}


@pytest.mark.parametrize("width", [600, 1280])
@pytest.mark.parametrize("page", ["report", "email", "demo-report", "demo-email"])
def test_reads_without_overflow_or_errors(browser, pages, page, width):
    seen = browser.inspect(pages[page], width, screenshot=ARTIFACTS / f"{page}-{width}px.png")
    assert seen.overflowing == [] and seen.scroll_width <= seen.client_width == width
    assert seen.console == []
    assert seen.requests == [pages[page].resolve().as_uri()]
    assert seen.screenshot.stat().st_size > 10_000
