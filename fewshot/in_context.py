"""In-context learning with a causal LM: demonstrations in the prompt, prediction by label-word log-likelihood.

Contextual calibration (Zhao et al. 2021) is an option; prompts never exceed the model's context length.
"""
from __future__ import annotations

import logging
from collections.abc import Mapping, Sequence

import numpy as np
import torch
from transformers import AutoModelForCausalLM

from greennlp.encoders import load_tokenizer
from greennlp.encoders.data import PaddingCollator
from greennlp.encoders.models import resolve_model_path

from .base import DEFAULT_CAUSAL_LM, FewShotClassifier, check_number
from .verbalizers import label_word_ids, normalize_verbalizer, space_before, split_template

logger = logging.getLogger(__name__)

OVERFLOW_POLICIES = ("drop", "truncate")
CONTENT_FREE_INPUTS = ("N/A", "", "[MASK]")


class InContextClassifier(FewShotClassifier):
    """Few-shot classification by prompting a causal LM with labelled demonstrations (GPT-3 style).

    ``fit`` picks ``num_demonstrations`` training examples (balanced over classes, seeded order) and trains
    nothing. A text is scored by the log-likelihood of each class's label word after the prompt
    (demonstrations, then the text in the template); multi-token label words sum their tokens'
    log-probabilities. With ``calibrate=True`` the class probabilities are divided by those the model gives
    to content-free inputs (``"N/A"``, ``""``, ``"[MASK]"``) and renormalised (contextual calibration).

    Prompts never exceed the context length (``model.config.max_position_embeddings`` / ``n_positions``).
    ``overflow="drop"`` drops demonstrations, the earliest first; ``"truncate"`` keeps them and cuts the
    demonstration texts (the longest first), dropping demonstrations only when their templates alone do not
    fit. In both cases the text to classify is cut last, only if it alone does not fit. ``prompt_report_`` counts what the last ``predict_proba`` dropped or cut, and a
    warning says so.

    Parameters
    ----------
    model_name_or_path : str
        A causal-LM checkpoint (hub id or path), e.g. ``gpt2``.
    verbalizer : dict
        ``{label: "word"}``; the word follows the ``{label}`` slot of the template.
    template : str
        One demonstration, with a ``{text}`` slot and a ``{label}`` slot at its end.
    separator : str
        Text between demonstrations.
    num_demonstrations : int or None
        Demonstrations per prompt (``None``: all training examples).
    calibrate : bool
        Apply contextual calibration.
    overflow : {"drop", "truncate"}
        What to give up when a prompt exceeds the context (see above).
    text_column, label_column, seed, device, batch_size
        See :class:`FewShotClassifier` (``batch_size`` counts prompts per forward pass).

    Examples
    --------
    >>> clf = InContextClassifier("gpt2", verbalizer={0: "negative", 1: "positive"}, calibrate=True)  # doctest: +SKIP
    >>> clf.fit(sample_k_shot(train, k=4, seed=0)).predict(["a triumph"])                           # doctest: +SKIP
    [1]

    Runnable offline, with a tiny random GPT-2 saved as a local checkpoint in place of the pretrained one:

    >>> import tempfile
    >>> from transformers import GPT2Config, GPT2LMHeadModel
    >>> from greennlp.encoders import train_wordpiece_tokenizer
    >>> texts, labels = ["a good film", "a great plot", "a bad film", "a dull plot"] * 2, [1, 1, 0, 0] * 2
    >>> tokenizer = train_wordpiece_tokenizer(texts + ["input: label: positive negative"], vocab_size=100)
    >>> config = GPT2Config(vocab_size=len(tokenizer), n_positions=64, n_embd=32, n_layer=1, n_head=2,
    ...                     bos_token_id=tokenizer.cls_token_id, eos_token_id=tokenizer.sep_token_id)
    >>> checkpoint = tempfile.TemporaryDirectory()
    >>> _ = torch.manual_seed(0)
    >>> GPT2LMHeadModel(config).save_pretrained(checkpoint.name)
    >>> _ = tokenizer.save_pretrained(checkpoint.name)
    >>> clf = InContextClassifier(checkpoint.name, verbalizer={0: "negative", 1: "positive"}, num_demonstrations=4,
    ...                           calibrate=True).fit(texts, labels)
    >>> [label for _, label in clf.demonstrations_]                       # balanced over the classes
    [1, 1, 0, 0]
    >>> clf.predict_proba(["a good plot", "a dull film"]).shape, clf.num_trainable_parameters_   # nothing trained
    ((2, 2), 0)
    >>> clf.prompt_report_                                                # the prompts fit the 64-token context
    {'prompts': 2, 'demonstrations_dropped': 0, 'tokens_cut': 0}
    >>> checkpoint.cleanup()
    """

    def __init__(
        self,
        model_name_or_path: str = DEFAULT_CAUSAL_LM,
        *,
        verbalizer: Mapping[int, str | Sequence[str]] | None = None,
        template: str = "Input: {text}\nLabel: {label}",
        separator: str = "\n\n",
        num_demonstrations: int | None = 8,
        calibrate: bool = False,
        overflow: str = "drop",
        text_column: str = "text",
        label_column: str = "label",
        seed: int = 0,
        batch_size: int = 8,
        device: str | None = None,
    ) -> None:
        super().__init__(model_name_or_path, text_column=text_column, label_column=label_column, seed=seed,
                         batch_size=batch_size, device=device)
        self.verbalizer = verbalizer
        self.template = template
        self.separator = separator
        self.num_demonstrations = num_demonstrations
        self.calibrate = calibrate
        self.overflow = overflow

    def _check_params(self) -> None:
        super()._check_params()
        if self.overflow not in OVERFLOW_POLICIES:
            raise ValueError(f"overflow must be one of {OVERFLOW_POLICIES}, got {self.overflow!r}.")
        check_number(type(self).__name__, "num_demonstrations", self.num_demonstrations, integer=True, minimum=0,
                     optional=True)
        if not isinstance(self.separator, str):
            raise ValueError(f"separator must be a string, got {self.separator!r}.")

    def _classes_for(self, labels: np.ndarray) -> np.ndarray:
        verbalizer = normalize_verbalizer(self.verbalizer)
        unknown = sorted(set(labels.tolist()) - set(verbalizer))
        if unknown:
            raise ValueError(f"Labels {unknown} have no label word; the verbalizer covers {list(verbalizer)}.")
        if any(len(words) != 1 for words in verbalizer.values()):
            raise ValueError("InContextClassifier takes one label word per class (it is written in the demonstrations).")
        self.label_words_ = [words[0] for words in verbalizer.values()]
        return np.asarray(list(verbalizer))

    def _fit(self, texts: list[str], labels: np.ndarray) -> None:
        pieces = split_template(self.template, required=("{text}", "{label}"), allowed=("{text}", "{label}"))
        if pieces[-1] != "{label}":
            raise ValueError(f"Template {self.template!r} must end with its {{label}} slot: the label word is scored there.")
        self.tokenizer_ = load_tokenizer(self.model_name_or_path)
        self.model_ = AutoModelForCausalLM.from_pretrained(
            resolve_model_path(self.model_name_or_path), attn_implementation="sdpa"
        ).to(self._device()).eval()
        self.context_length_ = self._context_length()
        before, after = self.template.split("{text}")
        space = space_before(pieces, "{label}")
        self.label_ids_ = [label_word_ids(self.tokenizer_, word, space) for word in self.label_words_]
        # Pieces are tokenized apart so that texts can be cut without touching the template; whitespace that
        # ends a piece moves onto what follows it, as a byte-level BPE would see it in the joined string.
        self._text_prefix = before[len(before.rstrip()) :]
        self._before_ids = self._tokens(before.rstrip())
        query_suffix = after[: after.index("{label}")]
        self._query_suffix_ids = self._tokens(query_suffix.rstrip() if space else query_suffix)
        self._demo_suffix_ids = [self._tokens(after.replace("{label}", word)) for word in self.label_words_]
        self._separator_ids = self._tokens(self.separator)
        self.demonstrations_ = self._choose_demonstrations(texts, labels)
        self._demo_text_ids = [self._tokens(self._text_prefix + text) for text, _ in self.demonstrations_]
        self.num_trainable_parameters_ = 0
        self.calibration_ = None
        if self.calibrate:
            content_free = np.exp(self._log_likelihoods(list(CONTENT_FREE_INPUTS)))
            content_free /= content_free.sum(axis=1, keepdims=True)
            self.calibration_ = content_free.mean(axis=0)

    def _predict_proba(self, texts: list[str]) -> np.ndarray:
        scores = self._log_likelihoods(texts)
        probabilities = np.exp(scores - scores.max(axis=1, keepdims=True))
        probabilities /= probabilities.sum(axis=1, keepdims=True)
        if self.calibration_ is not None:
            probabilities = probabilities / self.calibration_
        return probabilities

    def build_prompt(self, text: str) -> tuple[list[int], dict[str, int]]:
        """Token ids of the prompt for ``text`` (no label word), and what had to go: ``dropped``, ``cut_tokens``.

        ``len(ids) + longest label word <= context_length_`` always holds.
        """
        limit = self.context_length_ - max(len(ids) for ids in self.label_ids_)
        demos = [[list(ids), label] for ids, (_, label) in zip(self._demo_text_ids, self.demonstrations_, strict=True)]
        query = self._tokens(self._text_prefix + text)
        fixed = len(self._before_ids) + len(self._query_suffix_ids)
        report = {"dropped": 0, "cut_tokens": 0}

        def length() -> int:
            overhead = len(self._before_ids) + len(self._separator_ids)
            return sum(overhead + len(ids) + len(self._demo_suffix_ids[label]) for ids, label in demos) + fixed + len(query)

        if self.overflow == "truncate":  # cut the longest demonstration texts first; label words stay
            while length() > limit and any(ids for ids, _ in demos):
                longest = max(demos, key=lambda demo: len(demo[0]))
                cut = min(length() - limit, len(longest[0]) - len(longest[0]) // 2 or 1)
                del longest[0][len(longest[0]) - cut :]
                report["cut_tokens"] += cut
        while demos and length() > limit:  # the earliest demonstration is the farthest from the text
            demos.pop(0)
            report["dropped"] += 1
        excess = length() - limit
        if excess > 0:  # the text alone does not fit: cut its end
            cut = min(excess, len(query))
            query = query[: len(query) - cut]
            report["cut_tokens"] += cut
        ids = [
            token
            for text_ids, label in demos
            for token in self._before_ids + text_ids + self._demo_suffix_ids[label] + self._separator_ids
        ]
        ids += self._before_ids + query + self._query_suffix_ids
        if len(ids) > limit:
            raise ValueError(
                f"The template alone ({fixed} tokens plus the label word) does not fit the context of "
                f"{self.context_length_} tokens of {self.model_name_or_path!r}."
            )
        return ids, report

    # -- internals --------------------------------------------------------------------------------------------
    def _tokens(self, text: str) -> list[int]:
        return self.tokenizer_(text, add_special_tokens=False)["input_ids"]

    def _context_length(self) -> int:
        config = self.model_.config
        for name in ("max_position_embeddings", "n_positions", "n_ctx", "seq_length"):
            value = getattr(config, name, None)
            if isinstance(value, int) and value > 0:
                return min(value, self.tokenizer_.model_max_length)
        return self.tokenizer_.model_max_length

    def _choose_demonstrations(self, texts: list[str], labels: np.ndarray) -> list[tuple[str, int]]:
        rng = np.random.default_rng(self.seed)
        count = len(texts) if self.num_demonstrations is None else min(self.num_demonstrations, len(texts))
        by_class = [list(rng.permutation(np.flatnonzero(labels == c))) for c in range(self.num_classes_)]
        chosen: list[int] = []
        while len(chosen) < count:  # round-robin over classes keeps the demonstrations balanced
            for members in by_class:
                if members and len(chosen) < count:
                    chosen.append(members.pop())
        chosen = list(rng.permutation(chosen))
        return [(texts[i], int(labels[i])) for i in chosen]

    @torch.inference_mode()
    def _log_likelihoods(self, texts: list[str]) -> np.ndarray:
        """``(len(texts), classes)`` log-likelihood of each label word after each text's prompt."""
        prompts, reports = zip(*(self.build_prompt(text) for text in texts), strict=True)
        self.prompt_report_ = {
            "prompts": len(texts),
            "demonstrations_dropped": sum(r["dropped"] for r in reports),
            "tokens_cut": sum(r["cut_tokens"] for r in reports),
        }
        if self.prompt_report_["demonstrations_dropped"] or self.prompt_report_["tokens_cut"]:
            logger.warning(
                "Prompts exceeded the context of %d tokens (overflow=%r): dropped %d demonstrations and cut %d "
                "tokens over %d prompts.", self.context_length_, self.overflow,
                self.prompt_report_["demonstrations_dropped"], self.prompt_report_["tokens_cut"], len(texts),
            )
        # one row per (prompt, class): the prompt followed by the class's label word
        rows = [(p, c) for p in range(len(prompts)) for c in range(self.num_classes_)]
        scores = np.zeros(len(rows))
        # the label word's positions are counted from the left, so rows are padded on the right whatever the
        # tokenizer's side (causal LMs often pad left for generation); the pad id is never attended to
        collate = PaddingCollator(pad_token_id=self.tokenizer_.pad_token_id or 0, padding_side="right")
        device = self.model_.device
        for start in range(0, len(rows), self.batch_size * self.num_classes_):
            chunk = rows[start : start + self.batch_size * self.num_classes_]
            batch = collate([{"input_ids": prompts[p] + self.label_ids_[c]} for p, c in chunk])
            logits = self.model_(input_ids=batch["input_ids"].to(device),
                                 attention_mask=batch["attention_mask"].to(device)).logits
            log_probs = torch.log_softmax(logits.float(), dim=-1)
            for i, (p, c) in enumerate(chunk):
                first = len(prompts[p])  # the token at position t is predicted from position t - 1
                targets = torch.tensor(self.label_ids_[c], device=device)
                positions = torch.arange(first - 1, first - 1 + len(targets), device=device)
                scores[start + i] = float(log_probs[i, positions, targets].sum())
        return scores.reshape(len(prompts), self.num_classes_)
