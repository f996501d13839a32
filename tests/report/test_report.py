"""The report: verdict first, escaped, self-contained, numbers for people; the email body's budget."""

from __future__ import annotations


import pytest

from reconcile.report.html import EMAIL_BODY_LIMIT, bar_widths, body_size, mask_emails, render_email_body, render_html
from reconcile.results import Status
from reconcile.report.summary import causes, format_count, format_percent, format_points, run_severity, verdict_line

from built_runs import EXTERNAL, LONG_WORD, Spec, make_run, standard_specs, weekly



@pytest.fixture
def run():
    return make_run(standard_specs(), weekly(21))


def test_numbers_are_formatted_for_people():
    assert format_count(12408) == "12,408"
    assert format_count(None) == "–"
    assert format_percent(0.031) == "3.1 %"
    assert format_percent(float("nan")) == "–"
    assert format_points(0.011) == "+1.1 pts"
    assert format_points(-0.0004) == "±0.0 pts"


def test_verdict_line_counts_segments_and_criticals(run):
    assert verdict_line(run) == "ERROR: 1 of 5 segments could not be compared, 2 out of tolerance, 1 critical"
    run.segments.pop()                                           # drop the segment that could not be compared
    assert verdict_line(run) == "FAIL: 2 of 4 segments out of tolerance, 1 critical"
    assert run_severity(run) == "critical"
    passing = make_run([Spec("a", 100, 0, 0), Spec("b", 100, 1, 0)], weekly(21))
    assert verdict_line(passing) == "PASS: all 2 segments within tolerance"
    assert run_severity(passing) is None


def test_the_verdict_comes_first_and_user_data_is_escaped(run):
    html = render_html(run)
    body = html[html.index("<body>"):]
    assert body.index("ERROR: 1 of 5 segments could not be compared") < body.index("Why they differ")
    assert "worst: critical" in body[:body.index('id="segment-')]
    assert "<script>alert(1)</script>" not in html
    assert "Cart &lt;script&gt;alert(1)&lt;/script&gt; abandoners &amp; co" in html
    assert 'HYPERLINK(&#34;http://evil.example&#34;)' in html          # evidence shown, escaped, not a link
    assert not EXTERNAL.search(html)


def test_each_segment_shows_counts_overlap_tolerance_and_causes(run):
    html = render_html(run)
    card = html[html.index('id="segment-purchased_30d_email_consent"'):html.index('id="segment-cart_abandoners_24h"')]
    for text in ("12,408", "12,193", "12,108", "300", "85", "3.1 %", "1.0 %", "385 people differ", "(3.1×)"):
        assert text in card, text
    assert card.count("<svg") == 1 and 'aria-label="12,408 people in the shop' in card
    # causes: worst first, with what to fix and examples of that cause
    assert card.index("Consent differs") < card.index("Timestamp in the wrong unit") < card.index("Not explained yet")
    assert "What to fix:" in card and "customer.0@example.com" in card
    error_card = html[html.index('id="segment-sms_consent"'):]
    assert "Could not compare:" in error_card and "still building" in error_card


def test_causes_are_read_from_the_causes_field_the_diagnosis_sets(run):
    segment = run.segments[2]
    segment.causes = {"not_in_shop": {"count": 4, "severity": "high"}, "window_edge": {"count": 2, "severity": "low"},
                      "duplicate_profile": {"count": 9, "severity": "high"}}
    found = causes(segment)
    assert [(c.cause, c.count, c.severity) for c in found] == [
        ("duplicate_profile", 9, "high"), ("not_in_shop", 4, "high"), ("window_edge", 2, "low")]
    html = render_html(run)
    assert "Merge the profiles in Customer.io" in html and "Not a shop customer" in html


def test_identity_health_and_the_data_quality_include_point(run):
    html = render_html(run)
    health = html[html.index('id="identity"'):]
    assert "Profiles sharing one key with another" in health
    assert "Members without the identity key" in health
    assert "All segments" not in health and "Shop rows without the identity key" not in health   # zeros are left out
    run.identity_health = {"case_or_blank_ids": 7, "conflicting_identity": 0, "note": "text is ignored"}
    html = render_html(run)
    health = html[html.index('id="identity"'):]
    assert "<td>All segments</td><td>Ids that differ only by case or blanks</td><td class=\"num\">7</td>" in health
    assert "point at different customers" not in health
    assert "Data quality" not in html                       # checks.html.j2 renders here once the checks exist


def test_overlap_bars_keep_small_groups_visible():
    widths = bar_widths([1, 10_000, 0], 580.0)
    assert widths[0] == 4.0 and widths[2] == 0.0 and sum(widths) == pytest.approx(580.0)
    assert bar_widths([0, 0, 0], 580.0) == [0.0, 0.0, 0.0]


def test_email_body_fits_gmail_and_is_self_contained(run):
    body, notes = render_email_body(run, mask=True)
    assert body_size(body) <= EMAIL_BODY_LIMIT
    assert "<style" not in body and 'style="' in body                # CSS inlined for email clients
    assert not EXTERNAL.search(body)
    assert "customer.0@example.com" not in body and "c•••@example.com" in body
    assert "masked in this message" in body


def test_email_body_is_trimmed_to_fit_and_says_so():
    big = make_run([Spec(f"segment_{i}_" + LONG_WORD[:40], 50_000, 4_000, 3_000, first=i * 10_000,
                         causes={"timestamp_unit": ("medium", 0.4), "consent_mismatch": ("critical", 0.3),
                                 "profile_missing": ("high", 0.2)}) for i in range(12)], weekly(21))
    full, _ = render_email_body(big, limit=10_000_000)
    assert len(full.encode()) > EMAIL_BODY_LIMIT                    # untrimmed it would be clipped
    body, notes = render_email_body(big)
    assert body_size(body) <= EMAIL_BODY_LIMIT
    assert notes and "Shortened to fit an email" in notes[-1] and "Shortened to fit an email" in body
    assert big.status == Status.FAIL and "FAIL: 12 of 12 segments out of tolerance, 12 critical" in body


def test_mask_emails_keeps_the_domain():
    assert mask_emails("jane.doe@example.com, x@shop.co.uk") == "j•••@example.com, x•••@shop.co.uk"
    assert mask_emails(None) is None


def test_failed_critical_checks_lead_the_verdict_too():
    from reconcile.results import CheckResult

    run = make_run([Spec("a", 100, 0, 0)], weekly(21))
    run.checks = [CheckResult(suite="order_completed", expectation="expect_column_values_to_be_unique",
                              column="order_id", severity="critical", success=False, unexpected_count=12),
                  CheckResult(suite="people", expectation="expect_column_values_to_not_be_null", severity="warning",
                              success=False)]
    assert run.status == Status.FAIL
    assert verdict_line(run) == "FAIL: the segment is within tolerance, 1 critical data-quality check failed"
    assert run_severity(run) == "critical"
    html = render_html(run)
    assert 'id="data-quality"' in html and html.index("1 critical data-quality check failed") < html.index('id="data-quality"')
    assert "Worst problem found: <strong>critical</strong>: a critical data-quality expectation is not met." in html
