"""The one error type of data-map recording: :class:`DataMapError`, raised by the callback and the recorder alike
(a module of its own, so neither imports the other for it)."""
from __future__ import annotations

__all__ = ["DataMapError"]


class DataMapError(ValueError):
    """Raised when a training run cannot be recorded as a data map; the message says how to fix it."""
