"""The commands: each takes parsed arguments, calls the library, prints, and returns an exit code.

The library raises; :func:`reconcile.cli.main` turns what it raises into exit codes. A finished
audit's exit code is its verdict's (:func:`exit_code_for`).
"""

from __future__ import annotations

import argparse
from datetime import datetime, timezone
from pathlib import Path

from ..errors import ExitCode, UsageError
from ..results import RunResult, Status


def default_out_dir(base: Path, now: datetime | None = None) -> Path:
    """``base/reports/<UTC timestamp>``, made unique if two runs share a second."""
    stamp = (now or datetime.now(timezone.utc)).strftime("%Y%m%dT%H%M%SZ")
    candidate, n = base / "reports" / stamp, 1
    while candidate.exists():
        n += 1
        candidate = base / "reports" / f"{stamp}-{n}"
    return candidate


def exit_code_for(run: RunResult) -> ExitCode:
    """0 within tolerance, 1 out of tolerance, 3 when something could not be compared (3 wins)."""
    return {Status.PASS: ExitCode.PASS, Status.FAIL: ExitCode.FAIL}.get(run.status, ExitCode.COULD_NOT_COMPARE)


def run(args: argparse.Namespace) -> int:
    from ..audit import run_audit
    from ..config import load_config
    from ..report import History, write_outputs
    from .screens import progress_display, summary, wants_progress

    config = load_config(args.config)
    settings = _email_settings(config) if args.email else None
    out = args.out or default_out_dir(config.path.parent)
    history = History.for_config(config, out.parent)
    as_of = args.as_of or datetime.now(timezone.utc)
    with progress_display(wants_progress(args.quiet)) as progress:
        result = run_audit(config, as_of=as_of, segments=args.segments, progress=progress,
                           baselines=history.volume_baselines(as_of))
    out = write_outputs(result, out, history=history)
    if not args.quiet:
        print(summary(result, out))
    _deliver(result, out, settings, history, args.quiet)
    return exit_code_for(result)


def demo(args: argparse.Namespace) -> int:
    from ..demo.runner import demo_email_settings, demo_history, run_demo
    from .screens import progress_display, summary, wants_progress

    settings = None
    if args.config and not args.email:
        raise UsageError("demo uses --config only for its [email] section, with --email")
    if args.email:
        from ..config import load_config
        settings = _email_settings(load_config(args.config)) if args.config else demo_email_settings()
    out = args.out or default_out_dir(Path.cwd())
    history = demo_history(out.parent)
    with progress_display(wants_progress(args.quiet)) as progress:
        result, out = run_demo(as_of=args.as_of, seed=args.seed, customers=args.customers, out=out,
                               progress=progress, history=history)
    if not args.quiet:
        print(summary(result, out))
        print("The demo's Customer.io workspace drifted on purpose, so FAIL is the expected verdict.")
    _deliver(result, out, settings, history, args.quiet)
    return exit_code_for(result)


def gate(args: argparse.Namespace) -> int:
    """``reconcile check SEGMENT``: the pre-launch gate."""
    from ..audit import run_audit
    from ..config import load_config
    from ..report import History, results_json, write_outputs
    from .screens import gate_screen, progress_display, wants_progress

    config = load_config(args.config)
    history = History.for_config(config, args.out.parent if args.out else config.path.parent / "reports")
    as_of = args.as_of or datetime.now(timezone.utc)
    with progress_display(wants_progress(args.quiet or args.json)) as progress:
        result = run_audit(config, as_of=as_of, segments=[args.segment], progress=progress,
                           baselines=history.volume_baselines(as_of))
    if args.out:
        write_outputs(result, args.out, history=history)
    if args.json:
        print(results_json(result), end="")
    elif not args.quiet:
        print(gate_screen(result))
    return exit_code_for(result)


def history(args: argparse.Namespace) -> int:
    from ..config import load_config
    from ..report import History
    from .screens import history_table

    config = load_config(args.config)
    folder = args.reports or config.path.parent / "reports"
    kept = History.for_config(config, folder)
    last = config.history.trend_runs if args.last is None else args.last
    if last <= 0:
        raise UsageError("--last must be a positive number of runs")
    print(history_table(kept.runs(), segments=args.segments, last=last, folder=folder,
                        keep_runs=config.history.keep_runs))
    return ExitCode.PASS


def sandbox(args: argparse.Namespace) -> int:
    """Serve a workspace until Ctrl-C: a given JSON file, or the demo's (its shop written to --data-dir)."""
    from ..demo.runner import sandbox_workspace
    from ..sandbox import serve

    workspace, api_key, shop = sandbox_workspace(args.workspace, args.data_dir, args.seed)
    shop_note = f"demo shop: {shop}\n" if shop else ""

    def banner(server) -> None:
        print(f"sandbox Customer.io App API at {server.url}\n{shop_note}api key: {api_key}\n"
              "try: reconcile run --config config.toml   (Ctrl-C stops the sandbox)", flush=True)

    serve(workspace, api_key=api_key, port=args.port, on_ready=banner)
    return ExitCode.PASS


def segments(args: argparse.Namespace) -> int:
    from ..config import load_config
    from ..customerio import client_from_settings

    client = client_from_settings(load_config(args.config).customerio)
    rows = []
    for segment in client.list_segments():
        count = client.segment_count(segment.id) if segment.state == "finished" else None
        rows.append((segment.id, segment.name, segment.type, segment.state, count))
    print(f"{'id':>6}  {'type':<8} {'state':<14} {'count':>10}  name")
    for id_, name, kind, state, count in rows:
        shown = f"{count:,}" if count is not None else "building"
        print(f"{id_:>6}  {kind:<8} {state:<14} {shown:>10}  {name}")
    return ExitCode.PASS


def _email_settings(config):
    """The config's [email], checked before the audit starts (its password variable included)."""
    if config.email is None:
        raise UsageError(f"--email needs an [email] section in {config.path.name} (see the README, \"Email\")")
    config.email.password()
    return config.email


def _deliver(result: RunResult, out: Path, settings, history, quiet: bool) -> None:
    if settings is None:
        return
    from ..deliver import send_report

    delivery = send_report(result, out, settings, history.context(result, exclude=out))
    if not quiet:
        print(delivery.summary)


COMMANDS = {"run": run, "demo": demo, "sandbox": sandbox, "segments": segments, "check": gate, "history": history}
