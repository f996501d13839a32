"""Read both sides of one segment at once: the truth query in a thread while the API pages.

The truth query waits on the database and the membership on the 10 requests/s limit, so run
one after the other they cost the sum; overlapped, about the longer of the two. The membership
is kept as Arrow chunks (:class:`reconcile.columnar.ColumnarMembership`), or with ``diff =
"database"`` written into the shop database as it arrives (:class:`reconcile.pushdown.StagedMembership`).

Errors keep their old precedence: when both sides fail, the truth's error is the one reported
(it used to run first), and the thread is always waited for, so the engine is never left in use.
"""

from __future__ import annotations

import threading
import time
from datetime import datetime
from typing import Any

from .columnar import ColumnarMembership
from .diff import diff_segment
from .exports import export_membership, wants_export
from .truth import run_truth


def read_both(config, segment, as_of: datetime, client, engine, progress,
              seconds: dict[str, float]):
    """``(truth, membership, reported_count)`` with the truth query overlapping the API calls.

    With ``diff = "database"`` the truth is None here: :func:`diff_sides` reads it in the database.
    """
    clock = time.perf_counter
    box: dict[str, Any] = {}

    def read_truth() -> None:
        try:
            box["truth"] = run_truth(engine, segment, config.identity_key, as_of,
                                     on_rows=lambda rows: progress.rows_read(segment, rows))
        except BaseException as exc:   # re-raised in the caller's thread
            box["error"] = exc

    pushdown = diff_mode(config, segment) == "database"
    thread = threading.Thread(target=read_truth, name=f"truth:{segment.name}", daemon=True)
    if pushdown:   # the truth is read with the diff, once the members are staged (diff_sides)
        box["truth"] = None
    else:
        thread.start()
    api_error: BaseException | None = None
    membership = reported = None
    api_started = clock()
    try:
        membership = fetch_membership(config, segment, client, progress, engine)
        reported = client.segment_count(segment.customerio_segment_id)
    except BaseException as exc:
        api_error = exc
        release(membership)
    seconds["customerio"] = clock() - api_started
    if not pushdown:
        thread.join()
    if "error" in box:
        raise box["error"]
    if api_error is not None:
        raise api_error
    truth = box["truth"]
    seconds["truth"] = getattr(truth, "seconds", 0.0)
    return truth, membership, reported


def diff_sides(config, segment, as_of: datetime, engine, truth, membership):
    """``(truth, diff)``: in memory, or in the shop database when the segment's diff is "database"."""
    if diff_mode(config, segment) == "database":
        from .pushdown import pushdown_diff
        return pushdown_diff(engine, segment, config.identity_key, as_of, membership)
    return truth, diff_segment(truth.people, membership, config.identity_key)


def diff_mode(config, segment) -> str:
    """The segment's ``diff``, else the config's, else "memory"."""
    return getattr(segment, "diff", None) or getattr(config, "diff", None) or "memory"


def fetch_membership(config, segment, client, progress, engine=None):
    """The segment's members: page by page, or from one export (``membership``); as Arrow chunks,
    or with ``diff = "database"`` (and an ``engine``) straight into the shop database's temporary
    table, batch by batch (:class:`reconcile.pushdown.StagedMembership`; :func:`release` it)."""
    export = wants_export(config, segment, client)
    if engine is not None and diff_mode(config, segment) == "database":
        from .pushdown import StagedMembership
        container = StagedMembership(engine, segment, config.identity_key)
    else:
        container = ColumnarMembership(segment.customerio_segment_id)
    try:
        if export:
            return export_membership(client, segment.customerio_segment_id, membership=container)
        return client.segment_membership(segment.customerio_segment_id, membership=container,
                                         on_page=lambda page, members: progress.page_fetched(segment, page, members))
    except BaseException:
        release(container)
        raise


def release(membership) -> None:
    """Give back what a membership holds (a staged one: its temporary tables and connection)."""
    close = getattr(membership, "close", None)
    if close is not None:
        close()


__all__ = ["read_both", "diff_sides", "fetch_membership", "release"]
