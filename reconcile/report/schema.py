"""results.json's JSON Schema, ``results.schema.json`` beside this module (``reconcile schema
results`` prints it). It holds the keys the contract promises and the ones reconcile has added
since; any key may be added later, so the schema allows more than it names."""

from __future__ import annotations

import json
from functools import cache
from importlib import resources
from typing import Any


@cache
def results_schema() -> dict[str, Any]:
    return json.loads(resources.files(__package__).joinpath("results.schema.json").read_text(encoding="utf-8"))


__all__ = ["results_schema"]
