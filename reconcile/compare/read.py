"""Read both sides of one segment at once, and diff them where the segment says.

The truth query waits on the database and the membership on the 10 requests/s limit, so run
one after the other they cost the sum; overlapped, about the longer of the two. The truth is
read in a worker thread (a future) while this thread pages the API. When both fail, the truth's
error is the one reported: it is the one the user can fix. The future is always waited for, so
the engine is never left in use; when the run is stopped, its query is cancelled on the server
(:func:`~reconcile.shop.database.settle`) instead of waited out.

With ``diff = "database"`` the members go into the shop database as they arrive
(:class:`~.in_database.DatabaseMembership`) and the truth is read there with the diff, not here.
"""

from __future__ import annotations

import time
from concurrent.futures import ThreadPoolExecutor
from datetime import datetime

from ..config import Config, SegmentConfig
from ..customerio import CustomerIOClient, Membership, MemoryMembership
from ..customerio.exports import export_membership
from ..shop.database import settle
from ..shop.truth import TruthSet, run_truth
from .diff import SegmentDiff, diff_segment
from .in_database import DatabaseMembership, diff_in_database


def read_both(config: Config, segment: SegmentConfig, as_of: datetime, client: CustomerIOClient, engine, progress,
              seconds: dict[str, float]) -> tuple[TruthSet | None, Membership, int]:
    """``(truth, membership, reported_count)`` with the truth query overlapping the API calls.

    With ``diff = "database"`` the truth is None here: :func:`diff_sides` reads it in the database.
    The caller closes the membership."""
    if config.diff_for(segment) == "database":
        seconds["truth"] = 0.0      # read with the diff
        return None, *_read_members(config, segment, client, engine, progress, seconds)
    with ThreadPoolExecutor(max_workers=1, thread_name_prefix=f"truth:{segment.name}") as pool:
        truth = pool.submit(run_truth, engine, segment, config.identity_key, as_of,
                            on_rows=lambda rows: progress.rows_read(segment, rows))
        try:
            membership, reported = _read_members(config, segment, client, engine, progress, seconds)
        except KeyboardInterrupt:
            settle([truth])        # stopping: its query cancelled on the server, not waited out
            raise
        except BaseException:
            truth.result()         # waited for; its error, if any, wins
            raise
        try:
            result = truth.result()
        except BaseException as failure:
            membership.close()
            if isinstance(failure, KeyboardInterrupt):
                settle([truth])
            raise
    seconds["truth"] = result.seconds
    return result, membership, reported


def _read_members(config, segment, client, engine, progress, seconds) -> tuple[Membership, int]:
    started = time.perf_counter()
    membership = fetch_membership(config, segment, client, progress, engine)
    try:
        reported = client.segment_count(segment.customerio_segment_id)
    except BaseException:
        membership.close()
        raise
    finally:
        seconds["customerio"] = time.perf_counter() - started
    return membership, reported


def diff_sides(config: Config, segment: SegmentConfig, as_of: datetime, engine, truth: TruthSet | None,
               membership: Membership) -> tuple[TruthSet, SegmentDiff]:
    """``(truth, diff)``: in memory, or in the shop database when the segment's diff is "database"."""
    if config.diff_for(segment) == "database":
        return diff_in_database(engine, segment, config.identity_key, as_of, membership)
    return truth, diff_segment(truth.people, membership, config.identity_key)


def fetch_membership(config: Config, segment: SegmentConfig, client: CustomerIOClient, progress,
                     engine=None) -> Membership:
    """The segment's members, page by page or from one export (``membership``), into memory or,
    with ``diff = "database"`` (and an ``engine``), into the shop database. The caller closes it."""
    if engine is not None and config.diff_for(segment) == "database":
        container: Membership = DatabaseMembership(engine, segment, config.identity_key)
    else:
        container = MemoryMembership(segment.customerio_segment_id)
    try:
        if _wants_export(config, segment, client):
            return export_membership(client, segment.customerio_segment_id, membership=container)
        expected = client.segment_count(segment.customerio_segment_id)   # paging that outgrows it stops early
        return client.segment_membership(segment.customerio_segment_id, membership=container, expected=expected,
                                         on_page=lambda page, members: progress.page_fetched(segment, page, members))
    except BaseException:
        container.close()
        raise


def _wants_export(config: Config, segment: SegmentConfig, client: CustomerIOClient) -> bool:
    """Whether the members come from an export (``membership`` and ``export_above``)."""
    mode = config.membership_for(segment)
    if mode == "auto":
        return client.segment_count(segment.customerio_segment_id) > config.customerio.export_above
    return mode == "export"


__all__ = ["read_both", "diff_sides", "fetch_membership"]
