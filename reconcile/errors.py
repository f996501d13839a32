"""The exceptions the library raises, each carrying the exit code it means for a run.

The library never exits; :mod:`reconcile.cli` has one ``except ReconcileError`` site that
returns ``exc.exit_code``. Anything else that escapes is a bug of ours: exit 3, never 1.

    ReconcileError
    ├── ConfigError ............ the config (or a checks file) is wrong: exit 2
    ├── UsageError ............. the command line asks for something impossible: exit 2
    ├── CompareError ........... a segment could not be compared: exit 3
    │   ├── DatabaseError ...... the shop database is unreachable or the SQL failed
    │   ├── SourceError ........ a checks source could not be read completely
    │   └── CustomerIOError .... the App API could not answer
    │       ├── AuthError ............ 401: the key is wrong or belongs to another region
    │       ├── WrongRegionError ..... 301 "wrong datacenter": the region is wrong
    │       ├── BadRequest ........... another 4xx; ``status`` is the answer's code
    │       ├── SegmentNotFound ...... 404: no segment with that id
    │       ├── SegmentNotReady ...... the segment is still building
    │       ├── RateLimited .......... still 429 after every retry
    │       ├── APIUnavailable ....... 5xx, timeouts, resets, bodies that are not JSON
    │       ├── PaginationError ...... a repeated token, a page cap: membership incomplete
    │       └── ExportFailed ......... an export failed or never finished
    ├── PlanRefused ............ a repair plan may not be applied as asked: exit 2
    │   └── ConfirmationNeeded . merges or deletes without their second confirmation
    ├── DeliveryError .......... the report is on disk but could not be delivered: exit 4
    └── ReportNotSaved ......... the run finished but its folder could not be written: exit 3

    Stopped (a KeyboardInterrupt) SIGINT or SIGTERM: exit 130 or 143

Messages are one line that says what is wrong and what to do. They never contain a
secret: callers build them from masked values only.
"""

from __future__ import annotations

from enum import IntEnum


class ExitCode(IntEnum):
    """The exit codes: a contract that cron jobs and CI gates depend on. 3 wins over 1."""

    PASS = 0                 # every segment within tolerance
    FAIL = 1                 # compared, and at least one segment (or critical check) out of tolerance
    USAGE = 2                # usage or configuration error
    COULD_NOT_COMPARE = 3    # something could not be compared, or an unexpected failure
    DELIVERY = 4             # compared, but the report could not be delivered
    INTERRUPTED = 130        # Ctrl-C (SIGINT)
    TERMINATED = 143         # SIGTERM (systemd's stop, kill)


class ReconcileError(Exception):
    """Base class: every error the library raises on purpose."""

    exit_code = ExitCode.COULD_NOT_COMPARE


class ConfigError(ReconcileError):
    """The configuration is invalid; the message names the file and the key path."""

    exit_code = ExitCode.USAGE


class UsageError(ReconcileError):
    """The command line asks for something that cannot be done (an unknown segment name)."""

    exit_code = ExitCode.USAGE


class CompareError(ReconcileError):
    """A segment could not be compared; it is reported as an error, never as a verdict."""

    exit_code = ExitCode.COULD_NOT_COMPARE


class DatabaseError(CompareError):
    """The shop database could not be reached, or the truth SQL failed."""


class SourceError(CompareError):
    """A checks source could not be read completely; its checks are errors, never passes."""


class CustomerIOError(CompareError):
    """The Customer.io App API could not give a complete, trustworthy answer."""


class AuthError(CustomerIOError):
    """401: the App API key is wrong, revoked, or belongs to a workspace in the other region."""


class WrongRegionError(CustomerIOError):
    """301 "wrong datacenter": the workspace lives in the other region."""


class BadRequest(CustomerIOError):
    """A 4xx other than 401/403/404/429; ``status`` is the answer's code, for callers that decide on it."""

    def __init__(self, message: str, status: int):
        super().__init__(message)
        self.status = status


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


class ExportFailed(CustomerIOError):
    """Customer.io marked the export failed, or it never finished within the wait."""


class PlanRefused(ReconcileError):
    """A repair plan that is too old, for another workspace, edited after planning, or unreadable."""

    exit_code = ExitCode.USAGE


class ConfirmationNeeded(PlanRefused):
    """Merges or deletes were included without their confirmation; ``kind`` and ``count`` say which."""

    def __init__(self, message: str, kind: str, count: int):
        super().__init__(message)
        self.kind, self.count = kind, count


class DeliveryError(ReconcileError):
    """The report was written but could not be delivered (SMTP refused, a webhook answered 500).

    One line per channel that failed; ``deliveries`` holds what happened on every channel tried."""

    exit_code = ExitCode.DELIVERY

    def __init__(self, message: str, deliveries: list | None = None):
        super().__init__(message)
        self.deliveries = deliveries or []


def first_line(exc: BaseException) -> str:
    """The first line of what the driver (or else the exception) said, for one-line messages."""
    original = getattr(exc, "orig", None) or exc
    lines = str(original).strip().splitlines()
    return lines[0] if lines else exc.__class__.__name__


class ReportNotSaved(ReconcileError):
    """The run finished, but its folder could not be written (disk full, read-only, a size limit).

    Exit 3, never the verdict's code: a scheduler must not count a run whose results are lost as a
    finished audit. The delivered message still carries the verdict."""


class Stopped(KeyboardInterrupt):
    """SIGINT or SIGTERM: the run stops where it is. A KeyboardInterrupt, so no stage's
    ``except Exception`` swallows it and every ``except KeyboardInterrupt`` cleanup runs."""

    def __init__(self, signum: int, name: str):
        super().__init__(name)
        self.signum, self.name = signum, name
        self.exit_code = 128 + signum
