"""Scale out on datatrove: greennlp's corpus cleaning and content-word packing as pipeline steps, run by datatrove's
Local, Slurm or Ray executors (``pip install greennlp[scale]``).

``load_packed_shards`` reads the packed blocks back for pretraining and needs no datatrove."""
from __future__ import annotations

from typing import TYPE_CHECKING

from greennlp._lazy import attach

_EXPORTS = {
    "ContentWordPacker": ".packing",
    "PackedBlockWriter": ".packing",
    "QualityFilter": ".cleaning",
    "load_packed_shards": ".shards",
}
__all__ = [
    "ContentWordPacker",
    "PackedBlockWriter",
    "QualityFilter",
    "load_packed_shards",
]
__getattr__, __dir__ = attach(__name__, _EXPORTS)

if TYPE_CHECKING:
    from .cleaning import QualityFilter
    from .packing import ContentWordPacker, PackedBlockWriter
    from .shards import load_packed_shards
