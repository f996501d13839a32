"""How the command line talks: lines for people on standard output, log records on standard
error, and nothing else.

* :func:`show` prints for people; when the reader went away (``reconcile run | head``) the rest
  of the output is dropped and the run goes on to its end (its files, its delivery, its exit
  code), instead of ending in a BrokenPipe traceback.
* :func:`setup_logging`: the library logs through :mod:`logging` and never prints. By default
  warnings and errors reach standard error; ``--quiet`` keeps only errors (a retry that
  recovered is silent; one that did not is in the result), ``-v`` adds what each step did,
  ``--debug`` everything reconcile logs, with times and module names. Other libraries stay at
  warnings even with ``--debug``: their debug lines print URLs, and a webhook's URL is a secret.
  Every secret the config holds is replaced by ``***`` in whatever is logged. Python warnings
  (a library's FutureWarning about how it is called) speak to the code's maintainers, not about
  the run: they are log records shown only with ``-v`` or ``--debug``, so cron never mails them.
* :func:`record_crash`: an exception that is a bug of ours is one line on standard error and
  its traceback in a private file (``$TMPDIR/reconcile/crash-*.log``), secrets replaced there too.
"""

from __future__ import annotations

import logging
import os
import sys
import tempfile
import traceback
from datetime import datetime, timezone
from pathlib import Path
from typing import Iterable

_LOGGED = "reconcile"
_CODE_WARNINGS = "py.warnings"   # where logging.captureWarnings sends Python warnings


def show(text: str = "") -> None:
    """Print a line (or lines) for people; a closed pipe ends the printing, never the run."""
    try:
        print(text, flush=True)
    except BrokenPipeError:
        _drop_stdout()


def _drop_stdout() -> None:
    """Point standard output at /dev/null, so nothing printed later (or flushed at exit) fails."""
    devnull = os.open(os.devnull, os.O_WRONLY)
    try:
        os.dup2(devnull, sys.stdout.fileno())
    finally:
        os.close(devnull)


class _Scrubbed(logging.Formatter):
    def __init__(self, fmt: str, secrets: Iterable[str] = ()):
        super().__init__(fmt, datefmt="%H:%M:%S")
        self.secrets = [s for s in secrets if s]

    def format(self, record: logging.LogRecord) -> str:
        record.level = record.levelname.lower()
        text = super().format(record)
        for secret in self.secrets:
            text = text.replace(secret, "***")
        return text


def level_for(quiet: bool = False, verbose: bool = False, debug: bool = False) -> int:
    if debug:
        return logging.DEBUG
    if verbose:
        return logging.INFO
    return logging.ERROR if quiet else logging.WARNING


def setup_logging(level: int, stream=None) -> logging.Handler:
    """Send reconcile's log records at ``level`` and up to standard error, one line each."""
    handler = logging.StreamHandler(stream or sys.stderr)
    detailed = level <= logging.DEBUG
    handler.setFormatter(_Scrubbed("%(asctime)s %(levelname)s %(name)s: %(message)s" if detailed
                                   else "reconcile: %(level)s: %(message)s"))
    handler.setLevel(level)
    logger = logging.getLogger(_LOGGED)
    for old in [h for h in logger.handlers if getattr(h, "_reconcile", False)]:
        logger.removeHandler(old)
    handler._reconcile = True
    logger.addHandler(handler)
    logger.setLevel(level)
    logger.propagate = False
    logging.captureWarnings(True)
    code_warnings = logging.getLogger(_CODE_WARNINGS)
    code_warnings.addHandler(handler)
    code_warnings.setLevel(logging.WARNING if level <= logging.INFO else logging.CRITICAL + 1)
    code_warnings.propagate = False
    return handler


def stop_logging(handler: logging.Handler) -> None:
    """Detach the handler (its stream may be gone when reconcile is called again in one process)."""
    for name in (_LOGGED, _CODE_WARNINGS):
        logger = logging.getLogger(name)
        logger.removeHandler(handler)
        logger.setLevel(logging.NOTSET)
        logger.propagate = True
    logging.captureWarnings(False)


def hide_secrets(secrets: Iterable[str]) -> None:
    """From now on, these values never reach the log (the config's key, passwords, webhook URLs)."""
    for handler in logging.getLogger(_LOGGED).handlers:
        if isinstance(handler.formatter, _Scrubbed):
            handler.formatter.secrets += [s for s in secrets if s]


def record_crash(exc: BaseException) -> str:
    """Write ``exc``'s traceback to a private file; return the one line that names the failure and the file."""
    secrets = [s for h in logging.getLogger(_LOGGED).handlers if isinstance(h.formatter, _Scrubbed)
               for s in h.formatter.secrets]
    what = f"{exc.__class__.__name__}: {str(exc).strip().splitlines()[0] if str(exc).strip() else 'no message'}"
    text = "".join(traceback.format_exception(exc))
    for secret in secrets:
        what, text = what.replace(secret, "***"), text.replace(secret, "***")
    what = what if len(what) <= 300 else what[:300] + "…"
    folder = Path(tempfile.gettempdir()) / "reconcile"
    path = folder / f"crash-{datetime.now(timezone.utc):%Y%m%dT%H%M%SZ}-{os.getpid()}.log"
    try:
        folder.mkdir(mode=0o700, exist_ok=True)
        descriptor = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
        with os.fdopen(descriptor, "w", encoding="utf-8") as file:
            file.write(text)
    except OSError as failed:
        return f"{what} (its traceback could not be saved: {failed.strerror or failed}); please report it"
    return f"{what}; the traceback is in {path}; please report it with that file"


__all__ = ["record_crash", "show", "setup_logging", "stop_logging", "level_for", "hide_secrets"]
