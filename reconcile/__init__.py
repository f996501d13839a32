"""reconcile: does your Customer.io segment hold the people your own database says it should?

The library, one module per step of the data flow:
config → truth + customerio → diff → (diagnose → checks) → report → deliver.
The command line in :mod:`reconcile.cli` is a thin layer over it.
"""

__version__ = "0.1.0"
