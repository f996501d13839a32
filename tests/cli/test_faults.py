"""Faults from the sandbox on every endpoint a run calls, through a full ``reconcile run``.

The stage (``stage.py``) knows every number: 2,500 people in the shop, a segment of 2,500
members over three pages of 1,000, 5 missing and 5 extra, a pass at 0.4 %. A member lost on
the way would change those numbers, so each fault below must end in one of two ways only:

* **exact**: exit 0 and precisely the stage's numbers (the client retried, or the audit read
  the membership again because its count disagreed with the list);
* **error**: exit 3, the segment is ``error`` with a one-line message, no numbers at all.

Never a pass with other numbers. Faults on the diagnosis' lookups (``/customers/attributes``)
must leave the comparison exact: only the explanation is then incomplete (a warning).
"""

from __future__ import annotations

import json

import pytest

from reconcile.cli import main

from known_stage import EXPECTED, EXTRA, KEY, MISSING, PAGE, PEOPLE, config_text, fast_retries, sandbox, small_pages, stage  # noqa: F401

pytestmark = pytest.mark.usefixtures("fast_retries", "small_pages")

SEGMENT, MEMBERSHIP, COUNT, ATTRIBUTES = (r"/segments/31$", r"/segments/31/membership$", r"/segments/31/customer_count$",
                                          r"/customers/attributes$")
ENDPOINTS = {"segment": SEGMENT, "membership": MEMBERSHIP, "customer_count": COUNT, "customers/attributes": ATTRIBUTES}
FAULTS = {
    "429 storm": ("status", {"status": 429, "headers": {"Retry-After": "0"}}),
    "503": ("status", {"status": 503}),
    "500 with an HTML body": ("status", {"status": 500, "body": "<html><h1>Internal Server Error</h1></html>"}),
    "non-JSON body": ("non_json", {}),
    "truncated JSON": ("truncated_json", {}),
    "connection reset mid-page": ("reset", {}),
    "slow past the timeout": ("delay", {"seconds": 1.0}),
}
TIMEOUT = 0.5           # seconds per request; the delay fault holds its answer for 1 s
PERSISTENT = 1_000      # "every attempt": far more than the retries


def audit(stage, tmp_path, capsys, max_retries: int = 3, customerio: str = "", diagnosis: bool = False,
          diff: str = "memory") -> tuple[int, dict]:
    """A full run (the diagnosis only where its lookups are the endpoint under test); (exit code, segment)."""
    url, sandbox = stage
    text = config_text(url, sandbox.url, customerio=f"timeout_seconds = {TIMEOUT}\n{customerio}",
                       extra=f'diff = "{diff}"\n\n[diagnosis]\nenabled = {str(diagnosis).lower()}\n').replace(
        "max_retries = 3", f"max_retries = {max_retries}")
    config = tmp_path / "config.toml"
    config.write_text(text, encoding="utf-8")
    code = main(["run", "--config", str(config), "--out", str(tmp_path / "out"), "--quiet"])
    out, err = capsys.readouterr()
    assert "Traceback" not in out + err and KEY not in out + err
    segment = json.loads((tmp_path / "out" / "results.json").read_text())["segments"][0]
    return code, segment


def assert_exact(code: int, segment: dict) -> None:
    assert (code, segment["status"], segment["error"]) == (0, "pass", None)
    assert {name: segment[name] for name in EXPECTED} == EXPECTED
    assert segment["customerio_reported_count"] == segment["customerio_profiles"] == EXPECTED["customerio_count"]


def assert_error(code: int, segment: dict) -> str:
    assert (code, segment["status"]) == (3, "error")
    assert segment["truth_count"] is None and segment["matched"] is None and segment["mismatch_rate"] is None
    assert "\n" not in segment["error"] and KEY not in segment["error"]
    return segment["error"]


@pytest.mark.parametrize("fault", FAULTS)
@pytest.mark.parametrize("endpoint", ENDPOINTS)
def test_a_passing_fault_is_retried_and_the_numbers_are_exact(endpoint, fault, stage, sandbox, tmp_path, capsys):
    kind, params = FAULTS[fault]
    path = ENDPOINTS[endpoint]
    times = 1 if kind == "delay" else 2
    sandbox.inject(kind, path=path, times=times, after=1 if path == MEMBERSHIP else 0, **params)  # page 2 of 3
    code, segment = audit(stage, tmp_path, capsys, diagnosis=path == ATTRIBUTES)
    assert_exact(code, segment)
    assert sandbox.faults.pending() == []
    assert not any("diagnosis could not run" in warning for warning in segment["warnings"])


@pytest.mark.parametrize("fault", FAULTS)
@pytest.mark.parametrize("endpoint", [e for e in ENDPOINTS if e != "customers/attributes"])
def test_a_lasting_fault_makes_the_segment_an_error(endpoint, fault, stage, sandbox, tmp_path, capsys):
    kind, params = FAULTS[fault]
    path = ENDPOINTS[endpoint]
    sandbox.inject(kind, path=path, times=PERSISTENT, after=1 if path == MEMBERSHIP else 0, **params)
    code, segment = audit(stage, tmp_path, capsys, max_retries=1)
    message = assert_error(code, segment)
    expected = "still answered 429" if fault == "429 storm" else "gave no usable answer"
    assert expected in message and "after 2 attempts" in message


def test_a_lasting_fault_mid_paging_with_the_diff_in_the_database_is_an_error(stage, sandbox, tmp_path, capsys):
    """Page 1 is already in the temporary table when page 2 fails for good: an error, no numbers."""
    sandbox.inject("status", path=MEMBERSHIP, times=PERSISTENT, after=1, status=503)
    code, segment = audit(stage, tmp_path, capsys, max_retries=1, diff="database")
    assert "gave no usable answer" in assert_error(code, segment)


@pytest.mark.parametrize("fault", FAULTS)
def test_a_lasting_fault_on_the_diagnosis_lookups_leaves_the_comparison_exact(fault, stage, sandbox, tmp_path, capsys):
    kind, params = FAULTS[fault]
    sandbox.inject(kind, path=ATTRIBUTES, times=PERSISTENT, **params)
    code, segment = audit(stage, tmp_path, capsys, max_retries=1, diagnosis=True)
    assert_exact(code, segment)
    assert any(warning.startswith("the diagnosis could not run: Customer.io") for warning in segment["warnings"])


@pytest.mark.parametrize("earlier", [0, 1])
def test_a_repeated_next_token_is_an_error(earlier, stage, sandbox, tmp_path, capsys):
    sandbox.inject("repeat_token", path=MEMBERSHIP, after=earlier, earlier=earlier)  # page 2 (or 3) hands back a token
    code, segment = audit(stage, tmp_path, capsys)
    assert "repeated a paging token of segment 31's membership" in assert_error(code, segment)


@pytest.mark.parametrize("diff", ["memory", "database"])
def test_new_tokens_that_serve_the_same_members_end_at_the_second_page(diff, stage, sandbox, tmp_path, capsys):
    sandbox.inject("fresh_token_same_page", path=MEMBERSHIP, times=PERSISTENT)       # every token new, page 1 again
    code, segment = audit(stage, tmp_path, capsys, diff=diff)
    assert ("Customer.io served the same members of segment 31 twice (pages 1 and 2) under different paging "
            "tokens") in assert_error(code, segment)
    assert len(sandbox.requests_to(MEMBERSHIP)) == 2                                  # not 10,000 pages


def test_pages_that_step_back_end_once_the_list_outgrows_the_count(stage, sandbox, tmp_path, capsys):
    """Each new token leads one member back: no page repeats, but the list grows past customer_count."""
    sandbox.inject("fresh_token_same_page", path=MEMBERSHIP, times=PERSISTENT, after=1, back=1)
    code, segment = audit(stage, tmp_path, capsys)
    customer_count = PEOPLE - MISSING + EXTRA
    assert (f"segment 31's membership grew to {4 * PAGE:,} members by page 4, but its customer_count is "
            f"{customer_count:,}: paging is not making progress") in assert_error(code, segment)
    assert len(sandbox.requests_to(MEMBERSHIP)) == 4


@pytest.mark.parametrize("diff", ["memory", "database"])    # database: both reads staged, the first dropped
def test_a_short_page_once_is_caught_by_the_count_and_read_again(diff, stage, sandbox, tmp_path, capsys):
    sandbox.inject("short_page", path=MEMBERSHIP, after=1, drop=3)     # page 2 loses 3 members, silently
    code, segment = audit(stage, tmp_path, capsys, diff=diff)
    assert_exact(code, segment)
    assert len(sandbox.requests_to(MEMBERSHIP)) == 6          # three pages, read twice
    assert len(sandbox.requests_to(COUNT)) == 4               # each read: the bound for paging, the cross-check
    assert (f"the first read of the membership held {PEOPLE - 3:,} profiles but customer_count said {PEOPLE:,}; "
            "both were read again and agreed, and the numbers are from that second read") in segment["warnings"]


def test_a_short_page_on_every_read_is_an_error_never_a_short_pass(stage, sandbox, tmp_path, capsys):
    sandbox.inject("short_page", path=MEMBERSHIP, after=4, drop=3)     # page 2 of the second read (checked first)
    sandbox.inject("short_page", path=MEMBERSHIP, after=1, drop=3)     # page 2 of the first read
    code, segment = audit(stage, tmp_path, capsys)
    assert assert_error(code, segment) == (
        f"Customer.io segment 31: customer_count says {PEOPLE:,} but the membership list held {PEOPLE - 3:,} profiles, "
        "on two reads in a row; the list may be short (a page cut without an error) or the segment is changing while "
        "it is read, so it was not compared: re-run, and report it if it persists")


@pytest.mark.parametrize("delta", [1, -2])
def test_a_count_that_changes_once_is_read_again(delta, stage, sandbox, tmp_path, capsys):
    sandbox.inject("count_changes", path=COUNT, after=1, delta=delta)   # the cross-check, not the bound
    code, segment = audit(stage, tmp_path, capsys)
    assert_exact(code, segment)
    assert any(w.startswith("the first read of the membership held 2,500 profiles but customer_count said "
                            f"{PEOPLE + delta:,}") for w in segment["warnings"])


def test_a_count_that_keeps_disagreeing_is_an_error(stage, sandbox, tmp_path, capsys):
    sandbox.inject("count_changes", path=COUNT, times=PERSISTENT, delta=1)
    code, segment = audit(stage, tmp_path, capsys)
    assert "customer_count says 2,501 but the membership list held 2,500 profiles" in assert_error(code, segment)


def test_the_segment_turning_to_building_is_an_error(stage, sandbox, tmp_path, capsys):
    sandbox.inject("state", path=SEGMENT, state="build", progress=10)
    code, segment = audit(stage, tmp_path, capsys)
    assert "is still building" in assert_error(code, segment)


# --------------------------------------------------------------------------- membership through an export

EXPORT_ENDPOINTS = {"create": r"/v1/exports/customers$", "poll": r"/v1/exports/\d+$",
                    "download link": r"/v1/exports/\d+/download$", "file": r"^/_files/"}


@pytest.mark.parametrize("fault", FAULTS)
@pytest.mark.parametrize("endpoint", EXPORT_ENDPOINTS)
def test_a_passing_fault_on_an_export_is_retried_and_the_numbers_are_exact(endpoint, fault, stage, sandbox, tmp_path,
                                                                          capsys):
    kind, params = FAULTS[fault]
    sandbox.inject(kind, path=EXPORT_ENDPOINTS[endpoint], **params)
    code, segment = audit(stage, tmp_path, capsys, max_retries=1, customerio='membership = "export"')
    assert sandbox.faults.pending() == [] and sandbox.requests_to(r"/membership$") == []
    if (endpoint, kind) == ("file", "truncated_json"):     # a whole answer, half a file: read, found short, refused
        assert "cannot be read" in assert_error(code, segment)
    else:
        assert_exact(code, segment)


@pytest.mark.parametrize("fault", FAULTS)
@pytest.mark.parametrize("endpoint", EXPORT_ENDPOINTS)
def test_a_lasting_fault_on_an_export_makes_the_segment_an_error(endpoint, fault, stage, sandbox, tmp_path, capsys):
    kind, params = FAULTS[fault]
    sandbox.inject(kind, path=EXPORT_ENDPOINTS[endpoint], times=PERSISTENT, **params)
    code, segment = audit(stage, tmp_path, capsys, max_retries=1, customerio='membership = "export"')
    assert_error(code, segment)
