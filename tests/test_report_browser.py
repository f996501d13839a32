"""The report in a real headless Chromium at 600 px (email) and 1280 px: no horizontal overflow,
no console errors, no request beyond the file itself. Screenshots go to test-artifacts/."""

from __future__ import annotations

from pathlib import Path

import pytest

from reconcile.history import History
from reconcile.report import render_email_body, write_outputs

from browser import ARTIFACTS, Chromium
from runs import make_run, standard_specs, weekly


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
    return {"report": folder / "report.html", "email": folder / "email.html"}


@pytest.mark.parametrize("width", [600, 1280])
@pytest.mark.parametrize("page", ["report", "email"])
def test_reads_without_overflow_or_errors(browser, pages, page, width):
    seen = browser.inspect(pages[page], width, screenshot=ARTIFACTS / f"{page}-{width}px.png")
    assert seen.overflowing == [] and seen.scroll_width <= seen.client_width == width
    assert seen.console == []
    assert seen.requests == [pages[page].resolve().as_uri()]
    assert seen.screenshot.stat().st_size > 10_000
