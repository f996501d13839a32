"""SIGINT and SIGTERM stop a run where it is, instead of after the query or the HTTP call.

The handler cancels every query reconcile has running on the shop database (on the server:
PostgreSQL's cancel request, MariaDB's ``KILL QUERY``, SQLite's interrupt), then raises
:class:`~reconcile.errors.Stopped` in the main thread. An API call in flight is abandoned at
once: the socket wait returns to the handler. Cleanup then runs as for any exception (the
unfinished run folder is removed), and :func:`reconcile.cli.main` exits 130 or 143. A second
signal during that cleanup is ignored, so the cleanup finishes.
"""

from __future__ import annotations

import signal
import sys
import threading
from contextlib import contextmanager
from typing import Iterator

from ..errors import Stopped

SIGNALS = (signal.SIGINT, signal.SIGTERM)


def _cancel_queries() -> None:
    """Cancel reconcile's running queries, if the shop side was ever imported (nothing runs otherwise)."""
    database = sys.modules.get("reconcile.shop.database")
    if database is not None:
        database.cancel_running_queries()


@contextmanager
def stop_on_signals() -> Iterator[None]:
    """While inside, SIGINT and SIGTERM raise Stopped after cancelling the running queries.
    Outside the main thread (a library caller's worker) nothing is installed."""
    if threading.current_thread() is not threading.main_thread():
        yield
        return
    stopping = []

    def stop(signum, _frame) -> None:
        if stopping:
            return
        stopping.append(signum)
        _cancel_queries()
        raise Stopped(signum, signal.Signals(signum).name)

    previous = {number: signal.signal(number, stop) for number in SIGNALS}
    try:
        yield
    finally:
        for number, handler in previous.items():
            signal.signal(number, handler)
