"""The comparison: both sides of a segment → who differs, by the design's counting rules.

    read.py          both sides read at once (the truth in a future while the API pages)
    diff.py          the diff in memory, on Arrow columns
    in_database.py   the same diff in the shop database (diff = "database")
    keys_in_database.py  the truth's keys normalised there exactly as in Python (SQL for ASCII,
                     Python's own rule for every other key)
"""

from .diff import SegmentDiff, diff_segment
from .in_database import DatabaseMembership, diff_in_database
from .read import diff_sides, fetch_membership, read_both

__all__ = ["SegmentDiff", "diff_segment", "DatabaseMembership", "diff_in_database", "read_both", "diff_sides",
           "fetch_membership"]
