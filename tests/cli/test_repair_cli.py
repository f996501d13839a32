"""``reconcile plan`` and ``reconcile apply`` as a person runs them: the config file, the Track key
from the environment, the screens, the exit codes, and one-line refusals that send nothing."""

from __future__ import annotations

import io
import json
from datetime import datetime, timedelta, timezone

import pytest

from reconcile.cli import main
from reconcile.cli.screens import confirm
from reconcile.demo import DEMO_TRACK_API_KEY
from reconcile.errors import ConfirmationNeeded

from audited_demo import Audited, audit_demo, track_writes
from demo_project import write_config


@pytest.fixture(scope="module")
def audited(tmp_path_factory) -> Audited:
    return audit_demo(tmp_path_factory.mktemp("audited"))


@pytest.fixture
def project(audited, tmp_path, monkeypatch, capsys):
    """A sandbox, a config.toml pointing at it (one retry: the faults here outlast it), the Track key
    exported, and a plan made by the CLI."""
    monkeypatch.setenv("CUSTOMERIO_TRACK_API_KEY", DEMO_TRACK_API_KEY)
    with audited.serve(rate_limit=None) as sandbox:     # several clients one after another: the limit has its own tests
        config = write_config(tmp_path / "project", (audited.url, sandbox.url, audited.api_key))
        config.write_text(config.read_text().replace('site_id = "', 'max_retries = 1\nsite_id = "', 1))
        plan = tmp_path / "plan.jsonl"
        assert main(["plan", str(audited.run_dir), "--config", str(config), "--out", str(plan)]) == 0
        shown = capsys.readouterr().out
        sandbox.requests.clear()
        yield sandbox, config, plan, shown


def test_plan_prints_what_it_will_do_and_where_it_wrote(project):
    sandbox, config, plan, shown = project
    first = shown.splitlines()[0]
    assert first.startswith("plan: ") and first.endswith(" for workspace demo-workspace, from the run of "
                                                         "2026-11-28T09:30:00+00:00 (FAIL)")
    assert "  update    timestamp_unit" in shown and "with --include merge --yes-merge" in shown
    assert f"written: {plan} (and plan.md beside it); review it, then" in shown


def test_apply_without_yes_is_a_dry_run_that_prints_the_calls_and_sends_nothing(project, capsys):
    sandbox, config, plan, _ = project
    assert main(["apply", str(plan), "--config", str(config)]) == 0
    out = capsys.readouterr().out
    assert out.startswith("dry run: nothing was sent. With --yes it would send ")
    assert "  update    PUT /api/v1/customers/cio_" in out and '"_update": true' in out
    assert "not included: merge " in out and sandbox.requests == []


def test_apply_yes_sends_and_a_second_run_sends_nothing_again(project, capsys):
    sandbox, config, plan, _ = project
    assert main(["apply", str(plan), "--yes", "--config", str(config)]) == 0
    first = capsys.readouterr().out.splitlines()[0]
    sent = sum(1 for r in track_writes(sandbox) if r.status == 200)
    assert first == f"applied {sent} of {sent} ({sent} now, 0 before); failed 0; not attempted 0"
    assert main(["apply", str(plan), "--yes", "--config", str(config)]) == 0
    assert capsys.readouterr().out.splitlines()[0] == f"applied {sent} of {sent} (0 now, {sent} before); failed 0; " \
                                                      "not attempted 0"
    assert sum(1 for r in track_writes(sandbox) if r.status == 200) == sent
    for path in (plan, plan.with_name("plan.progress.jsonl"), plan.with_name("plan.md")):
        assert DEMO_TRACK_API_KEY not in path.read_text()


def test_merges_without_their_flag_are_refused_off_a_terminal(project, capsys):
    sandbox, config, plan, _ = project
    assert main(["apply", str(plan), "--yes", "--include", "update,merge", "--config", str(config)]) == 2
    err = capsys.readouterr().err.strip()
    assert err.startswith("reconcile: error: ") and "merges need a second confirmation because they cannot be " \
                                                    "undone: add --yes-merge" in err
    assert sandbox.requests == []
    assert main(["apply", str(plan), "--yes", "--include", "update,merge", "--yes-merge", "--config", str(config)]) == 0


def test_the_second_confirmation_wants_the_count_typed_on_a_terminal():
    class Terminal(io.StringIO):
        def isatty(self) -> bool:
            return True

    needed = ConfirmationNeeded("4 merges need a second confirmation", "merge", 4)
    assert confirm(needed, Terminal("4\n"), io.StringIO())
    assert not confirm(needed, Terminal("y\n"), io.StringIO())
    assert not confirm(needed, io.StringIO("4\n"), io.StringIO())                # not a terminal: never


def test_a_stale_plan_is_refused(project, capsys):
    sandbox, config, plan, _ = project
    lines = plan.read_text().splitlines()
    header = json.loads(lines[0])
    header["data_as_of"] = (datetime.now(timezone.utc) - timedelta(hours=30)).isoformat()
    plan.write_text("\n".join([json.dumps(header), *lines[1:]]) + "\n")
    assert main(["apply", str(plan), "--yes", "--config", str(config)]) == 2
    err = capsys.readouterr().err
    assert "30.0 hours ago, more than customerio.max_plan_age_hours (24): people may have changed since" in err
    assert sandbox.requests == []


def test_a_5xx_that_outlasts_the_retries_exits_3_and_says_how_to_resume(project, capsys):
    sandbox, config, plan, _ = project
    sandbox.inject("status", status=503, path=r"^/api/v1/customers/", after=2, times=99)
    assert main(["apply", str(plan), "--yes", "--config", str(config)]) == 3
    out = capsys.readouterr().out
    assert "; failed 1; not attempted " in out.splitlines()[0]
    assert f"every outcome is in {plan.with_name('plan.progress.jsonl')}; run the same command again" in out
    sandbox.faults.clear()
    assert main(["apply", str(plan), "--yes", "--config", str(config)]) == 0


@pytest.mark.parametrize("args, said", [
    (["--include", "update,teleport"], "--include takes kinds of action, separated by commas (update, identify, "
                                       "merge, delete, suppress); got teleport"),
    (["--yes"], "customerio.track_api_key: environment variable CUSTOMERIO_TRACK_API_KEY is not set"),
])
def test_mistakes_are_one_line_and_exit_2(project, capsys, monkeypatch, args, said):
    sandbox, config, plan, _ = project
    monkeypatch.delenv("CUSTOMERIO_TRACK_API_KEY")
    assert main(["apply", str(plan), "--config", str(config), *args]) == 2
    err = capsys.readouterr().err
    assert said in err and err.count("\n") == 1 and sandbox.requests == []
