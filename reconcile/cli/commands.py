"""The commands: each takes parsed arguments, calls the library, prints, and returns an exit code.

The library raises; :func:`reconcile.cli.main` turns what it raises into exit codes. A finished
audit's exit code is its verdict's (:func:`exit_code_for`).
"""

from __future__ import annotations

import argparse
import logging
import sys
from datetime import datetime, timedelta, timezone
from pathlib import Path

from ..errors import DeliveryError, ExitCode, ReportNotSaved, UsageError
from ..results import RunResult, Status
from .output import hide_secrets, show
from .parser import config_path
from .project import init, schema, validate

log = logging.getLogger(__name__)


def default_out_dir(base: Path, now: datetime | None = None) -> Path:
    """``base/reports/<UTC timestamp>``: the wished name; :func:`save` takes the next free ``-n``
    when another run took it first."""
    return base / "reports" / (now or datetime.now(timezone.utc)).strftime("%Y%m%dT%H%M%SZ")


def save(result: RunResult, out: Path, extra_files: dict[str, str] | None = None, *, history=None,
         unique: bool = False) -> tuple[Path | None, str | None]:
    """``(folder, None)`` once the run is written; ``(None, why)`` when it could not be (disk full,
    read-only, a file size limit): the run still delivers its verdict, and says why."""
    from ..report import write_outputs

    try:
        return write_outputs(result, out, extra_files, history=history, unique=unique), None
    except OSError as exc:
        where = exc.filename if isinstance(exc.filename, str) else (out.parent if unique else out)
        return None, f"the report could not be saved ({exc.strerror or exc}: {where}); nothing was left half-written"


def as_of_or_now(args: argparse.Namespace) -> datetime:
    """``--as-of``, or now; a warning when it is in the future (then the windows hold changes not
    yet made, and recent people look missing)."""
    now = datetime.now(timezone.utc)
    if args.as_of is None:
        return now
    if args.as_of > now + timedelta(minutes=5):
        log.warning("--as-of %s is in the future (now is %s UTC): windows end after today, so the shop "
                    "cannot hold what they ask for yet", args.as_of.isoformat(), f"{now:%Y-%m-%d %H:%M}")
    return args.as_of


def exit_code_for(run: RunResult) -> ExitCode:
    """0 within tolerance, 1 out of tolerance, 3 when something could not be compared (3 wins)."""
    return {Status.PASS: ExitCode.PASS, Status.FAIL: ExitCode.FAIL}.get(run.status, ExitCode.COULD_NOT_COMPARE)


def run(args: argparse.Namespace) -> int:
    from ..audit import run_audit
    from ..config import load_config
    from ..report import History
    from .screens import progress_display, wants_progress

    config = load_config(config_path(args))
    hide_secrets(config.secrets())
    channels = _channels(config, args)
    out = args.out or default_out_dir(config.path.parent)
    history = History.for_config(config, out.parent, keep=args.history)
    as_of = as_of_or_now(args)
    with progress_display(wants_progress(args.quiet)) as progress:
        result = run_audit(config, as_of=as_of, segments=args.segments, progress=progress,
                           baselines=history.volume_baselines(as_of))
    folder, not_saved = save(result, out, history=history, unique=args.out is None)
    _print_summary(result, folder, args.quiet)
    return _deliver_and_decide(result, folder, not_saved, channels, history, args.quiet)


def demo(args: argparse.Namespace) -> int:
    from ..deliver import Channels
    from ..demo.runner import audit_demo, demo_email_settings, demo_history
    from .screens import progress_display, wants_progress

    if args.repair:
        return demo_repair(args)
    channels = None
    if args.config and not (args.email or args.slack or args.webhook):
        raise UsageError("demo uses --config only for its delivery sections, with --email, --slack or --webhook")
    if args.config:
        from ..config import load_config
        config = load_config(args.config)
        hide_secrets(config.secrets())
        channels = _channels(config, args)
    elif args.slack or args.webhook:
        raise UsageError("demo --slack and --webhook need --config PATH with those sections")
    elif args.email:
        channels = Channels(email=demo_email_settings())
    out = args.out or default_out_dir(Path.cwd())
    history = demo_history(out.parent, keep=args.history)
    with progress_display(wants_progress(args.quiet)) as progress:
        result, files = audit_demo(as_of=as_of_or_now(args), seed=args.seed, customers=args.customers,
                                   progress=progress, history=history)
    folder, not_saved = save(result, out, files, history=history, unique=args.out is None)
    _print_summary(result, folder, args.quiet)
    if not args.quiet:
        show("The demo's Customer.io workspace drifted on purpose, so FAIL is the expected verdict.")
    return _deliver_and_decide(result, folder, not_saved, channels, history, args.quiet)


def demo_repair(args: argparse.Namespace) -> int:
    """``reconcile demo --repair``: the loop closed on the sandbox; the exit code is the second audit's
    (3 when the plan could not be applied)."""
    from ..demo.repair_loop import run_repair_demo
    from ..report.summary import verdict_line
    from .screens import progress_display, repair_demo_screen, wants_progress

    if args.email or args.slack or args.webhook or args.config:
        raise UsageError("demo --repair writes two runs and a plan and delivers nothing: drop --email, --slack, "
                         "--webhook and --config")
    out = args.out or default_out_dir(Path.cwd())
    with progress_display(wants_progress(args.quiet)) as progress:
        result = run_repair_demo(out=out, as_of=as_of_or_now(args), seed=args.seed, customers=args.customers,
                                 progress=progress)
    show(verdict_line(result.after) if args.quiet else repair_demo_screen(result))
    return exit_code_for(result.after) if result.applied.complete else ExitCode.COULD_NOT_COMPARE


def plan(args: argparse.Namespace) -> int:
    """``reconcile plan RUN_DIR``: write the plan and its summary; print the summary."""
    from ..config import load_config
    from ..customerio import client_from_settings, track_client_from_settings
    from ..repair import plan_run, read_run
    from .screens import plan_screen

    run = read_run(args.run_dir)
    config = load_config(args.config or _named_config(run.config_path, f"{run.path}/results.json"))
    hide_secrets(config.secrets())
    with client_from_settings(config.customerio) as app, track_client_from_settings(config.customerio) as track:
        written = plan_run(run, config, app=app, track=track, out=args.out,
                           removal="suppress" if args.suppress else "delete")
    show(plan_screen(written))
    return ExitCode.PASS


def apply(args: argparse.Namespace) -> int:
    """``reconcile apply PLAN``: a dry run, or with --yes the plan sent; exit 3 unless everything was applied."""
    from ..config import load_config
    from ..customerio import track_client_from_settings
    from ..errors import ConfirmationNeeded
    from ..repair import apply_plan, check_include, read_plan
    from .screens import apply_screen, confirm

    include = check_include([kind.strip() for kind in args.include.split(",") if kind.strip()])
    config = load_config(args.config or _named_config(Path(read_plan(args.plan).config), str(args.plan)))
    hide_secrets(config.secrets())
    confirmed = {flag for flag, given in (("merge", args.yes_merge), ("delete", args.yes_delete)) if given}
    client = track_client_from_settings(config.customerio) if args.yes else None
    try:
        while True:
            try:
                report = apply_plan(args.plan, client=client, include=include, confirmed=confirmed,
                                    dry_run=not args.yes, max_age_hours=config.customerio.max_plan_age_hours)
                break
            except ConfirmationNeeded as needed:
                if not confirm(needed):
                    raise
                confirmed.add(needed.kind)
    finally:
        if client is not None:
            client.close()
    show(apply_screen(report))
    if report.interrupted:
        return ExitCode.INTERRUPTED
    return ExitCode.PASS if report.dry_run or report.complete else ExitCode.COULD_NOT_COMPARE


def _named_config(path: Path | None, where: str) -> Path:
    """The config a run or a plan names, when it still exists; else a UsageError asking for --config."""
    if path is None or not path.is_file():
        raise UsageError(f"{where} names the config {path or '(none)'}, which is not there any more; "
                         "pass --config PATH")
    return path


def gate(args: argparse.Namespace) -> int:
    """``reconcile check SEGMENT``: the pre-launch gate."""
    from ..audit import run_audit
    from ..config import load_config
    from ..report import History, results_json
    from .screens import gate_screen, progress_display, wants_progress

    config = load_config(config_path(args))
    hide_secrets(config.secrets())
    suites = config.segment(args.segment).checks if args.segment in {s.name for s in config.segments} else ()
    history = History.for_config(config, args.out.parent if args.out else config.path.parent / "reports",
                                 keep=args.history)
    as_of = as_of_or_now(args)
    with progress_display(wants_progress(args.quiet or args.json)) as progress:
        result = run_audit(config, as_of=as_of, segments=[args.segment], progress=progress, only_suites=suites,
                           baselines=history.volume_baselines(as_of))
    out, not_saved = save(result, args.out, history=history) if args.out else (None, None)
    if not_saved:
        raise ReportNotSaved(f"{not_saved}; the gate's verdict was {result.status.upper()}")
    if args.json:
        show(results_json(result).rstrip("\n"))
    elif args.quiet:
        _print_summary(result, out, quiet=True)
    else:
        show(gate_screen(result, suites=suites, out=out))
    return exit_code_for(result)


def history(args: argparse.Namespace) -> int:
    """Reads only [history] and reports/: no API key, no database, nothing else of the config."""
    from ..config import load_section
    from ..report import History, history_key
    from .screens import history_table

    path = config_path(args)
    settings = load_section(path, "history")
    folder = args.reports or path.absolute().parent / "reports"
    kept = History(folder, history_key(path), settings)
    last = settings.trend_runs if args.last is None else args.last
    if last <= 0:
        raise UsageError("--last must be a positive number of runs")
    show(history_table(kept.runs(), segments=args.segments, last=last, folder=folder, keep_runs=settings.keep_runs))
    return ExitCode.PASS


def sandbox(args: argparse.Namespace) -> int:
    """Serve a workspace until Ctrl-C: a given JSON file, or the demo's (its shop written to --data-dir)."""
    from ..demo import DEMO_SITE_ID, DEMO_TRACK_API_KEY
    from ..demo.runner import sandbox_workspace
    from ..sandbox import serve

    workspace, api_key, shop = sandbox_workspace(args.workspace, args.data_dir, args.seed)
    shop_note = f"demo shop: {shop}\n" if shop else ""
    site, track_key = (DEMO_SITE_ID, DEMO_TRACK_API_KEY) if shop else ("sandbox-site", "sandbox-track-key")

    def banner(server) -> None:
        show(f"sandbox Customer.io App API and Track API at {server.url}\n{shop_note}api key: {api_key}\n"
             f"track api: site id {site}, key {track_key} (for reconcile apply: "
             f"export CUSTOMERIO_TRACK_API_KEY={track_key})\n"
             "try: reconcile run --config config.toml   (Ctrl-C stops the sandbox)")

    serve(workspace, api_key=api_key, port=args.port, on_ready=banner, site_id=site, track_api_key=track_key)
    return ExitCode.PASS


def segments(args: argparse.Namespace) -> int:
    from ..config import load_config
    from ..customerio import client_from_settings

    config = load_config(config_path(args), require_segments=False)    # listing ids comes before configuring them
    hide_secrets(config.secrets())
    client = client_from_settings(config.customerio)
    rows = []
    for segment in client.list_segments():
        count = client.segment_count(segment.id) if segment.state == "finished" else None
        rows.append((segment.id, segment.name, segment.type, segment.state, count))
    lines = [f"{'id':>6}  {'type':<8} {'state':<14} {'count':>10}  name"]
    for id_, name, kind, state, count in rows:
        shown = f"{count:,}" if count is not None else "building"
        lines.append(f"{id_:>6}  {kind:<8} {state:<14} {shown:>10}  {name}")
    show("\n".join(lines))
    return ExitCode.PASS


def _print_summary(result: RunResult, out: Path | None, quiet: bool) -> None:
    """The summary; with ``--quiet`` the verdict line, and on standard error what must not go
    unseen even when standard output is dropped (the cron recipe): an incomplete diagnosis."""
    from ..report.summary import verdict_line
    from .screens import quiet_notes, summary

    if not quiet:
        show(summary(result, out))
        return
    show(verdict_line(result))
    for line in quiet_notes(result):
        print(line, file=sys.stderr)


def _channels(config, args: argparse.Namespace):
    from ..deliver import channels_for

    return channels_for(config, email=args.email, slack=args.slack, webhook=args.webhook)


def _deliver_and_decide(result: RunResult, folder: Path | None, not_saved: str | None, channels, history,
                        quiet: bool) -> int:
    """Deliver, then the exit code: the verdict's only when the run was saved and delivered;
    a run that could not be saved still delivers its verdict, then ends in ReportNotSaved (exit 3)."""
    try:
        _deliver(result, folder, channels, history, quiet, not_saved)
    except DeliveryError as failed:
        if not_saved:
            raise ReportNotSaved(f"{not_saved}\n{failed}") from None
        raise
    if not_saved:
        told = " (the delivered message says so)" if channels else ""
        raise ReportNotSaved(f"{not_saved}; the run's verdict was {result.status.upper()}{told}; "
                             "free space or make the folder writable, then re-run")
    return exit_code_for(result)


def _deliver(result: RunResult, folder: Path | None, channels, history, quiet: bool, not_saved: str | None) -> None:
    """The one call that delivers a run (email, Slack, webhook); a failure is exit 4."""
    if not channels:
        return
    from ..deliver import deliver

    try:
        deliveries = deliver(result, folder, channels, history, not_saved=not_saved)
    except DeliveryError as exc:
        deliveries = [d for d in exc.deliveries if not d.error]
        if not quiet:
            for delivery in deliveries:
                show(delivery.summary)
        raise
    if not quiet:
        for delivery in deliveries:
            show(delivery.summary)


COMMANDS = {"run": run, "demo": demo, "sandbox": sandbox, "segments": segments, "check": gate, "history": history,
            "init": init, "validate": validate, "schema": schema, "plan": plan, "apply": apply}
