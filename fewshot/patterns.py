"""PET-style pattern-verbalizer classification on a masked LM, zero-shot or fine-tuned on the K-shot set."""
from __future__ import annotations

import time
from collections.abc import Mapping, Sequence

import numpy as np
import torch
from datasets import Dataset
from transformers import PreTrainedTokenizerBase

from greennlp._seeding import seeded_rng
from greennlp.encoders import load_encoder, load_tokenizer
from greennlp.encoders.data import PaddingCollator

from .base import DEFAULT_MASKED_LM, FewShotClassifier, check_number, count_trainable_parameters
from .training import train_steps
from .verbalizers import normalize_verbalizer, single_token_id, space_before, split_template

DEFAULT_TEMPLATES = ("{text} It was {mask}.",)


class PatternClassifier(FewShotClassifier):
    """Classify by what a masked LM puts in a template's mask slot (PET, Schick & Schütze 2021; LM-BFF).

    Each template holds one ``{text}`` and one ``{mask}`` slot; each class has one or more label words, each
    a single token where the template places it. A class's score is the mean mask logit of its words; with
    several templates the class probabilities are averaged (PET's multi-pattern ensemble, trained as one
    model over all templates rather than one model per pattern plus distillation). ``fit(None)`` (or
    ``num_epochs=0``) gives the zero-shot classifier; ``fit(dataset)`` fine-tunes the whole masked LM with
    cross-entropy over the label words.

    Parameters
    ----------
    model_name_or_path : str
        A masked-LM checkpoint (hub id or path), e.g. ``roberta-large`` as in PET/LM-BFF.
    verbalizer : dict
        ``{label: "word"}`` or ``{label: ["word", ...]}``; e.g. ``{0: "terrible", 1: "great"}`` (LM-BFF, SST-2).
    templates : str or sequence of str
        One or more templates such as ``"{text} It was {mask}."``.
    num_epochs, learning_rate, batch_size, weight_decay : int, float, int, float
        Fine-tuning settings (LM-BFF uses learning rate 1e-5 and about 1000 steps with RoBERTa-large).
    bf16 : bool or None
        bfloat16 autocast during training; ``None``: where the hardware runs it natively.
    text_column, label_column, seed, device
        See :class:`FewShotClassifier`.
    max_length : int
        Tokens per input; texts are truncated so that the template and mask fit.

    Examples
    --------
    >>> clf = PatternClassifier("roberta-large", verbalizer={0: "terrible", 1: "great"})  # doctest: +SKIP
    >>> clf.fit(None).predict(["A gripping, beautiful film."])                            # doctest: +SKIP
    [1]

    Runnable offline, with a tiny random masked LM saved as a local checkpoint in place of the pretrained one
    (its vocabulary holds the label words as single tokens):

    >>> import tempfile
    >>> from greennlp.encoders import train_wordpiece_tokenizer
    >>> texts, labels = ["a good film", "a great plot", "a bad film", "a dull plot"] * 2, [1, 1, 0, 0] * 2
    >>> tokenizer = train_wordpiece_tokenizer(texts + ["it was"], vocab_size=100)
    >>> checkpoint = tempfile.TemporaryDirectory()
    >>> load_encoder("tiny", task="mlm", tokenizer=tokenizer, seed=0).save_pretrained(checkpoint.name)
    >>> _ = tokenizer.save_pretrained(checkpoint.name)
    >>> clf = PatternClassifier(checkpoint.name, verbalizer={0: "bad", 1: "good"}, templates="{text} It was {mask}.")
    >>> clf.fit(None).predict_proba(["a great plot"]).shape, clf.num_trainable_parameters_   # zero-shot
    ((1, 2), 0)
    >>> clf.set_params(num_epochs=1).fit(texts, labels)                       # fine-tuned on the K shots
    PatternClassifier(...)
    >>> clf.num_trainable_parameters_ == sum(p.numel() for p in clf.model_.parameters())
    True
    >>> checkpoint.cleanup()
    """

    def __init__(
        self,
        model_name_or_path: str = DEFAULT_MASKED_LM,
        *,
        verbalizer: Mapping[int, str | Sequence[str]] | None = None,
        templates: str | Sequence[str] = DEFAULT_TEMPLATES,
        num_epochs: int = 10,
        learning_rate: float = 1e-5,
        batch_size: int = 8,
        weight_decay: float = 0.01,
        bf16: bool | None = None,
        text_column: str = "text",
        label_column: str = "label",
        seed: int = 0,
        max_length: int = 256,
        device: str | None = None,
    ) -> None:
        super().__init__(model_name_or_path, text_column=text_column, label_column=label_column, seed=seed,
                         batch_size=batch_size, device=device)
        self.verbalizer = verbalizer
        self.templates = templates
        self.num_epochs = num_epochs
        self.learning_rate = learning_rate
        self.weight_decay = weight_decay
        self.bf16 = bf16
        self.max_length = max_length

    def fit(self, X: Dataset | Sequence[str] | None = None, y: Sequence[int] | None = None) -> PatternClassifier:
        """Fine-tune on ``X`` (a Dataset, or texts with labels ``y``), or with ``None`` only load the model and
        check templates and label words (zero-shot)."""
        if X is not None:
            return super().fit(X, y)
        self._check_params()
        self.classes_ = self._classes_for(np.empty(0, dtype=np.int64))
        start = time.perf_counter()
        with seeded_rng(self.seed):
            self._setup()
        self.fit_seconds_, self.num_trainable_parameters_ = time.perf_counter() - start, 0
        return self

    def _check_params(self) -> None:
        super()._check_params()
        name = type(self).__name__
        check_number(name, "num_epochs", self.num_epochs, integer=True, minimum=0)
        check_number(name, "learning_rate", self.learning_rate, above=0)
        check_number(name, "weight_decay", self.weight_decay, minimum=0)

    def _classes_for(self, labels: np.ndarray) -> np.ndarray:
        self.verbalizer_ = normalize_verbalizer(self.verbalizer)
        unknown = sorted(set(labels.tolist()) - set(self.verbalizer_))
        if unknown:
            raise ValueError(
                f"Labels {unknown} in the training data have no label words; the verbalizer covers "
                f"{list(self.verbalizer_)}."
            )
        return np.asarray(list(self.verbalizer_))

    def _setup(self) -> None:
        templates = [self.templates] if isinstance(self.templates, str) else list(self.templates)
        if not templates:
            raise ValueError("templates is empty: give at least one, e.g. '{text} It was {mask}.'.")
        self.tokenizer_ = load_tokenizer(self.model_name_or_path)
        if self.tokenizer_.mask_token_id is None:
            raise ValueError(
                f"{self.model_name_or_path!r} has no mask token: PatternClassifier needs a masked LM "
                "(BERT, RoBERTa, ...); use InContextClassifier for causal LMs."
            )
        self.templates_ = [split_template(t, required=("{text}", "{mask}"), allowed=("{text}", "{mask}")) for t in templates]
        # label_ids_[t][c]: token ids of class c's words as template t places them
        self.label_ids_ = [
            [
                [single_token_id(self.tokenizer_, word, label, space_before(pieces, "{mask}")) for word in words]
                for label, words in self.verbalizer_.items()
            ]
            for pieces in self.templates_
        ]
        self._special_tokens = special_tokens_around(self.tokenizer_)
        self.model_ = load_encoder(self.model_name_or_path, task="mlm").to(self._device())
        self.model_.eval()

    def _fit(self, texts: list[str], labels: np.ndarray) -> None:
        self._setup()
        self.model_.train()
        batches = [(texts[i : i + self.batch_size], labels[i : i + self.batch_size]) for i in range(0, len(texts), self.batch_size)]
        loss = torch.nn.CrossEntropyLoss()

        def pattern_loss(batch: tuple[list[str], np.ndarray]) -> torch.Tensor:
            targets = torch.from_numpy(batch[1]).to(self.model_.device)
            return sum(loss(self._class_logits(batch[0], t), targets) for t in range(len(self.templates_))) / len(
                self.templates_
            )

        train_steps(
            self.model_.parameters(), batches, pattern_loss, epochs=self.num_epochs, learning_rate=self.learning_rate,
            seed=self.seed, weight_decay=self.weight_decay, bf16=self.bf16,
        )
        self.model_.eval()
        self.num_trainable_parameters_ = count_trainable_parameters(self.model_) if self.num_epochs > 0 else 0

    def _predict_proba(self, texts: list[str]) -> np.ndarray:
        output = np.zeros((len(texts), self.num_classes_))
        for start in range(0, len(texts), 64):
            batch = texts[start : start + 64]
            for t in range(len(self.templates_)):
                output[start : start + len(batch)] += torch.softmax(self._class_logits(batch, t).float(), -1).cpu().numpy()
        return output / len(self.templates_)

    def encode(self, text: str, template: int = 0) -> list[int]:
        """Input ids of ``text`` in template number ``template``: the text is truncated, never the template or mask."""
        tokenizer = self.tokenizer_
        pieces = self.templates_[template]
        literal = {}
        for i, piece in enumerate(pieces):
            if piece not in ("{text}", "{mask}"):
                # the space before a mask slot belongs to the label word (Ġgreat), not to the literal piece
                before_mask = i + 1 < len(pieces) and pieces[i + 1] == "{mask}"
                literal[i] = tokenizer(piece.rstrip() if before_mask else piece, add_special_tokens=False)["input_ids"]
        prefix, suffix = self._special_tokens
        budget = self.max_length - len(prefix) - len(suffix) - 1 - sum(len(ids) for ids in literal.values())
        text_ids = tokenizer(text, add_special_tokens=False)["input_ids"][: max(budget, 0)]
        ids: list[int] = []
        for i, piece in enumerate(pieces):
            ids += text_ids if piece == "{text}" else [tokenizer.mask_token_id] if piece == "{mask}" else literal[i]
        return prefix + ids + suffix

    def _class_logits(self, texts: list[str], template: int) -> torch.Tensor:
        encoded = [self.encode(text, template) for text in texts]
        batch = PaddingCollator(self.tokenizer_)([{"input_ids": ids} for ids in encoded])
        batch = {key: value.to(self.model_.device) for key, value in batch.items()}
        rows, positions = (batch["input_ids"] == self.tokenizer_.mask_token_id).nonzero(as_tuple=True)
        head = getattr(self.model_, "cls", getattr(self.model_, "lm_head", None))
        if head is not None:  # BERT / RoBERTa: run the vocabulary head at the mask positions only
            hidden = self.model_.base_model(**batch).last_hidden_state
            vocabulary_logits = head(hidden[rows, positions])
        else:
            vocabulary_logits = self.model_(**batch).logits[rows, positions]
        return torch.stack(
            [vocabulary_logits[:, ids].mean(-1) for ids in self.label_ids_[template]], dim=-1
        )


def special_tokens_around(tokenizer: PreTrainedTokenizerBase) -> tuple[list[int], list[int]]:
    """The special tokens a tokenizer puts before and after one sequence (``[CLS]`` / ``[SEP]``, ``<s>`` / ``</s>``)."""
    plain = tokenizer("a", add_special_tokens=False)["input_ids"]
    full = tokenizer("a", add_special_tokens=True)["input_ids"]
    for start in range(len(full) - len(plain) + 1):
        if full[start : start + len(plain)] == plain:
            return full[:start], full[start + len(plain) :]
    return [], []
