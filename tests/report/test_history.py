"""History under reports/: trend, "new since last run", retention, and configs that never mix.

The runs are built by ``runs.make_run``: person numbers are ranges, so what is new between two
runs is stated exactly. In the first segment, run 1 has people 0..299 missing and 300..384
extra; run 2 (``first=200``, ``scale=1.2``) has 200..559 missing and 560..661 extra. A person
is the same discrepancy only on the same side, so only 200..299 (missing both times) carry
over: 462 - 100 = 362 are new, 385 - 100 = 285 are resolved.
"""

from __future__ import annotations

import json

import pytest

from reconcile.config import HistoryConfig
from reconcile.report.history import History, history_key
from reconcile.report import write_outputs
from reconcile.cli.screens import history_table

from built_runs import make_run, standard_specs, weekly

FIRST = "purchased_30d_email_consent"


def write(reports, day, key="config-a", keep=52, first=0, scale=1.0, config_path="/srv/a/config.toml"):
    history = History(reports, key, HistoryConfig(keep_runs=keep))
    run = make_run(standard_specs(first=first, scale=scale), weekly(day), config_path=config_path)
    return run, history, write_outputs(run, reports / f"2026{day:04d}T090000Z", history=history)


def test_second_run_shows_trend_and_new_people(tmp_path):
    reports = tmp_path / "reports"
    write(reports, 14)
    run, history, folder = write(reports, 21, first=200, scale=1.2)
    context = history.context(run)
    first = context.for_segment(FIRST)
    assert context.runs_before == 1
    assert [round(p.mismatch_rate, 4) for p in first.points] == [round(385 / 12408, 4), round(462 / 12408, 4)]
    assert first.change == pytest.approx((462 - 385) / 12408)
    assert len(first.new_people) == 362 and first.resolved_people == 285
    assert set(first.new_people["id"]) == {f"{n:06d}" for n in range(300, 662)}
    html = (folder / "report.html").read_text()
    card = html[html.index(f'id="segment-{FIRST}"'):html.index('id="segment-cart_abandoners_24h"')]
    assert "Mismatch over the last 2 runs" in card and card.count("<svg") == 2
    assert "362 people differ now who did not on 2026-11-14; 285 who differed then no longer do." in card
    assert "+0.6 pts" in card                                      # 3.1 % → 3.7 %
    assert json.loads((folder / "results.json").read_text())["history_key"] == "config-a"


def test_new_causes_are_marked_only_when_the_previous_run_was_diagnosed(tmp_path):
    reports = tmp_path / "reports"
    run1, history, folder1 = write(reports, 14)
    assert "new since last run" not in (folder1 / "report.html").read_text()
    # the previous run recorded per-cause counts without window_edge: it is new now
    data = json.loads((folder1 / "results.json").read_text())
    data["segments"][1]["causes"] = {"attribute_stale": {"count": 31, "severity": "high"},
                                     "unexplained": {"count": 5, "severity": "medium"}}
    (folder1 / "results.json").write_text(json.dumps(data))
    run2, history2, folder2 = write(reports, 21)
    assert history2.context(run2).for_segment("cart_abandoners_24h").new_causes == ["window_edge"]
    assert history2.context(run2).for_segment(FIRST).new_causes == []   # not diagnosed then: nothing claimed
    assert "new since last run" in (folder2 / "report.html").read_text()


def test_retention_keeps_the_newest_runs_of_this_config_only(tmp_path):
    reports = tmp_path / "reports"
    for day in (7, 14):
        write(reports, day, key="config-b", config_path="/srv/b/config.toml")
    for day in (1, 8, 15, 22):
        write(reports, day, keep=2)
    (reports / "notes").mkdir()                                    # not a run: never touched
    kept = sorted(p.name for p in reports.iterdir())
    assert kept == ["20260007T090000Z", "20260014T090000Z", "20260015T090000Z", "20260022T090000Z", "notes"]
    assert [r.folder.name for r in History(reports, "config-a").runs()] == ["20260015T090000Z", "20260022T090000Z"]


def test_runs_of_another_config_never_mix(tmp_path):
    reports = tmp_path / "reports"
    write(reports, 14, key="config-b", config_path="/srv/b/config.toml")
    run, history, folder = write(reports, 21)
    assert history.context(run).runs_before == 0
    assert "the first run of this config here" in (folder / "report.html").read_text()
    assert history_key("/srv/a/config.toml") != history_key("/srv/b/config.toml")
    assert history_key(tmp_path / "x" / ".." / "config.toml") == history_key(tmp_path / "config.toml")


def test_the_trend_table(tmp_path):
    reports = tmp_path / "reports"
    write(reports, 14)
    write(reports, 21, first=200, scale=1.2)
    table = history_table(History(reports, "config-a").runs(), segments=[FIRST], folder=reports, keep_runs=52)
    assert table.splitlines()[0] == f"2 runs of this config kept in {reports} (keep_runs = 52); the last 2 shown, oldest first."
    assert "\n".join(table.splitlines()[2:]) == (
        f"{FIRST}  (tolerance 1.0 %)\n"
        "  as of             status  mismatch   missing     extra     change\n"
        "  2026-11-14 09:00  FAIL       3.1 %       300        85           \n"
        "  2026-11-21 09:00  FAIL       3.7 %       360       102   +0.6 pts")
    assert history_table([], folder=reports).startswith("No runs of this config")
