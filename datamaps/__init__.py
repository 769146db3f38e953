"""Dataset cartography: record training dynamics inside ``Trainer``, analyse them as a ``DataMap``, plot it."""
from __future__ import annotations

from typing import TYPE_CHECKING

from greennlp._lazy import attach

_EXPORTS = {
    "DataMap": ".datamap",
    "DataMapCallback": ".callback",
    "DataMapError": ".errors",
}
__all__ = [
    "DataMap",
    "DataMapCallback",
    "DataMapError",
]
__getattr__, __dir__ = attach(__name__, _EXPORTS)

if TYPE_CHECKING:
    from .callback import DataMapCallback
    from .datamap import DataMap
    from .errors import DataMapError
