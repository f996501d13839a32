"""Is the membership list complete? Only when Customer.io's own count agrees with it.

A page can come back shorter than it should without any error (the client cannot see it:
``next`` is there, the JSON is valid), and the App API offers no snapshot, so a list that
disagrees with ``/customer_count`` may be short. Diffed as if it were complete, a short list
changes the numbers and can turn a failing segment into a passing one. So:

* the list and the count agree: the list is used;
* they disagree: both are read once more, and if the second pair agrees it is used (with a
  warning that says so);
* they still disagree: the segment is an error (:class:`~reconcile.errors.PaginationError`,
  exit 3), never a verdict. A segment whose membership changes while it is read may need a
  re-run; that is the price of never passing a short list.
"""

from __future__ import annotations

from typing import Callable

from ..errors import PaginationError
from .membership import Membership


def confirm_count(segment_id: int, membership: Membership, reported: int,
                  read_again: Callable[[], tuple[Membership, int]]) -> tuple[Membership, int, str | None]:
    """``(membership, count, warning or None)`` once list and count agree; PaginationError if they never do."""
    if reported == len(membership):
        return membership, reported, None
    first = (reported, len(membership))
    membership, reported = read_again()
    if reported == len(membership):
        return membership, reported, (
            f"the first read of the membership held {first[1]:,} profiles but customer_count said {first[0]:,}; "
            "both were read again and agreed, and the numbers are from that second read")
    raise PaginationError(
        f"Customer.io segment {segment_id}: customer_count says {reported:,} but the membership list held "
        f"{len(membership):,} profiles, on two reads in a row; the list may be short (a page cut without an error) "
        "or the segment is changing while it is read, so it was not compared: re-run, and report it if it persists")


__all__ = ["confirm_count"]
