"""The commands that set a project up rather than audit it: ``init``, ``validate`` and ``schema``."""

from __future__ import annotations

import argparse
import json
import sys

from ..errors import ExitCode
from .output import show
from .parser import config_path


def init(args: argparse.Namespace) -> int:
    from ..init import init_project

    written = init_project(args.folder)
    where = args.folder.absolute()
    show("\n".join([f"wrote {path}" for path in written] + [
        "",
        f"next: cd {where} && reconcile sandbox &     (the demo's shop and Customer.io, to try the config as written)",
        "      export CUSTOMERIO_APP_API_KEY=sandbox-demo-key && reconcile validate",
        "then point [database] and [customerio] at your own and write your segments (reconcile segments lists the ids)"]))
    return ExitCode.PASS


def validate(args: argparse.Namespace) -> int:
    """One line per thing checked, ``ok`` or ``problem``, then the exit code a run would have for them."""
    from ..validate import exit_code, validate as check

    colour = sys.stdout.isatty()
    findings = []
    for finding in check(config_path(args)):
        findings.append(finding)
        label = f"{'ok' if finding.ok else 'problem':<8}"
        if colour:      # green and red only for a person at a terminal; pipes and logs get plain text
            label = f"\033[{32 if finding.ok else 31}m{label}\033[0m"
        show(f"{label} {finding.message}")
    code = exit_code(findings)
    problems = sum(1 for f in findings if not f.ok)
    if code == ExitCode.PASS:
        show(f"valid: {len(findings)} checks, no problem; reconcile run would start")
    else:
        show(f"{problems} problem{'s' if problems != 1 else ''}: fix {'it' if problems == 1 else 'them'} and run "
             f"reconcile validate again (exit {int(code)})")
    return code


def schema(args: argparse.Namespace) -> int:
    if args.document == "config":
        from ..config.schema import config_schema

        document = config_schema()
    elif args.document == "results":
        from ..report.schema import results_schema

        document = results_schema()
    else:
        from ..deliver.webhook import schema as webhook_schema

        document = webhook_schema()
    show(json.dumps(document, indent=2))
    return ExitCode.PASS


__all__ = ["init", "validate", "schema"]
