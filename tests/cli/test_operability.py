"""The small frictions, each fixed: logging flags (--quiet is errors and the verdict; a retry that
recovered is silent), ``segments`` without ``[[segments]]``, ``history`` without the API key,
``--no-history`` trial runs, a closed pipe, results.json's versions and schema, and imports that
load nothing heavy and change nothing process-wide."""

from __future__ import annotations

import json
import subprocess
import sys
from datetime import datetime, timezone
from pathlib import Path

import jsonschema
import pytest

from reconcile import __version__
from reconcile.cli import main
from reconcile.report.schema import results_schema
from reconcile.demo import build_demo
from reconcile.sandbox import Sandbox, Workspace

from demo_project import served_demo_shop, write_config

AS_OF = datetime(2026, 11, 23, 9, 0, tzinfo=timezone.utc)
SEGMENT = "purchased_30d_email_consent"


@pytest.fixture(scope="module")
def shop(tmp_path_factory):
    with served_demo_shop(tmp_path_factory.mktemp("shop"), AS_OF) as served:
        yield served


REPO = Path(__file__).resolve().parents[2]


def run_cli(*argv: str, **kwargs) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "reconcile", *argv], capture_output=True, text=True, timeout=300,
                          **kwargs)


@pytest.fixture
def blip(tmp_path):
    """The demo shop and a sandbox of its own, whose answers a test can spoil: (shop, sandbox)."""
    url = f"sqlite:///{tmp_path / 'blip.db'}"
    demo = build_demo(url, as_of=AS_OF, seed=7, customers=300)
    with Sandbox(Workspace.from_dict(demo.workspace), api_key=demo.api_key) as sandbox:
        yield (url, sandbox.url, demo.api_key), sandbox


def test_quiet_is_errors_and_the_verdict_and_a_recovered_retry_is_silent(shop, tmp_path, capsys):
    config = write_config(tmp_path, shop)
    code = main(["run", "--config", str(config), "--segment", SEGMENT, "--as-of", AS_OF.isoformat(), "--quiet"])
    out, err = capsys.readouterr()
    results = json.loads(next((tmp_path / "reports").iterdir()).joinpath("results.json").read_text())
    purchases = results["purchases"]          # the demo's planted purchase problems (README "Purchases")
    wrong = purchases["activity"]["sampled"] - purchases["activity"]["found_once"]
    assert code == 1 and err == "" and out == (
        "FAIL: 1 of 1 segment out of tolerance, 8 critical data-quality checks failed, purchases out of tolerance "
        f"({round(purchases['problem_rate'] * purchases['orders'])} of {purchases['orders']} orders, {wrong} of "
        f"{purchases['activity']['sampled']} sampled wrong in Customer.io)\n")
    assert results["status"] == "fail" and purchases["status"] == "fail" and wrong > 0


def test_verbosity_levels_on_a_retry_that_recovered(tmp_path, blip):
    spoilable, sandbox = blip
    config = write_config(tmp_path, spoilable)
    argv = ["run", "--config", str(config), "--segment", SEGMENT, "--as-of", AS_OF.isoformat()]
    seen = {}
    for flag in ("--quiet", None, "-v", "--debug"):
        sandbox.inject("status", path=r"^/v1/segments/11$", times=1, status=503)   # one blip, then well
        done = run_cli(*argv, "--out", str(tmp_path / f"out{flag}"), *([flag] if flag else []))
        assert done.returncode == 1, done.stderr
        seen[flag] = done.stderr
    retry = "Customer.io GET /v1/segments/11: 503 Service Unavailable"
    assert seen["--quiet"] == ""                                     # the retry recovered: nothing to say
    assert seen[None].startswith(f"reconcile: warning: {retry}") and seen[None].count("\n") == 1
    assert f"reconcile: warning: {retry}" in seen["-v"] and "reconcile: info: segment purchased_30d_email_consent" \
        in seen["-v"]
    assert " DEBUG reconcile." in seen["--debug"] and " WARNING reconcile.customerio.client: " + retry in seen["--debug"]
    assert "sandbox-demo-key" not in "".join(seen.values())


def test_segments_lists_ids_from_a_config_without_segments(shop, tmp_path, capsys):
    config = write_config(tmp_path, shop)
    config.write_text(config.read_text().split("[[segments]]")[0])
    assert main(["segments", "--config", str(config)]) == 0
    lines = capsys.readouterr().out.splitlines()
    assert lines[0].split() == ["id", "type", "state", "count", "name"]
    assert [line.split()[0] for line in lines[1:]] == ["11", "12", "13", "14", "15"]
    assert main(["run", "--config", str(config)]) == 2                 # a run still needs segments
    assert capsys.readouterr().err == "reconcile: error: config.toml: segments: is required\n"


def test_history_needs_neither_the_key_nor_the_database(shop, tmp_path, monkeypatch):
    config = write_config(tmp_path, shop)
    assert main(["run", "--config", str(config), "--segment", SEGMENT, "--as-of", AS_OF.isoformat(), "--quiet"]) == 1
    text = config.read_text()
    text = text.replace(f'app_api_key = "{shop[2]}"', 'app_api_key = "${UNSET_CIO_KEY_FOR_TEST}"')
    config.write_text(text.replace(f'url = "{shop[0]}"', 'url = "${UNSET_DB_URL_FOR_TEST}"', 1))
    monkeypatch.delenv("UNSET_CIO_KEY_FOR_TEST", raising=False)
    done = run_cli("history", "--config", str(config))
    assert done.returncode == 0, done.stderr
    assert done.stdout.startswith(f"1 runs of this config kept in {tmp_path / 'reports'} (keep_runs = 52)")
    assert run_cli("run", "--config", str(config)).returncode == 2    # a run still needs them


def test_no_history_keeps_a_trial_run_out_of_the_trend(shop, tmp_path, capsys):
    config = write_config(tmp_path, shop)
    base = ["run", "--config", str(config), "--segment", SEGMENT, "--quiet"]
    assert main([*base, "--as-of", AS_OF.isoformat(), "--out", str(tmp_path / "reports" / "weekly")]) == 1
    assert main([*base, "--as-of", AS_OF.replace(day=24).isoformat(), "--no-history",
                 "--out", str(tmp_path / "reports" / "trial")]) == 1
    trial = json.loads((tmp_path / "reports" / "trial" / "results.json").read_text())
    assert "history_key" not in trial and "history_key" in json.loads(
        (tmp_path / "reports" / "weekly" / "results.json").read_text())
    capsys.readouterr()
    assert main(["history", "--config", str(config)]) == 0
    out = capsys.readouterr().out
    assert out.startswith("1 runs of this config kept") and "2026-11-24" not in out


def test_a_closed_pipe_ends_the_printing_not_the_run(tmp_path):
    process = subprocess.Popen([sys.executable, "-m", "reconcile", "demo", "--out", str(tmp_path / "demo"),
                                "--customers", "300"], stdout=subprocess.PIPE, stderr=subprocess.PIPE, cwd=tmp_path)
    process.stdout.close()                                            # `| head -0`: the reader is gone
    err = process.stderr.read().decode()
    assert process.wait(timeout=300) == 1                             # the demo's verdict, as ever
    assert err == "" and (tmp_path / "demo" / "report.html").exists()


def test_results_json_says_its_schema_and_reconcile_version(shop, tmp_path, capsys):
    config = write_config(tmp_path, shop)
    assert main(["check", SEGMENT, "--config", str(config), "--as-of", AS_OF.isoformat(), "--json"]) == 1
    results = json.loads(capsys.readouterr().out)
    assert results["schema_version"] == 1 and results["reconcile_version"] == __version__
    assert list(results)[:2] == ["schema_version", "reconcile_version"]
    jsonschema.validate(results, results_schema())
    assert main(["schema", "results"]) == 0
    assert json.loads(capsys.readouterr().out) == results_schema()
    del results["segments"][0]["truth_count"]
    with pytest.raises(jsonschema.ValidationError):
        jsonschema.validate(results, results_schema())


def test_help_and_version_import_no_data_library_and_importing_changes_no_arrow_setting():
    probe = ("import sys, runpy\n"
             "sys.argv = ['reconcile', sys.argv[1]]\n"
             "try:\n    runpy.run_module('reconcile', run_name='__main__')\n"
             "except SystemExit:\n    pass\n"
             "print(sorted(m for m in ('pandas', 'pyarrow', 'numpy', 'great_expectations') if m in sys.modules),"
             " file=sys.stderr)")
    for flag in ("--help", "--version"):
        done = subprocess.run([sys.executable, "-c", probe, flag], capture_output=True, text=True, timeout=120)
        assert done.returncode == 0 and done.stderr.strip() == "[]", (flag, done.stderr)
    pool = ("import pyarrow as pa; before = pa.default_memory_pool().backend_name\n"
            "import reconcile.audit, reconcile.compare, reconcile.customerio.membership, reconcile.report\n"
            "print(before, pa.default_memory_pool().backend_name)")
    done = subprocess.run([sys.executable, "-c", pool], capture_output=True, text=True, timeout=120,
                          env={"PATH": "/usr/bin:/bin", "PYTHONPATH": str(REPO)})
    before, after = done.stdout.split()
    assert done.returncode == 0 and before == after != "system"


@pytest.mark.parametrize("flags, shown", [({"quiet": True}, False), ({}, False), ({"verbose": True}, True),
                                          ({"debug": True}, True)])
def test_a_python_warning_is_a_log_line_only_when_asked_for(flags, shown):
    """A library's FutureWarning speaks to maintainers: cron (default, --quiet) never mails it."""
    import io
    import warnings

    from reconcile.cli.output import level_for, setup_logging, stop_logging

    stream = io.StringIO()
    handler = setup_logging(level_for(**flags), stream)
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("always")
            warnings.warn("concatenation will change", FutureWarning)
    finally:
        stop_logging(handler)
    lines = stream.getvalue().splitlines()
    assert bool(lines) == shown
    assert not lines or "FutureWarning: concatenation will change" in lines[0]
    assert warnings.showwarning.__module__ == "warnings"          # stopping gives warnings back to Python
