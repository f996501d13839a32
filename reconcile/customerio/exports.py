"""A segment's membership through the App API's Exports, for segments too big to page.

``POST /v1/exports/customers`` with the segment filter, poll ``GET /v1/exports/{id}`` with
backoff until ``status`` is ``done`` (``total`` stays 0 until then) or ``failed``, then
``GET /v1/exports/{id}/download`` for a signed link that expires after 15 minutes, and fetch
the file from that link. Per ``customerio-app-api.md`` §3:

* **The key stays home.** The file is fetched with a bare request that carries no
  ``Authorization`` header and follows no redirect with it: the signed link is its own
  credential, and the host is not Customer.io's API.
* **An expired link is asked for again once**; a second failure is an error that says what to do.
* **The file format is UNCONFIRMED**, so every plausible form is read: CSV (comma, with a header
  naming ``id``/``email``/``cio_id`` in any case; ``customer_id`` is read as ``id``), gzipped or
  not, JSON Lines, or a JSON array of objects. Other columns (requested attributes) are ignored.
* **The file is never held whole.** It is spooled (to disk above 64 MiB) and CSV and JSON Lines
  are read a batch at a time into whatever :class:`~.membership.Membership` the caller gives
  (a JSON document is read whole).

The HTTP calls are the client's (:meth:`~.client.CustomerIOClient.create_export` and its
siblings); this module polls them, fetches the file and reads it.
"""

from __future__ import annotations

import csv
import gzip
import io
import json
import shutil
import tempfile
from typing import IO, Any, Callable

import pyarrow as pa
import pyarrow.csv as pacsv
import requests
import urllib3

from ..errors import CustomerIOError, ExportFailed
from .membership import MEMBER, Membership, MemoryMembership, clean

ALIASES = {"id": ("id", "customer_id"), "email": ("email", "email_address"), "cio_id": ("cio_id", "cioid")}
FIRST_POLL, POLL_CAP = 1.0, 30.0


def export_membership(client, segment_id: int, *, max_wait: float = 3600.0,
                      on_status: Callable[[dict], None] | None = None,
                      membership: Membership | None = None) -> Membership:
    """Every member of the segment from one customers export (create, poll, download, parse),
    into ``membership`` (by default a new :class:`MemoryMembership`). The file is read in batches
    from a spool on disk, so a membership in the database never holds it whole in Python."""
    segment_id = int(segment_id)
    membership = membership if membership is not None else MemoryMembership(segment_id)
    export = _wait(client, client.create_export(segment_id), max_wait, on_status)
    with _download(client, export["id"]) as file:
        try:
            read_export(file, membership)
        except (pa.ArrowException, ValueError, csv.Error, EOFError, OSError) as exc:   # gzip: EOFError, OSError
            raise client.error(CustomerIOError, (
                f"Customer.io's export {export['id']} of segment {segment_id} cannot be read "
                f"({exc.__class__.__name__}): the file may be cut short or in a form this client does not know: "
                "re-run, or use membership = \"pages\"")) from None
    membership.pages = 1
    total = export.get("total")
    if isinstance(total, int) and not isinstance(total, bool) and total and total != len(membership):
        raise client.error(CustomerIOError, (
            f"Customer.io's export {export['id']} of segment {segment_id} says total {total:,} but its file holds "
            f"{len(membership):,} people; the file may be cut short: re-run, or use membership = \"pages\""))
    return membership


def _wait(client, export: dict, max_wait: float, on_status) -> dict:
    """Poll until done; ExportFailed when failed or when ``max_wait`` seconds pass."""
    waited, pause = 0.0, FIRST_POLL
    while True:
        status = str(export.get("status") or "").lower()
        if on_status is not None:
            on_status(export)
        if export.get("failed") is True or status == "failed":
            raise client.error(ExportFailed, (
                f"Customer.io's export {export['id']} failed (status \"failed\"); it will never be downloadable: "
                "re-run to start a new export, or set membership = \"pages\" for this segment"))
        if status == "done":
            return export
        if waited >= max_wait:
            raise client.error(ExportFailed, (
                f"Customer.io's export {export['id']} was still \"{status or 'unknown'}\" after {waited:.0f} s; "
                "re-run later, or set membership = \"pages\" for this segment"))
        client.sleep(pause)
        waited += pause
        pause = min(POLL_CAP, pause * 2)
        export = client.export(export["id"])


def _download(client, export_id: Any) -> IO[bytes]:
    """The file from a fresh signed link, spooled (to disk above 64 MiB) and rewound; an expired
    or refused link is asked for once more. The caller closes it."""
    last = ""
    for attempt in range(2):
        url = client.export_download_url(export_id)
        try:
            # A bare request: no session (so no Authorization header), no redirects followed.
            response = requests.get(url, timeout=client.timeout, stream=True, allow_redirects=False,
                                    headers={"User-Agent": "reconcile"})
        except requests.RequestException as exc:
            last = f"the download failed ({exc.__class__.__name__})"
            continue
        with response:
            if response.status_code == 200:
                spool = tempfile.SpooledTemporaryFile(max_size=64 << 20)
                try:
                    shutil.copyfileobj(response.raw, spool, 1 << 20)
                except (requests.RequestException, urllib3.exceptions.HTTPError, OSError) as exc:
                    spool.close()
                    last = f"the connection dropped during the download ({exc.__class__.__name__})"
                    continue
                spool.seek(0)
                return spool
            last = f"the download link answered {response.status_code}" + (
                " (expired)" if response.status_code in (400, 403) else "")
    raise client.error(CustomerIOError, (
        f"Customer.io's export {export_id} could not be downloaded: {last}, twice, with a fresh link each time; "
        "re-run, and check that this machine may reach the export's storage host"))


# ---------------------------------------------------------------------- the file

# CSV read this many bytes at a time: Arrow's reader holds a few blocks at once, so small blocks
# keep a big file's peak memory low at no cost in time (benchmarks/bench_scale.py --membership export)
BATCH_BYTES = 1 << 20
JSON_LINES = 100_000       # JSON Lines rows per chunk


def parse_export(data: bytes, segment_id: int = 0) -> MemoryMembership:
    """Members from an export file's bytes in any of the plausible forms (see the module docstring)."""
    membership = MemoryMembership(segment_id)
    read_export(io.BytesIO(data), membership)
    return membership


def read_export(file: IO[bytes], membership: Membership, *, csv_bytes: int = BATCH_BYTES,
                json_lines: int = JSON_LINES) -> None:
    """An export file (gzipped or not; a Content-Encoding gzip is the same bytes) into
    ``membership``, in batches: CSV (``csv_bytes`` at a time) and JSON Lines
    (``json_lines`` rows at a time) stream, a JSON document is read whole."""
    for _ in range(2):                         # a gzipped file sent gzip-encoded is gzipped twice
        magic = file.read(2)
        file.seek(0)
        if magic == b"\x1f\x8b":
            file = gzip.GzipFile(fileobj=file)
    if file.read(3) != b"\xef\xbb\xbf":       # a byte-order mark is not part of the first name
        file.seek(0)
    first = _first_line(file)
    start = first.lstrip()[:1]
    if start == b"{" and _one_member(first):
        _json_lines(file, membership, json_lines)
    elif start in (b"{", b"["):
        _add_rows(membership, _json_rows(file.read()))
    elif first.strip():
        _csv_chunks(file, first, membership, csv_bytes)


def _first_line(file: IO[bytes]) -> bytes:
    """The first non-blank line, the file left where it starts."""
    while True:
        position = file.tell()
        line = file.readline()
        if not line or line.strip():
            file.seek(position)
            return line


def _one_member(line: bytes) -> bool:
    """Whether a line is a whole JSON object that is a member, not a wrapper of them (JSON Lines)."""
    try:
        row = json.loads(line)
    except ValueError:
        return False
    return isinstance(row, dict) and not _wrapped(row)


def _wrapped(row: dict) -> list | None:
    """The members a ``{"customers": [...]}``-like wrapper holds, or None."""
    inner = [value for value in row.values() if isinstance(value, list)]
    if inner and not any(name in row for names in ALIASES.values() for name in names):
        return inner[0]
    return None


def _json_rows(data: bytes) -> list[dict]:
    rows = json.loads(data.decode("utf-8"))
    rows = rows if isinstance(rows, list) else [rows]
    if len(rows) == 1 and isinstance(rows[0], dict) and _wrapped(rows[0]) is not None:
        rows = _wrapped(rows[0])
    return [row for row in rows if isinstance(row, dict)]


def _json_lines(file: IO[bytes], membership, batch: int) -> None:
    rows: list[dict] = []
    for line in file:
        if line.strip():
            row = json.loads(line)
            if isinstance(row, dict):
                rows.append(row)
        if len(rows) >= batch:
            _add_rows(membership, rows)
            rows = []
    if rows:
        _add_rows(membership, rows)


def _add_rows(membership, rows: list[dict]) -> None:
    items = []
    for row in rows:
        lowered = {str(k).lower(): v for k, v in row.items()}
        item = {}
        for name, aliases in ALIASES.items():
            value = next((lowered[a] for a in aliases if a in lowered), None)
            item[name] = None if value is None else str(value)
        items.append(item)
    membership.add_page({"identifiers": items})


def _csv_chunks(file: IO[bytes], header: bytes, membership, batch_bytes: int) -> None:
    """The CSV's identifier columns as text (never numbers: "000417" stays), in batches."""
    names = next(csv.reader([header.decode("utf-8")]), [])
    lowered = [name.strip().lower() for name in names]
    picked = {}
    for field, aliases in ALIASES.items():
        for alias in aliases:
            if alias in lowered:
                picked[field] = names[lowered.index(alias)]
                break
    if not picked:
        raise CustomerIOError(f"the export file has no id, email or cio_id column (it has {', '.join(names[:10])}); "
                              "the export format may have changed: please report it")
    reader = pacsv.open_csv(file, read_options=pacsv.ReadOptions(block_size=batch_bytes),
                            convert_options=pacsv.ConvertOptions(
                                include_columns=list(picked.values()),
                                column_types={column: pa.string() for column in picked.values()},
                                strings_can_be_null=False, quoted_strings_can_be_null=False))
    for batch in reader:
        columns = [batch.column(picked[field]) if field in picked else pa.nulls(batch.num_rows, pa.string())
                   for field in ("id", "email", "cio_id")]
        membership.add_chunk(clean(pa.StructArray.from_arrays(columns, fields=list(MEMBER))))


__all__ = ["export_membership", "parse_export", "read_export"]
