"""A segment's members as they arrive from Customer.io, and the containers that hold them.

Segments hold millions of people, so members are never Python objects: a page is read straight
into an Arrow struct array (:func:`read_page`) and appended to a :class:`Membership`, the seam
between reading and comparing. Two containers implement it:

* :class:`MemoryMembership` keeps the pages as Arrow chunks (``diff = "memory"``);
* :class:`reconcile.compare.in_database.DatabaseMembership` writes them into a temporary table
  of the shop database as they arrive (``diff = "database"``).

The client and the export reader fill either one through the same two calls, ``add_page``
(a page as the API sends it) and ``add_chunk`` (members already read, e.g. a batch of an export
file), and the comparison reads either one through ``table()``.
"""

from __future__ import annotations

from typing import Any, Protocol, runtime_checkable

import pyarrow as pa
import pyarrow.compute as pc

MEMBER = pa.struct([("id", pa.string()), ("email", pa.string()), ("cio_id", pa.string())])
COLUMNS = ("id", "email", "cio_id")


@runtime_checkable
class Membership(Protocol):
    """Where a segment's members go as they are read, in the API's order.

    ``pages`` counts the pages (1 for an export); ``len()`` the members; ``table()`` gives
    columns ``id``, ``email``, ``cio_id`` (null where a profile has none); ``close()`` gives back
    what the container holds (a database connection, for one), and may be called twice.
    """

    segment_id: int
    pages: int

    def __len__(self) -> int: ...

    def add_page(self, page: dict[str, Any]) -> None: ...

    def add_chunk(self, chunk: pa.StructArray) -> None: ...

    def table(self) -> pa.Table: ...

    def close(self) -> None: ...


class MemoryMembership:
    """A segment's members as Arrow chunks (one per page), in the API's order."""

    def __init__(self, segment_id: int):
        self.segment_id = segment_id
        self.pages = 0
        self._chunks: list[pa.StructArray] = []
        self._count = 0

    def __len__(self) -> int:
        return self._count

    def add_page(self, page: dict[str, Any]) -> None:
        self.add_chunk(read_page(page))

    def add_chunk(self, chunk: pa.StructArray) -> None:
        """Append members already read (:data:`MEMBER` struct, cleaned as :func:`read_page` does)."""
        self._chunks.append(chunk)
        self._count += len(chunk)

    def table(self) -> pa.Table:
        return members_table(self._chunks)

    def close(self) -> None:
        """Nothing to give back: the chunks are freed with the object."""


def read_page(page: dict[str, Any]) -> pa.StructArray:
    """One membership page as a :data:`MEMBER` struct array, in the page's order.

    ``identifiers`` is read when present, ``ids`` only when it is absent (then email and cio_id
    are unknown). ``""`` in an id or email means none (null); a missing cio_id reads as ``""``.
    A page of another shape raises ValueError, TypeError or AttributeError, which the client
    turns into one line naming the page.
    """
    identifiers = page.get("identifiers")
    if isinstance(identifiers, list):
        try:
            chunk = pa.array(identifiers, type=MEMBER)
        except (pa.ArrowInvalid, pa.ArrowTypeError, TypeError):
            chunk = None            # numbers, odd shapes: read value by value below
        if chunk is not None and not chunk.null_count:
            return clean(chunk)
    if identifiers is not None:
        ids = [_text_or_none(item.get("id")) for item in identifiers]
        emails = [_text_or_none(item.get("email")) for item in identifiers]
        cio_ids = [str(item.get("cio_id") or "") for item in identifiers]
    else:
        raw = page.get("ids")
        if not isinstance(raw, list):
            raise ValueError("the page has neither identifiers nor ids")
        ids = [_text_or_none(value) for value in raw]
        emails, cio_ids = [None] * len(ids), [""] * len(ids)
    return pa.StructArray.from_arrays([pa.array(column, pa.string()) for column in (ids, emails, cio_ids)],
                                      fields=list(MEMBER))


def _text_or_none(value: Any) -> str | None:
    return None if value is None or value == "" else str(value)


def clean(chunk: pa.StructArray) -> pa.StructArray:
    """``""`` in id or email means none (null); a missing cio_id reads as ``""``."""
    ids, emails, cio_ids = (chunk.field(name) for name in COLUMNS)
    return pa.StructArray.from_arrays([_empty_is_null(ids), _empty_is_null(emails), pc.fill_null(cio_ids, "")],
                                      fields=list(MEMBER))


def _empty_is_null(column: pa.Array) -> pa.Array:
    return pc.if_else(pc.equal(column, ""), pa.scalar(None, pa.string()), column)


def members_table(chunks: list[pa.StructArray]) -> pa.Table:
    """Chunks of :data:`MEMBER` as one table with columns ``id``, ``email``, ``cio_id``."""
    if not chunks:
        return pa.table({name: pa.array([], pa.string()) for name in COLUMNS})
    merged = pa.chunked_array(chunks, type=MEMBER)
    return pa.table({name: pc.struct_field(merged, name) for name in COLUMNS})


__all__ = ["Membership", "MemoryMembership", "MEMBER", "COLUMNS", "read_page", "clean", "members_table"]
