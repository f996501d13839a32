"""The command line's grammar: every command, its options and their help.

argparse raises a :class:`~reconcile.errors.UsageError` instead of exiting, so
:func:`reconcile.cli.main` owns every exit code.
"""

from __future__ import annotations

import argparse
from datetime import datetime, timezone
from pathlib import Path

from .. import __version__
from ..errors import UsageError


class _Parser(argparse.ArgumentParser):
    """argparse that raises instead of exiting, so main() owns every exit code."""

    def error(self, message: str):  # noqa: D401
        raise UsageError(f"{message} (see reconcile {self.prog.split()[-1]} --help)"
                         if " " in self.prog else f"{message} (see reconcile --help)")


def build_parser() -> argparse.ArgumentParser:
    parser = _Parser(prog="reconcile", description="Does your Customer.io segment hold the people your "
                                                    "database says it should? Diff, diagnose, report.")
    parser.add_argument("--version", action="version", version=f"reconcile {__version__}")
    commands = parser.add_subparsers(dest="command", required=True, parser_class=_Parser)

    run = commands.add_parser("run", help="reconcile the configured segments and write a report")
    run.add_argument("--config", required=True, type=Path, help="path to config.toml")
    run.add_argument("--segment", action="append", dest="segments", metavar="NAME",
                     help="only this segment (repeatable); default: all")
    run.add_argument("--email", action="store_true", help="email the report as [email] in the config says")
    _add_run_options(run)

    check = commands.add_parser("check", help="the pre-launch gate: reconcile one segment, print its verdict")
    check.add_argument("segment", metavar="SEGMENT", help="the segment's name in the config")
    check.add_argument("--config", required=True, type=Path, help="path to config.toml")
    check.add_argument("--json", action="store_true", help="print the results as JSON on stdout (for CI)")
    _add_run_options(check, out_help="also write the outputs to this folder (default: none)")

    history = commands.add_parser("history", help="the mismatch trend of the runs kept under reports/")
    history.add_argument("--config", required=True, type=Path, help="path to config.toml")
    history.add_argument("--segment", action="append", dest="segments", metavar="NAME", help="only this segment")
    history.add_argument("--last", type=int, default=None, metavar="N", help="how many runs (default: [history] trend_runs)")
    history.add_argument("--reports", type=Path, help="the folder the runs are in (default: reports/ beside the config)")

    demo = commands.add_parser("demo", help="the whole audit on a generated shop and the sandbox Customer.io")
    demo.add_argument("--seed", type=int, default=7, help="the demo shop's random seed (default 7)")
    demo.add_argument("--customers", type=int, default=3000, help="how many customers the demo shop has")
    demo.add_argument("--email", action="store_true", help="email the demo's report (see --config)")
    demo.add_argument("--config", type=Path, help="with --email: send through this config's [email] "
                                                  "(default: the demo's, which mails 127.0.0.1:1025)")
    demo.add_argument("--repair", action="store_true", help="close the loop: audit, plan, apply the plan to the "
                                                            "sandbox, audit again, and show before and after")
    _add_run_options(demo)

    plan = commands.add_parser("plan", help="a repair plan from a finished run's folder, to review before apply")
    plan.add_argument("run_dir", metavar="RUN_DIR", type=Path, help="a finished run's folder (reports/<timestamp>/)")
    plan.add_argument("--out", type=Path, help="the plan file (default: RUN_DIR/plan.jsonl; plan.md beside it)")
    plan.add_argument("--config", type=Path, help="path to config.toml (default: the one the run used)")
    plan.add_argument("--suppress", action="store_true",
                      help="not_in_shop people are suppressed (deleted and their id and email blocked: for erasure "
                           "requests) instead of deleted")

    apply = commands.add_parser("apply", help="send a reviewed plan through the Track API (a dry run unless --yes)")
    apply.add_argument("plan", metavar="PLAN", type=Path, help="the plan file reconcile plan wrote")
    apply.add_argument("--yes", action="store_true", help="send; without it, print what would be sent and send nothing")
    apply.add_argument("--include", default="update,identify", metavar="KINDS",
                       help="the kinds to send: update, identify, merge, delete, suppress, separated by commas "
                            "(default: update,identify)")
    apply.add_argument("--yes-merge", action="store_true", help="confirm the merges (they cannot be undone)")
    apply.add_argument("--yes-delete", action="store_true",
                       help="confirm the deletes and suppressions (they cannot be undone)")
    apply.add_argument("--config", type=Path, help="path to config.toml (default: the one the plan names)")

    sandbox = commands.add_parser("sandbox", help="serve a stand-in Customer.io App API on loopback")
    sandbox.add_argument("--workspace", type=Path, help="a workspace JSON file (default: the demo's)")
    sandbox.add_argument("--port", type=int, default=8765)
    sandbox.add_argument("--data-dir", type=Path, default=Path(".reconcile-demo"),
                         help="where the demo shop is written when no --workspace is given")
    sandbox.add_argument("--seed", type=int, default=7)

    segments = commands.add_parser("segments", help="list the workspace's segments")
    segments.add_argument("--config", required=True, type=Path)
    return parser


def _add_run_options(command: argparse.ArgumentParser,
                     out_help: str = "folder for the outputs (default: reports/<UTC timestamp>/)") -> None:
    command.add_argument("--as-of", type=_instant, help="ISO 8601 instant the windows end at (default: now)")
    command.add_argument("--out", type=Path, help=out_help)
    command.add_argument("--quiet", "-q", action="store_true",
                         help="print nothing but errors (no progress, no summary); progress is off anyway "
                              "when the output is not a terminal")


def _instant(text: str) -> datetime:
    try:
        value = datetime.fromisoformat(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"not an ISO 8601 instant: {text!r} (e.g. 2026-11-28T09:00:00Z)") from None
    return value.replace(tzinfo=timezone.utc) if value.tzinfo is None else value.astimezone(timezone.utc)


__all__ = ["build_parser"]
