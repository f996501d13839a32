"""The command line's grammar: every command, its options and their help.

argparse raises a :class:`~reconcile.errors.UsageError` instead of exiting, so
:func:`reconcile.cli.main` owns every exit code.
"""

from __future__ import annotations

import argparse
import os
from datetime import datetime, timezone
from pathlib import Path

from .. import __version__
from ..errors import UsageError

CONFIG_VARIABLE = "RECONCILE_CONFIG"
CONFIG_HELP = f"path to config.toml (default: ${CONFIG_VARIABLE}, else ./config.toml)"


class _Parser(argparse.ArgumentParser):
    """argparse that raises instead of exiting, so main() owns every exit code."""

    def error(self, message: str):  # noqa: D401
        raise UsageError(f"{message} (see reconcile {self.prog.split()[-1]} --help)"
                         if " " in self.prog else f"{message} (see reconcile --help)")


def config_path(args: argparse.Namespace) -> Path:
    """``--config``, else ``$RECONCILE_CONFIG``, else ``./config.toml``; a missing default says how to get one."""
    if args.config is not None:
        return args.config
    if os.environ.get(CONFIG_VARIABLE):
        return Path(os.environ[CONFIG_VARIABLE])
    here = Path("config.toml")
    if not here.exists():
        raise UsageError(f"no config.toml in {Path.cwd()}: pass --config PATH, set {CONFIG_VARIABLE}, "
                         "or write one with reconcile init")
    return here


def build_parser() -> argparse.ArgumentParser:
    """Every command and option, in the order ``--help`` lists them.

    One long declaration on purpose: it reads top to bottom like the help text, and splitting it
    per command would scatter the shared flags (config, logging) across helpers."""
    parser = _Parser(prog="reconcile", description="Does your Customer.io segment hold the people your "
                                                    "database says it should? Diff, diagnose, report.")
    parser.add_argument("--version", action="version", version=f"reconcile {__version__}")
    commands = parser.add_subparsers(dest="command", required=True, parser_class=_Parser)
    logs = _logging_options()

    run = commands.add_parser("run", parents=[logs], help="reconcile the configured segments and write a report")
    _add_config(run)
    run.add_argument("--segment", action="append", dest="segments", metavar="NAME",
                     help="only this segment (repeatable); default: all")
    _add_delivery(run)
    _add_run_options(run)

    check = commands.add_parser("check", parents=[logs],
                                help="the pre-launch gate: reconcile one segment, print its verdict")
    check.add_argument("segment", metavar="SEGMENT", help="the segment's name in the config")
    _add_config(check)
    check.add_argument("--json", action="store_true", help="print the results as JSON on stdout (for CI)")
    _add_run_options(check, out_help="also write the outputs to this folder (default: none)")

    history = commands.add_parser("history", parents=[logs], help="the mismatch trend of the runs kept under reports/")
    _add_config(history)
    history.add_argument("--segment", action="append", dest="segments", metavar="NAME", help="only this segment")
    history.add_argument("--last", type=int, default=None, metavar="N", help="how many runs (default: [history] trend_runs)")
    history.add_argument("--reports", type=Path, help="the folder the runs are in (default: reports/ beside the config)")

    demo = commands.add_parser("demo", parents=[logs],
                               help="the whole audit on a generated shop and the sandbox Customer.io")
    demo.add_argument("--seed", type=int, default=7, help="the demo shop's random seed (default 7)")
    demo.add_argument("--customers", type=int, default=3000, help="how many customers the demo shop has")
    demo.add_argument("--config", type=Path, help="with --email, --slack or --webhook: deliver through this config's "
                                                  "sections (default for --email: the demo's, which mails 127.0.0.1:1025)")
    demo.add_argument("--repair", action="store_true", help="close the loop: audit, plan, apply the plan to the "
                                                            "sandbox, audit again, and show before and after")
    _add_delivery(demo)
    _add_run_options(demo)

    plan = commands.add_parser("plan", parents=[logs],
                               help="a repair plan from a finished run's folder, to review before apply")
    plan.add_argument("run_dir", metavar="RUN_DIR", type=Path, help="a finished run's folder (reports/<timestamp>/)")
    plan.add_argument("--out", type=Path, help="the plan file (default: RUN_DIR/plan.jsonl; plan.md beside it)")
    plan.add_argument("--config", type=Path, help="path to config.toml (default: the one the run used)")
    plan.add_argument("--suppress", action="store_true",
                      help="not_in_shop people are suppressed (deleted and their id and email blocked: for erasure "
                           "requests) instead of deleted")

    apply = commands.add_parser("apply", parents=[logs],
                                help="send a reviewed plan through the Track API (a dry run unless --yes)")
    apply.add_argument("plan", metavar="PLAN", type=Path, help="the plan file reconcile plan wrote")
    apply.add_argument("--yes", action="store_true", help="send; without it, print what would be sent and send nothing")
    apply.add_argument("--include", default="update,identify", metavar="KINDS",
                       help="the kinds to send: update, identify, merge, delete, suppress, separated by commas "
                            "(default: update,identify)")
    apply.add_argument("--yes-merge", action="store_true", help="confirm the merges (they cannot be undone)")
    apply.add_argument("--yes-delete", action="store_true",
                       help="confirm the deletes and suppressions (they cannot be undone)")
    apply.add_argument("--config", type=Path, help="path to config.toml (default: the one the plan names)")

    sandbox = commands.add_parser("sandbox", parents=[logs],
                                  help="serve a stand-in Customer.io App API and Track API on loopback")
    sandbox.add_argument("--workspace", type=Path, help="a workspace JSON file (default: the demo's)")
    sandbox.add_argument("--port", type=int, default=8765)
    sandbox.add_argument("--data-dir", type=Path, default=Path(".reconcile-demo"),
                         help="where the demo shop is written when no --workspace is given")
    sandbox.add_argument("--seed", type=int, default=7)

    segments = commands.add_parser("segments", parents=[logs], help="list the workspace's segments (to find their ids)")
    _add_config(segments)

    init = commands.add_parser("init", parents=[logs],
                               help="write a commented config.toml, the shipped suites and the config's schema")
    init.add_argument("folder", nargs="?", type=Path, default=Path("."), metavar="DIR",
                      help="where (default: here); nothing is overwritten")

    validate = commands.add_parser("validate", parents=[logs], help=(
        "check the config, its suites, the database, every query, the API key and each segment id, "
        "without running the audit"))
    _add_config(validate)

    schema = commands.add_parser("schema", parents=[logs], help="print a JSON Schema: the config's, results.json's "
                                                                "or the webhook summary's")
    schema.add_argument("document", nargs="?", choices=("config", "results", "webhook"), default="config")
    return parser


def _logging_options() -> argparse.ArgumentParser:
    logs = _Parser(add_help=False)
    logs.add_argument("--verbose", "-v", action="store_true", help="also say what each step did (on stderr)")
    logs.add_argument("--debug", action="store_true", help="everything reconcile logs, with times (on stderr)")
    return logs


def _add_config(command: argparse.ArgumentParser) -> None:
    command.add_argument("--config", type=Path, default=None, help=CONFIG_HELP)


def _add_delivery(command: argparse.ArgumentParser) -> None:
    command.add_argument("--email", action="store_true", help="email the report as [email] in the config says")
    command.add_argument("--slack", action="store_true", help="post the verdict to Slack as [slack] says")
    command.add_argument("--webhook", action="store_true", help="post the JSON summary as [webhook] says")


def _add_run_options(command: argparse.ArgumentParser,
                     out_help: str = "folder for the outputs (default: reports/<UTC timestamp>/)") -> None:
    command.add_argument("--as-of", type=_instant, help="ISO 8601 instant the windows end at (default: now)")
    command.add_argument("--out", type=Path, help=out_help)
    command.add_argument("--no-history", dest="history", action="store_false",
                         help="a trial run: compared with the kept runs, but not kept among them (not in the "
                              "trend, never pruned, prunes nothing)")
    command.add_argument("--quiet", "-q", action="store_true",
                         help="print only errors and the verdict (no progress, no summary, no warnings)")


def _instant(text: str) -> datetime:
    """An ISO 8601 instant in UTC, between years 1 and 9999 (Python's range) once in UTC."""
    try:
        value = datetime.fromisoformat(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"not an ISO 8601 instant: {text!r} (e.g. 2026-11-28T09:00:00Z)") from None
    try:
        return value.replace(tzinfo=timezone.utc) if value.tzinfo is None else value.astimezone(timezone.utc)
    except OverflowError:
        raise argparse.ArgumentTypeError(f"{text!r} is outside years 1 to 9999 in UTC; give a later or earlier "
                                         "instant") from None


__all__ = ["build_parser", "config_path", "CONFIG_VARIABLE"]
