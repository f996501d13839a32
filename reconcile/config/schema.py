"""The JSON Schema of ``config.toml``, made from the tables of :mod:`.keys`: the same keys, readers
and cross-key rules the loader runs, so an editor that reads the schema (taplo, Even Better
TOML: ``#:schema ./config.schema.json`` on the file's first line) flags what a run would refuse.

What the schema cannot say, and the loader still checks: that segment names are unique, that a
``${VAR}`` is set (and what it holds), a SQLAlchemy URL beyond its ``dialect://`` start, and the
difference between ``3`` and ``3.0`` where an integer is expected.

The copy shipped for editors, ``reconcile/config/config.schema.json``, is this schema as
``reconcile schema`` prints it (a test keeps the two equal).
"""

from __future__ import annotations

import json
from typing import Any

from .keys import REQUIRED, ROOT, Key, Table

SCHEMA_ID = "urn:reconcile-cio:config.schema.json"


def config_schema() -> dict[str, Any]:
    """The whole file's schema (JSON Schema 2020-12)."""
    return {"$schema": "https://json-schema.org/draft/2020-12/schema", "$id": SCHEMA_ID,
            "title": "reconcile config.toml", **_table(ROOT)}


def config_schema_json() -> str:
    return json.dumps(config_schema(), indent=2, sort_keys=False) + "\n"


def _table(table: Table) -> dict[str, Any]:
    schema: dict[str, Any] = {"type": "object"}
    if table.doc:
        schema["description"] = table.doc
    schema["properties"] = {key.name: _key(table, key) for key in table.keys}
    required = [key.name for key in table.keys if table.default_of(key) is REQUIRED]
    if required:
        schema["required"] = required
    schema["additionalProperties"] = False
    if table.rules:
        schema["allOf"] = [rule.schema for rule in table.rules]
    return schema


def _key(table: Table, key: Key) -> dict[str, Any]:
    if isinstance(key.read, Table):
        schema = _table(key.read)
    elif isinstance(key.read, list):
        schema = {"type": "array", "minItems": 1, "items": _table(key.read[0])}
    else:
        schema = dict(key.read.schema)
    if key.doc:
        schema["description"] = key.doc if "description" not in schema else f"{schema['description']}: {key.doc}"
    default = table.default_of(key)
    if isinstance(default, (str, int, float, bool)) and not isinstance(key.read, Table):
        schema["default"] = default
    return schema


__all__ = ["config_schema", "config_schema_json", "SCHEMA_ID"]
