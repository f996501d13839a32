"""``python -m reconcile`` is the same program as the ``reconcile`` command."""

from .cli import entry_point

entry_point()
