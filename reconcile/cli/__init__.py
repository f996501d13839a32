"""The command line: argv → the library → an exit code. The only place that prints for people.

    parser.py     the grammar (commands, options, help)
    commands.py   one function per command, returning its exit code
    screens.py    everything shown on a terminal: summary, gate, history table, progress
    output.py     stdout that survives a closed pipe, logging, the crash file
    signals.py    SIGINT and SIGTERM: the running queries cancelled, then Stopped raised

Exit codes (a contract: cron jobs and CI gates depend on them), :class:`~reconcile.errors.ExitCode`:

    0  every segment within tolerance
    1  at least one segment out of tolerance (or a failed critical expectation)
    2  usage or configuration error
    3  something could not be compared (API or database unreachable, segment unknown or
       still building); 3 wins over 1
    4  the report was written but could not be delivered
    130, 143  stopped by SIGINT (Ctrl-C) or SIGTERM (systemd's stop): the running query is
       cancelled on the server, the unfinished run leaves no folder

Each library exception carries its exit code, so :func:`main` has one ``except`` for them.
Anything else that escapes is a bug of ours: one line naming the file that holds its
traceback, and exit 3, never 1 (1 means only "compared, and out of tolerance").
"""

from __future__ import annotations

import sys
from typing import Sequence

from ..errors import ExitCode, ReconcileError, Stopped
from .commands import COMMANDS
from .output import level_for, record_crash, setup_logging, stop_logging
from .parser import build_parser
from .signals import stop_on_signals


def main(argv: Sequence[str] | None = None) -> int:
    """Run the command line; return the exit code (never raises for expected failures)."""
    logs = None
    try:
        with stop_on_signals():
            args = build_parser().parse_args(argv)
            logs = setup_logging(level_for(getattr(args, "quiet", False), args.verbose, args.debug))
            return COMMANDS[args.command](args)
    except ReconcileError as exc:
        for line in str(exc).splitlines() or [""]:          # a failed delivery: one line per channel
            print(f"reconcile: error: {line}", file=sys.stderr)
        return exc.exit_code
    except Stopped as stop:
        print(f"reconcile: stopped by {stop.name}; the unfinished run left no report", file=sys.stderr)
        return stop.exit_code
    except KeyboardInterrupt:
        print("reconcile: interrupted; the unfinished run left no report", file=sys.stderr)
        return ExitCode.INTERRUPTED
    except Exception as exc:                                  # a bug of ours: never a verdict
        print(f"reconcile: internal error: {record_crash(exc)}", file=sys.stderr)
        return ExitCode.COULD_NOT_COMPARE
    finally:
        if logs is not None:
            stop_logging(logs)


def entry_point() -> None:
    sys.exit(main())


__all__ = ["main", "entry_point", "build_parser", "COMMANDS", "ExitCode"]
