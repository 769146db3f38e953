"""greennlp's corpus-cleaning rules as a datatrove filter, so a read -> clean -> write pipeline runs unchanged on
one machine (``LocalPipelineExecutor``) or a cluster (``SlurmPipelineExecutor``, ``RayPipelineExecutor``)."""
from __future__ import annotations

from collections.abc import Sequence

from greennlp.filters.cleaning import check_rules, default_rules, drop_reasons
from greennlp.filters.heuristics import QualityRule

from ._requirements import MISSING_DATATROVE

try:
    from datatrove.data import Document
    from datatrove.pipeline.filters.base_filter import BaseFilter
    from datatrove.pipeline.writers.disk_base import DiskWriter
except ImportError as error:  # pragma: no cover - exercised by a test that hides datatrove
    raise ImportError(MISSING_DATATROVE) from error


class QualityFilter(BaseFilter):
    """Drop documents that fail greennlp's quality rules, with the rule's name as datatrove's drop reason.

    Decides exactly as :func:`greennlp.filters.annotate_quality` does: a document is kept when every rule keeps
    it, and is dropped with the name of the first rule it fails (``"word_count"``, ``"markup"``, ...). datatrove
    counts each reason in the step's stats (``dropped_word_count``) and, with an ``exclusion_writer``, writes the
    dropped documents with ``metadata["filter_reason"]`` set.

    Parameters
    ----------
    rules : list of QualityRule, optional
        The chain to apply, in order; ``None`` uses :func:`greennlp.filters.default_rules` for ``language``.
    language : str
        Language of the default chain's stop-word test (ignored when ``rules`` is given).
    exclusion_writer : datatrove DiskWriter, optional
        Where the dropped documents go (e.g. ``JsonlWriter("removed/")``).

    Notes
    -----
    No ``filter_batch``: the rules work on one document at a time and share nothing across documents, so a
    batch would only add bookkeeping (measured in ``scripts/bench_scale.py``). Parallelism comes from datatrove's
    tasks and workers.

    Examples
    --------
    >>> from datatrove.data import Document
    >>> from greennlp.filters import default_rules
    >>> step = QualityFilter(rules=default_rules(only=["word_count"], word_count={"min_words": 5}))
    >>> step.filter(Document(text="too short", id="0"))
    (False, 'word_count')
    >>> step.filter(Document(text="a b c d e f", id="1"))
    True
    """

    name = "🧹 greennlp quality rules"

    def __init__(self, rules: Sequence[QualityRule] | None = None, *, language: str = "en",
                 exclusion_writer: DiskWriter | None = None) -> None:
        super().__init__(exclusion_writer=exclusion_writer)
        self.language = language
        self.rules = default_rules(language=language) if rules is None else check_rules(rules)

    def filter(self, doc: Document) -> bool | tuple[bool, str]:
        reason = drop_reasons(doc.text, self.rules)
        return True if not reason else (False, reason)
