"""deploy/: the cron line, the systemd units and the GitHub Actions workflow run real commands."""

from __future__ import annotations

import re
import shlex
import shutil
import subprocess
import sys
from pathlib import Path

from reconcile.cli import build_parser

DEPLOY = Path(__file__).resolve().parents[1] / "deploy"


def reconcile_argv(line: str) -> list[str]:
    """The arguments after ``…bin/reconcile`` in a shell command line."""
    words = [w for w in shlex.split(line) if not w.startswith(">")]    # redirections are the shell's
    start = next(i for i, w in enumerate(words) if w.endswith("bin/reconcile") or w == "reconcile")
    return words[start + 1:]


def test_the_cron_line_is_a_weekly_quiet_emailed_run():
    entries = [line for line in (DEPLOY / "reconcile.cron").read_text().splitlines()
               if line and not line.startswith("#") and "=" not in line.split()[0]]
    assert len(entries) == 1
    minute, hour, day, month, weekday, user, *command = entries[0].split()
    assert (minute, hour, day, month, weekday, user) == ("0", "7", "*", "*", "1", "reconcile")
    args = build_parser().parse_args(reconcile_argv(" ".join(command)))
    assert (args.command, args.email, args.quiet, args.config) == ("run", True, True, Path("config.toml"))
    assert command[-1] == ">/dev/null"              # the verdict line is dropped: cron mails only errors


def test_the_systemd_units_verify(tmp_path):
    service = (DEPLOY / "systemd" / "reconcile.service").read_text()
    exec_start = re.search(r"^ExecStart=(.*)$", service, re.M).group(1)
    args = build_parser().parse_args(reconcile_argv(exec_start))
    assert (args.command, args.email, args.quiet) == ("run", True, True)
    assert re.search(r"^SuccessExitStatus=1$", service, re.M)
    # systemd's own checker, with the unit pointed at this checkout's reconcile and user
    here = Path(sys.executable).parent / "reconcile"
    (tmp_path / "reconcile.service").write_text(
        service.replace("/opt/reconcile/.venv/bin/reconcile", str(here)).replace("User=reconcile\nGroup=reconcile\n", ""))
    shutil.copy(DEPLOY / "systemd" / "reconcile.timer", tmp_path)
    done = subprocess.run(["systemd-analyze", "verify", str(tmp_path / "reconcile.timer"), str(tmp_path / "reconcile.service")],
                          capture_output=True, text=True)
    assert done.returncode == 0 and done.stderr.strip() == "", done.stderr
    calendar = subprocess.run(["systemd-analyze", "calendar", "Mon *-*-* 07:00:00"], capture_output=True, text=True)
    assert calendar.returncode == 0 and "Next elapse: Mon" in calendar.stdout


def test_every_recipe_installs_from_the_lock():
    assert "-c \"$constraints\"" in (DEPLOY.parent / "scripts" / "setup").read_text()
    assert 'constraints="constraints.txt"' in (DEPLOY.parent / "scripts" / "setup").read_text()
    assert "run: scripts/setup\n" in (DEPLOY / "github" / "weekly-audit.yml").read_text()
    for recipe in ("reconcile.cron", "systemd/reconcile.service"):
        assert "`scripts/setup`" in (DEPLOY / recipe).read_text() and "constraints.txt" in (DEPLOY / recipe).read_text()


def test_the_github_workflow_runs_weekly_with_secrets_from_the_environment():
    workflow = (DEPLOY / "github" / "weekly-audit.yml").read_text()
    assert '- cron: "0 7 * * 1"' in workflow
    run_line = re.search(r"run: (\.venv/bin/reconcile run .*)$", workflow, re.M).group(1)
    args = build_parser().parse_args(reconcile_argv(run_line.replace("${{ github.run_id }}", "123")))
    assert args.command == "run" and args.email and args.out == Path("reports/run-123")
    for secret in ("CUSTOMERIO_APP_API_KEY", "SHOP_DATABASE_URL", "SMTP_PASSWORD"):
        assert f"{secret}: ${{{{ secrets.{secret} }}}}" in workflow
    assert "uses: actions/upload-artifact@v4" in workflow and "path: reports/run-${{ github.run_id }}/" in workflow
    assert workflow.count("if: always()") == 2                      # the report is kept when the verdict is FAIL
