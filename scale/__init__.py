"""Scale out on datatrove: greennlp's corpus cleaning, content-word packing, prototype pruning and semantic
deduplication as pipeline steps, run by datatrove's Local, Slurm or Ray executors (``pip install greennlp[scale]``).

``load_packed_shards`` reads the packed blocks back for pretraining and needs no datatrove."""
from __future__ import annotations

from typing import TYPE_CHECKING

from greennlp._lazy import attach

_EXPORTS = {
    "ContentWordPacker": ".packing",
    "EmbeddingWriter": ".prototypes",
    "PackedBlockWriter": ".packing",
    "PrototypeScorer": ".prototypes",
    "QualityFilter": ".cleaning",
    "deduplicate_shards": ".dedup",
    "fit_prototypes": ".prototypes",
    "load_packed_shards": ".shards",
    "select_by_prototype_score": ".prototypes",
}
__all__ = [
    "ContentWordPacker",
    "EmbeddingWriter",
    "PackedBlockWriter",
    "PrototypeScorer",
    "QualityFilter",
    "deduplicate_shards",
    "fit_prototypes",
    "load_packed_shards",
    "select_by_prototype_score",
]
__getattr__, __dir__ = attach(__name__, _EXPORTS)

if TYPE_CHECKING:
    from .cleaning import QualityFilter
    from .dedup import deduplicate_shards
    from .packing import ContentWordPacker, PackedBlockWriter
    from .prototypes import EmbeddingWriter, PrototypeScorer, fit_prototypes, select_by_prototype_score
    from .shards import load_packed_shards
