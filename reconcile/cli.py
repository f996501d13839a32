"""The command line: parse argv, call the library, map its exceptions to exit codes.

Exit codes (a contract: cron jobs and CI gates depend on them):

    0  every segment within tolerance
    1  at least one segment out of tolerance (or a failed critical expectation)
    2  usage or configuration error
    3  something could not be compared (API or database unreachable, segment unknown or
       still building); 3 wins over 1
    4  the report was written but could not be emailed
"""

from __future__ import annotations

import argparse
import sys
from datetime import datetime, timezone
from pathlib import Path
from typing import Sequence

from . import __version__
from .errors import CompareError, ConfigError, DeliveryError, ReconcileError, UsageError
from .checks.model import checks_verdict, summary_lines
from .results import RunResult, Status
from .summary import worst

EXIT_PASS, EXIT_FAIL, EXIT_USAGE, EXIT_COULD_NOT_COMPARE, EXIT_DELIVERY = 0, 1, 2, 3, 4


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
    _add_run_options(demo)

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


def default_out_dir(base: Path, now: datetime | None = None) -> Path:
    """``base/reports/<UTC timestamp>``, made unique if two runs share a second."""
    stamp = (now or datetime.now(timezone.utc)).strftime("%Y%m%dT%H%M%SZ")
    candidate, n = base / "reports" / stamp, 1
    while candidate.exists():
        n += 1
        candidate = base / "reports" / f"{stamp}-{n}"
    return candidate


def exit_code_for(run: RunResult) -> int:
    status = run.status
    return EXIT_COULD_NOT_COMPARE if status == Status.ERROR else EXIT_FAIL if status == Status.FAIL else EXIT_PASS


def print_summary(run: RunResult, out: Path | None, stream=None) -> None:
    stream = stream or sys.stdout
    width = max([len(s.name) for s in run.segments] + [7])
    print(f"{'segment':<{width}}  status  {'shop':>9} {'cio':>9} {'missing':>8} {'extra':>8} {'mismatch':>9}", file=stream)
    for s in run.segments:
        if s.status == Status.ERROR:
            print(f"{s.name:<{width}}  ERROR   {s.error}", file=stream)
            continue
        rate = "n/a" if s.mismatch_rate is None else f"{s.mismatch_rate * 100:.1f} %"
        print(f"{s.name:<{width}}  {s.status.upper():<6}  {s.truth_count:>9,} {s.customerio_count:>9,} "
              f"{s.missing_in_customerio:>8,} {s.extra_in_customerio:>8,} {rate:>9}", file=stream)
        if s.causes:   # the diagnosis: worst first
            print(f"{'':<{width}}  causes: " + ", ".join(f"{c} {v['count']:,} ({v['severity']})"
                                                        for c, v in s.causes.items()), file=stream)
        for warning in s.warnings:
            print(f"{'':<{width}}  warning: {warning}", file=stream)
    for line in summary_lines(run.checks):
        print(line, file=stream)
    verdict = {"pass": "PASS", "fail": "FAIL", "error": "ERROR"}[run.status]
    severity = worst(s.worst_severity for s in run.segments)   # the diagnosis' worst, just above the verdict
    if severity:
        print(f"worst problem: {severity}: " + ", ".join(sorted({c for s in run.segments for c, v in (s.causes or {}).items()
                                                                 if v["severity"] == severity})), file=stream)
    where = f"; report: {out / 'report.html'}" if out else ""
    print(f"{verdict}: {run.count('fail')} failed, {run.count('error')} could not be compared, "
          f"{run.count('pass')} passed{checks_verdict(run.checks)}{where}", file=stream)


def cmd_run(args) -> int:
    from .audit import run_audit
    from .config import load_config
    from .history import History
    from .report import write_outputs
    from .terminal import progress_display, wants_progress

    config = load_config(args.config)
    settings = _email_settings(config) if args.email else None
    out = args.out or default_out_dir(config.path.parent)
    history = History.for_config(config, out.parent)
    with progress_display(wants_progress(args.quiet)) as progress:
        run = run_audit(config, as_of=args.as_of, segments=args.segments, progress=progress)
    out = write_outputs(run, out, history=history)
    if not args.quiet:
        print_summary(run, out)
    _deliver(run, out, settings, history, args.quiet)
    return exit_code_for(run)


def cmd_demo(args) -> int:
    from .demo.runner import demo_history, run_demo
    from .terminal import progress_display, wants_progress

    settings = None
    if args.config and not args.email:
        raise UsageError("demo uses --config only for its [email] section, with --email")
    if args.email:
        from .config import load_config
        from .demo.runner import demo_email_settings
        settings = _email_settings(load_config(args.config)) if args.config else demo_email_settings()
    out = args.out or default_out_dir(Path.cwd())
    history = demo_history(out.parent)
    with progress_display(wants_progress(args.quiet)) as progress:
        run, out = run_demo(as_of=args.as_of, seed=args.seed, customers=args.customers, out=out,
                            progress=progress, history=history)
    if not args.quiet:
        print_summary(run, out)
        print("The demo's Customer.io workspace drifted on purpose, so FAIL is the expected verdict.")
    _deliver(run, out, settings, history, args.quiet)
    return exit_code_for(run)


def cmd_check(args) -> int:
    from .audit import run_audit
    from .config import load_config
    from .history import History
    from .report import results_json, write_outputs
    from .terminal import check_screen, progress_display, wants_progress

    config = load_config(args.config)
    with progress_display(wants_progress(args.quiet or args.json)) as progress:
        run = run_audit(config, as_of=args.as_of, segments=[args.segment], progress=progress)
    if args.out:
        write_outputs(run, args.out, history=History.for_config(config, args.out.parent))
    if args.json:
        print(results_json(run), end="")
    elif not args.quiet:
        print(check_screen(run))
    return exit_code_for(run)


def cmd_history(args) -> int:
    from .config import load_config
    from .history import History
    from .terminal import history_table

    config = load_config(args.config)
    folder = args.reports or config.path.parent / "reports"
    history = History.for_config(config, folder)
    last = config.history.trend_runs if args.last is None else args.last
    if last <= 0:
        raise UsageError("--last must be a positive number of runs")
    print(history_table(history.runs(), segments=args.segments, last=last, folder=folder,
                        keep_runs=config.history.keep_runs))
    return EXIT_PASS


def _email_settings(config):
    """The config's [email], checked before the audit starts (its password variable included)."""
    if config.email is None:
        raise UsageError(f"--email needs an [email] section in {config.path.name} (see the README, \"Email\")")
    config.email.password()
    return config.email


def _deliver(run: RunResult, out: Path, settings, history, quiet: bool) -> None:
    if settings is None:
        return
    from .deliver import send_report

    delivery = send_report(run, out, settings, history.context(run, exclude=out))
    if not quiet:
        print(delivery.summary)


def cmd_sandbox(args) -> int:
    from .demo.runner import serve_sandbox

    return serve_sandbox(workspace_path=args.workspace, port=args.port, data_dir=args.data_dir, seed=args.seed)


def cmd_segments(args) -> int:
    from .config import load_config
    from .customerio import client_from_settings

    client = client_from_settings(load_config(args.config).customerio)
    rows = []
    for segment in client.list_segments():
        count = client.segment_count(segment.id) if segment.state == "finished" else None
        rows.append((segment.id, segment.name, segment.type, segment.state, count))
    print(f"{'id':>6}  {'type':<8} {'state':<14} {'count':>10}  name")
    for id_, name, kind, state, count in rows:
        shown = f"{count:,}" if count is not None else "building"
        print(f"{id_:>6}  {kind:<8} {state:<14} {shown:>10}  {name}")
    return EXIT_PASS


COMMANDS = {"run": cmd_run, "demo": cmd_demo, "sandbox": cmd_sandbox, "segments": cmd_segments,
            "check": cmd_check, "history": cmd_history}


def main(argv: Sequence[str] | None = None) -> int:
    """Run the command line; return the exit code (never raises for expected failures)."""
    try:
        args = build_parser().parse_args(argv)
        return COMMANDS[args.command](args)
    except (ConfigError, UsageError) as exc:
        _error(exc)
        return EXIT_USAGE
    except CompareError as exc:
        _error(exc)
        return EXIT_COULD_NOT_COMPARE
    except DeliveryError as exc:
        _error(exc)
        return EXIT_DELIVERY
    except ReconcileError as exc:
        _error(exc)
        return EXIT_COULD_NOT_COMPARE
    except FileExistsError as exc:
        _error(exc)
        return EXIT_USAGE
    except KeyboardInterrupt:
        print("reconcile: interrupted; no report was written for the unfinished run", file=sys.stderr)
        return 130


def _error(exc: BaseException) -> None:
    print(f"reconcile: error: {exc}", file=sys.stderr)


def entry_point() -> None:
    sys.exit(main())
