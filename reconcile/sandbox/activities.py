"""Each profile's activity log, and ``GET /v1/customers/{customer_id}/activities`` as the App API serves it.

The OpenAPI spec's Activity object (``getPersonActivities``; the same shape as ``listActivities``'
items): ``id`` (text), ``type`` (``event`` for a tracked event), ``name`` (the event's name, for
``event`` activities), ``timestamp`` (an integer, unix seconds as sent: an integration that sent
milliseconds left milliseconds), ``customer_id`` (the profile's id, null for an id-less one),
``customer_identifiers`` (``email``, ``id``, ``cio_id``, unset ones null) and ``data`` (the event's
properties). Pages are newest first, ``limit`` at most 100 (default 10), ``start``/``next`` as for
the membership; ``type`` and ``name`` filter. The spec guarantees only the last 30 days; the
sandbox serves every activity it holds, as the API "might".

The log is held per ``cio_id`` beside the workspace's people, in the workspace JSON as a
top-level ``activities`` list (each entry names its profile's ``cio_id``), so a workspace without
activities costs nothing.
"""

from __future__ import annotations

from typing import Any, Callable, Iterable

DEFAULT_LIMIT, MAX_LIMIT = 10, 100
FIELDS = ("id", "type", "name", "timestamp", "data")


class ActivityLog:
    """Activities by profile (``cio_id``), served newest first."""

    def __init__(self) -> None:
        self._by_profile: dict[str, list[dict[str, Any]]] = {}

    def add(self, cio_id: str, activity: dict[str, Any]) -> None:
        unknown = set(activity) - set(FIELDS)
        if unknown or not isinstance(activity.get("timestamp"), int) or not activity.get("type"):
            raise ValueError(f"an activity of {cio_id!r} needs an integer timestamp and a type, and takes only "
                             f"{FIELDS}; got {sorted(activity)}")
        entries = self._by_profile.setdefault(cio_id, [])
        entries.append({"id": str(activity.get("id") or f"{cio_id}-{len(entries) + 1}"), **{
            k: activity[k] for k in FIELDS[1:] if k in activity}})
        entries.sort(key=lambda entry: entry["timestamp"], reverse=True)

    def of(self, cio_id: str) -> list[dict[str, Any]]:
        return self._by_profile.get(cio_id, [])

    def __len__(self) -> int:
        return sum(len(entries) for entries in self._by_profile.values())

    def load(self, entries: Iterable[dict[str, Any]], known: Callable[[str], bool]) -> None:
        """Add the workspace JSON's ``activities`` (each with its profile's ``cio_id``)."""
        for index, entry in enumerate(entries):
            cio_id = entry.get("cio_id") if isinstance(entry, dict) else None
            if not isinstance(cio_id, str) or not known(cio_id):
                raise ValueError(f"activities[{index}] names no known person's cio_id")
            self.add(cio_id, {k: v for k, v in entry.items() if k != "cio_id"})

    def to_list(self) -> list[dict[str, Any]]:
        return [{"cio_id": cio_id, **entry} for cio_id, entries in self._by_profile.items() for entry in entries]


def page(log: ActivityLog, cio_id: str, customer_id: str | None, identifiers: dict[str, Any], *,
         type: str | None, name: str | None, offset: int, limit: int) -> tuple[list[dict[str, Any]], bool]:
    """(one page of the profile's activities as the API shows them, whether more follow)."""
    chosen = [entry for entry in log.of(cio_id)
              if (not type or entry["type"] == type) and (not name or entry.get("name") == name)]
    shown = [{**entry, "customer_id": customer_id, "customer_identifiers": dict(identifiers)}
             for entry in chosen[offset: offset + limit]]
    return shown, offset + limit < len(chosen)


__all__ = ["ActivityLog", "page", "DEFAULT_LIMIT", "MAX_LIMIT"]
