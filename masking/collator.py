"""The MLM collator: content-word masking on top of ``DataCollatorForLanguageModeling``, and its baselines.

All three strategies (``random``, ``whole-word``, ``content``) read the same tagged dataset, so a
pretraining run can switch strategy with one argument and compare like with like.
"""
from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from numbers import Real
from typing import Any

import torch
from transformers import DataCollatorForLanguageModeling, PreTrainedTokenizerBase

from greennlp.encoders.data import pad_columns

from .alignment import CONTENT_MASK_COLUMN, WORD_IDS_COLUMN

BUDGETS = ("content", "matched")
#: The one default budget of :class:`DataCollatorForContentMasking`: ``"matched"`` masks as many tokens as random
#: masking at the same ``mlm_probability``, so a change of strategy changes which tokens are predicted, not how many.
DEFAULT_BUDGET = "matched"
MASKING_STRATEGIES = ("random", "whole-word", "content")

# Keys the tokenizer knows how to pad; the baselines ignore everything else in a feature dict.
_PADDED_KEYS = ("input_ids", "attention_mask", "token_type_ids", "special_tokens_mask", "offset_mapping")


@dataclass
class DataCollatorForContentMasking(DataCollatorForLanguageModeling):
    """Mask content words for masked-language-model training, or, with ``strategy``, the baselines it is compared
    with, all reading the same tagged dataset.

    Takes the same parameters as ``transformers.DataCollatorForLanguageModeling`` (``mlm_probability`` in (0, 1],
    ``mask_replace_prob`` / ``random_replace_prob`` for the 80/10/10 split, ``pad_to_multiple_of``,
    ``seed``) and reads the ``content_word_mask`` and ``word_ids`` columns added by
    :func:`add_content_word_mask`. Three of the parent's parameters are fixed (another value raises
    ``ValueError``): ``mlm`` stays ``True``, ``return_tensors`` stays ``"pt"`` (batches are PyTorch tensors), and ``whole_word_mask``
    stays ``False`` (the whole-word baseline is ``strategy="whole-word"``, which sets it; content masking groups
    sub-tokens with ``whole_words``).

    Parameters
    ----------
    strategy : {"content", "random", "whole-word"}
        ``"content"`` (default): mask content words (below). ``"random"``: ``DataCollatorForLanguageModeling``
        unchanged (random tokens). ``"whole-word"``: its whole-word masking (needs ``offset_mapping``: tag with
        ``add_content_word_mask(..., keep_offsets=True)``; transformers then replaces every masked token with
        ``[MASK]``). The baselines ignore the content columns, ``budget`` and ``whole_words``.
    budget : {"matched", "content"}
        ``"matched"`` (default): the probability is rescaled per batch so that the expected number of masked
        tokens equals random masking at ``mlm_probability`` over all non-special tokens (the fair comparison);
        capped at 1 when a batch has too few content tokens to meet the budget. ``"content"``: each content word
        is masked with probability ``mlm_probability`` (fewer masked tokens).
    whole_words : bool
        Mask all sub-tokens of a word together (needs the ``word_ids`` column; without it each content
        token is drawn on its own). Default ``True``.

    Notes
    -----
    A sequence without any content token (e.g. "It is what it is.") falls back to random masking of its
    non-special tokens at ``mlm_probability``. Labels are -100 at every position that is not masked.
    With ``Trainer``, set ``TrainingArguments(remove_unused_columns=False)``: otherwise the Trainer drops
    ``content_word_mask`` because the model's ``forward`` does not take it.

    Examples
    --------
    >>> from datasets import Dataset
    >>> from greennlp.encoders import train_wordpiece_tokenizer
    >>> from greennlp.masking import ContentWordTagger, add_content_word_mask
    >>> texts = ["A tiger is eating the carrot.", "It is what it is."]
    >>> tokenizer = train_wordpiece_tokenizer(texts * 10, vocab_size=100)
    >>> dataset = add_content_word_mask(Dataset.from_dict({"text": texts}), tokenizer, ContentWordTagger("blank"),
    ...                                 remove_columns=["text"])
    >>> dataset[0]["content_word_mask"]  # [CLS] a tiger is eating the carrot . [SEP]
    [0, 0, 1, 0, 1, 0, 1, 0, 0]
    >>> collator = DataCollatorForContentMasking(tokenizer, mlm_probability=0.15, budget="matched", seed=0)
    >>> batch = collator([dataset[i] for i in range(2)])
    >>> sorted(batch), tuple(batch["labels"].shape)
    (['attention_mask', 'input_ids', 'labels'], (2, 9))
    >>> baseline = DataCollatorForContentMasking(tokenizer, strategy="random", seed=0)  # same dataset, random tokens
    >>> sorted(baseline([dataset[i] for i in range(2)]))
    ['attention_mask', 'input_ids', 'labels']
    """

    strategy: str = field(default="content", kw_only=True)
    budget: str = field(default=DEFAULT_BUDGET, kw_only=True)
    whole_words: bool = field(default=True, kw_only=True)

    def __post_init__(self) -> None:
        if self.strategy not in MASKING_STRATEGIES:
            raise ValueError(f"DataCollatorForContentMasking(strategy={self.strategy!r}); choose one of "
                             f"{MASKING_STRATEGIES}.")
        _check_probability(self.mlm_probability)
        if not self.mlm:
            raise ValueError("DataCollatorForContentMasking is for masked LM; use DataCollatorForLanguageModeling(mlm=False) for causal LM.")
        if self.whole_word_mask:
            raise ValueError("whole_word_mask=True: use strategy='whole-word' for the HF offset-based whole-word "
                             "baseline; content masking groups sub-tokens by the word_ids column with whole_words=True "
                             "(the default).")
        if self.budget not in BUDGETS:
            raise ValueError(f"budget={self.budget!r}; choose one of {BUDGETS}.")
        if self.return_tensors != "pt":
            raise ValueError(f"return_tensors={self.return_tensors!r}: DataCollatorForContentMasking returns PyTorch tensors only ('pt').")
        self.whole_word_mask = self.strategy == "whole-word"
        super().__post_init__()

    def torch_call(self, examples: list[Mapping[str, Any]]) -> dict[str, torch.Tensor]:
        if self.strategy != "content":
            return self._baseline_call(examples)
        if self.seed is not None and self.generator is None:
            self.create_rng()
        if not isinstance(examples[0], Mapping) or CONTENT_MASK_COLUMN not in examples[0]:
            found = sorted(examples[0]) if isinstance(examples[0], Mapping) else type(examples[0]).__name__
            raise ValueError(
                f"Features need a {CONTENT_MASK_COLUMN!r} column (found {found}). Tag the dataset with "
                "masking.add_content_word_mask(...); with Trainer also set TrainingArguments(remove_unused_columns=False)."
            )
        columns = _pad_columns(examples, self.tokenizer, self.pad_to_multiple_of, self.whole_words)
        content = columns.pop(CONTENT_MASK_COLUMN).bool()
        word_ids = columns.pop(WORD_IDS_COLUMN, None)
        special = columns.pop("special_tokens_mask", None)
        batch = columns
        if special is None:
            special = torch.tensor(
                [self.tokenizer.get_special_tokens_mask(row, already_has_special_tokens=True)
                 for row in batch["input_ids"].tolist()], dtype=torch.bool)
        maskable = ~special.bool() & batch["attention_mask"].bool()
        selected = self.select_positions(maskable, content, word_ids)
        batch["input_ids"], batch["labels"] = self.corrupt(batch["input_ids"], selected)
        return batch

    def select_positions(
        self, maskable: torch.Tensor, content: torch.Tensor, word_ids: torch.Tensor | None = None
    ) -> torch.Tensor:
        """Boolean ``(batch, length)`` tensor of the positions to predict.

        ``maskable`` marks non-special, non-padding tokens; ``content`` marks content tokens; ``word_ids``
        (optional) groups sub-tokens so a word is drawn once. The tensors may sit on any device (a GPU too): the
        random draws come from the collator's generator on the CPU, so a seed gives the same positions everywhere.
        """
        content = content & maskable
        has_content = content.any(dim=1, keepdim=True)
        candidates = torch.where(has_content, content, maskable)
        p = self.mlm_probability
        q = p
        if self.budget == "matched":
            n_content = int(content.sum())
            n_target = int((maskable & has_content).sum())
            q = min(1.0, p * n_target / n_content) if n_content else p
        probability = torch.where(has_content, q, p)
        draws = _word_level_uniform(word_ids, maskable.shape, self.generator).to(maskable.device)
        return candidates & (draws < probability)

    def corrupt(self, inputs: torch.Tensor, selected: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """Labels -100 except at ``selected``; there the 80/10/10 ``[MASK]``/random/unchanged replacement.

        Same semantics and parameters as ``DataCollatorForLanguageModeling.torch_mask_tokens`` after its
        Bernoulli draw (which this collator replaces with content-word selection). Drawn on the CPU, as
        :meth:`select_positions`, and moved to the device of ``inputs``.
        """
        device = inputs.device
        labels = inputs.clone()
        labels[~selected] = -100
        replaced = torch.bernoulli(torch.full(inputs.shape, self.mask_replace_prob), generator=self.generator)
        replaced = replaced.bool().to(device)
        replaced &= selected
        inputs[replaced] = self.tokenizer.convert_tokens_to_ids(self.tokenizer.mask_token)
        if self.mask_replace_prob == 1 or self.random_replace_prob == 0:
            return inputs, labels
        scaled = self.random_replace_prob / (1 - self.mask_replace_prob)
        randomized = torch.bernoulli(torch.full(inputs.shape, scaled), generator=self.generator).bool().to(device)
        randomized &= selected & ~replaced
        random_words = torch.randint(len(self.tokenizer), inputs.shape, dtype=torch.long, generator=self.generator)
        random_words = random_words.to(device)
        inputs[randomized] = random_words[randomized]
        return inputs, labels

    def _baseline_call(self, examples: list[Mapping[str, Any]]) -> dict[str, Any]:
        """``DataCollatorForLanguageModeling`` unchanged on the columns it knows (the content columns left out)."""
        if isinstance(examples[0], Mapping):
            keys = [k for k in _PADDED_KEYS if k in examples[0] and (k != "offset_mapping" or self.whole_word_mask)]
            examples = [{key: e[key] for key in keys} for e in examples]
            if self.whole_word_mask:
                examples = self._pad_offsets(examples)
        return super().torch_call(examples)

    def _pad_offsets(self, examples: list[dict[str, Any]]) -> list[dict[str, Any]]:
        # tokenizer.pad cannot pad the nested offset_mapping lists, so pad them here to the length
        # tokenizer.pad will choose; padding positions get (0, 0) and are special tokens for the HF collator.
        if "offset_mapping" not in examples[0]:
            raise ValueError("Whole-word masking needs offset_mapping: tag with add_content_word_mask(..., keep_offsets=True).")
        length = max(len(e["input_ids"]) for e in examples)
        if self.pad_to_multiple_of:
            length = -(-length // self.pad_to_multiple_of) * self.pad_to_multiple_of
        left = self.tokenizer.padding_side == "left"
        padded = []
        for e in examples:
            filler = [[0, 0]] * (length - len(e["offset_mapping"]))
            offsets = [list(pair) for pair in e["offset_mapping"]]
            padded.append({**e, "offset_mapping": filler + offsets if left else offsets + filler})
        return padded


def _check_probability(mlm_probability: Any) -> None:
    """Refuse a masking probability outside (0, 1] (NaN included: every comparison with it is False)."""
    number = isinstance(mlm_probability, Real) and not isinstance(mlm_probability, bool)
    if not (number and 0.0 < float(mlm_probability) <= 1.0):
        raise ValueError(f"mlm_probability must be a number in (0, 1] (the share of tokens to predict); "
                         f"got {mlm_probability!r}.")


def _pad_columns(examples: list[Mapping[str, Any]], tokenizer: PreTrainedTokenizerBase,
                 pad_to_multiple_of: int | None, with_word_ids: bool) -> dict[str, torch.Tensor]:
    """Pad every per-token column of ``examples``, the content columns included, with the library's one padding
    (:func:`greennlp.encoders.data.pad_columns`: the tokenizer's padding side and pad ids)."""
    fills = {"input_ids": tokenizer.pad_token_id, "attention_mask": 0,
             "token_type_ids": getattr(tokenizer, "pad_token_type_id", 0), "special_tokens_mask": 1,
             CONTENT_MASK_COLUMN: 0}
    if with_word_ids:
        fills[WORD_IDS_COLUMN] = -1
    return pad_columns(examples, fills, padding_side=tokenizer.padding_side, pad_to_multiple_of=pad_to_multiple_of)


def _word_level_uniform(word_ids: torch.Tensor | None, shape: torch.Size, generator: torch.Generator | None) -> torch.Tensor:
    """Uniform draws with one value per word: all sub-tokens of a word share the draw of its first token. Drawn
    on the CPU (``generator`` is a CPU generator), on the device of ``word_ids`` when it is given."""
    if word_ids is None:
        return torch.rand(shape, generator=generator)
    previous = torch.roll(word_ids, 1, dims=1)
    previous[:, 0] = -1
    new_word = (word_ids != previous) | (word_ids < 0)
    group = torch.cumsum(new_word.flatten(), 0) - 1
    draws = torch.rand(int(group[-1]) + 1 if group.numel() else 0, generator=generator).to(word_ids.device)
    return draws[group].view(shape)
