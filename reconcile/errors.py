"""The exceptions the library raises, and what each means for a run.

Only :mod:`reconcile.cli` turns them into exit codes; the library never exits.

    ReconcileError
    ├── ConfigError ............ the config (or a checks file) is wrong: exit 2
    ├── UsageError ............. the command line asks for something impossible: exit 2
    ├── CompareError ........... a segment could not be compared: exit 3
    │   ├── DatabaseError ...... the shop database is unreachable or the SQL failed
    │   └── CustomerIOError .... the App API could not answer
    │       ├── AuthError ............ 401: the key is wrong or belongs to another region
    │       ├── WrongRegionError ..... 301 "wrong datacenter": the region is wrong
    │       ├── SegmentNotFound ...... 404: no segment with that id
    │       ├── SegmentNotReady ...... the segment is still building
    │       ├── RateLimited .......... still 429 after every retry
    │       ├── APIUnavailable ....... 5xx, timeouts, resets, bodies that are not JSON
    │       └── PaginationError ...... a repeated token, a page cap: membership incomplete
    └── DeliveryError .......... the report is on disk but could not be emailed: exit 4

Messages are one line that says what is wrong and what to do. They never contain a
secret: callers build them from masked values only.
"""

from __future__ import annotations


class ReconcileError(Exception):
    """Base class: every error the library raises on purpose."""


class ConfigError(ReconcileError):
    """The configuration is invalid; the message names the file and the key path."""


class UsageError(ReconcileError):
    """The command line asks for something that cannot be done (an unknown segment name)."""


class CompareError(ReconcileError):
    """A segment could not be compared; it is reported as an error, never as a verdict."""


class DatabaseError(CompareError):
    """The shop database could not be reached, or the truth SQL failed."""


class CustomerIOError(CompareError):
    """The Customer.io App API could not give a complete, trustworthy answer."""


class AuthError(CustomerIOError):
    """401: the App API key is wrong, revoked, or belongs to a workspace in the other region."""


class WrongRegionError(CustomerIOError):
    """301 "wrong datacenter": the workspace lives in the other region."""


class SegmentNotFound(CustomerIOError):
    """404: the workspace has no segment with this id."""


class SegmentNotReady(CustomerIOError):
    """The segment is still building; its membership is not yet meaningful."""


class RateLimited(CustomerIOError):
    """The API kept answering 429 after every retry."""


class APIUnavailable(CustomerIOError):
    """5xx answers, timeouts, connection resets or non-JSON bodies after every retry."""


class PaginationError(CustomerIOError):
    """Paging could not finish safely (repeated token, page cap): the membership would be short."""


class DeliveryError(ReconcileError):
    """The report was written but could not be delivered (SMTP refused, unreachable)."""


def first_line(exc: Exception) -> str:
    """The first line of what the driver (or else the exception) said, for one-line messages."""
    original = getattr(exc, "orig", None) or exc
    lines = str(original).strip().splitlines()
    return lines[0] if lines else exc.__class__.__name__
