"""The terminal: progress only for a person watching; the pre-launch screen."""

from __future__ import annotations

import io
from types import SimpleNamespace

from rich.console import Console

from reconcile.cli.screens import gate_screen, progress_display, wants_progress

from built_runs import Spec, make_run, weekly


class Stream(io.StringIO):
    def __init__(self, tty: bool):
        super().__init__()
        self.tty = tty

    def isatty(self) -> bool:
        return self.tty


def test_progress_only_when_both_streams_are_terminals_and_not_quiet():
    assert wants_progress(False, Stream(True), Stream(True))
    assert not wants_progress(True, Stream(True), Stream(True))
    assert not wants_progress(False, Stream(False), Stream(True))    # stdout piped (cron, --json | jq)
    assert not wants_progress(False, Stream(True), Stream(False))
    assert not wants_progress(False, object(), Stream(True))         # no isatty at all


def test_progress_shows_rows_read_and_pages_fetched():
    screen = io.StringIO()
    console = Console(file=screen, force_terminal=True, width=120, color_system=None)
    segment = SimpleNamespace(name="purchased_[30d]", label="Purchased")
    with progress_display(True, console=console) as progress:
        progress.segment_started(segment)
        progress.rows_read(segment, 12_408)
        progress.page_fetched(segment, 3, 61_000)
        progress.segment_done(SimpleNamespace(name="purchased_[30d]", status="fail", mismatch_rate=0.031))
    shown = screen.getvalue()
    assert "12,408 shop rows read" in shown and "Customer.io page 3 (61,000 members)" in shown
    assert "FAIL purchased_[30d]  3.1 %" in shown                  # markup in names is shown, not parsed


def test_no_progress_draws_nothing(capsys):
    segment = SimpleNamespace(name="a", label="a")
    with progress_display(False) as progress:
        progress.segment_started(segment)
        progress.rows_read(segment, 10)
        progress.segment_done(SimpleNamespace(name="a", status="pass", mismatch_rate=0.0))
    assert capsys.readouterr() == ("", "")


def test_check_screen_fits_one_screen_and_leads_with_the_worst_cause():
    run = make_run([Spec("purchased_30d_email_consent", 12408, 300, 85, title="Purchased in the last 30 days",
                         causes={"consent_mismatch": ("critical", 0.2), "timestamp_unit": ("medium", 0.5)})], weekly(21))
    screen = gate_screen(run)
    lines = screen.splitlines()
    assert len(lines) <= 24 and max(map(len, lines)) <= 200
    assert lines[0] == "FAIL   Purchased in the last 30 days"
    assert "  385 people differ: 3.1 % of 12,408 (tolerance 1.0 %)" in lines
    worst = next(i for i, line in enumerate(lines) if "Consent differs" in line)
    assert worst < next(i for i, line in enumerate(lines) if "Timestamp in the wrong unit" in line)
    assert lines[worst].split()[:2] == ["critical", "77"]
    assert "  Do not launch: the campaign would reach the wrong people (worst: critical)." in lines
    assert lines[-1] == "FAIL: 1 of 1 segment out of tolerance, 1 critical"
    passing = gate_screen(make_run([Spec("b", 100, 0, 1)], weekly(21)))
    assert "Safe to launch" in passing and passing.splitlines()[-1] == "PASS: the segment is within tolerance"
