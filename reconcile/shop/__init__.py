"""The shop side: the team's SQL on its own database, read-only.

    database.py   the engine and its read-only guard, the window SQL is bound to, the one door
                  for reconcile's own temporary tables, streaming, one-line driver errors
    truth.py      a truth segment's SQL → the distinct people it names (TruthSet)
    lookup.py     the diagnosis' lookup_sql: what the shop knows about given people
    probe.py      a query's columns without its rows (wrapped in WHERE 1 = 0: nothing is read)
    mapping.py    every mapped column is one the queries return, checked before a run
"""

from .database import Window, open_engine
from .lookup import lookup_people
from .truth import TruthSet, run_truth

__all__ = ["Window", "open_engine", "run_truth", "TruthSet", "lookup_people"]
