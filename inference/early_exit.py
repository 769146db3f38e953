"""Early exit for BERT encoders (Schwartz et al. 2020, "The Right Tool for the Job"): a classifier after several
layers, one temperature per exit, and batched inference where each example leaves at the first exit whose
calibrated confidence passes a threshold."""
from __future__ import annotations

import os
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
import pandas as pd
import torch
from datasets import Dataset
from torch import nn
from transformers import (
    BertConfig,
    BertModel,
    BertPreTrainedModel,
    PreTrainedModel,
    PreTrainedTokenizerBase,
    Trainer,
)
from transformers.masking_utils import create_bidirectional_mask
from transformers.modeling_outputs import SequenceClassifierOutput

from greennlp._seeding import seeded_rng
from greennlp.encoders import load_encoder
from greennlp.encoders.data import PaddingCollator, length_sorted_batches

from ._checks import UNLABELLED, check_threshold, class_ids, whole_numbers
from .flops import early_exit_flops


@dataclass
class EarlyExitOutput(SequenceClassifierOutput):
    """``loss`` is the mean cross-entropy of all exits, ``logits`` those of the last exit; ``exit_logits`` holds
    every exit's logits, first exit first."""

    exit_logits: tuple[torch.Tensor, ...] | None = None


POOLINGS = ("cls", "mean")


class ExitHead(nn.Module):
    """A classifier on the [CLS] vector (``config.exit_pooling="cls"``) or on the mean of the non-padding token
    vectors (``"mean"``): BERT's pooler (dense + tanh), dropout, a linear layer."""

    def __init__(self, config: BertConfig):
        super().__init__()
        self.mean = config.exit_pooling == "mean"
        self.dense = nn.Linear(config.hidden_size, config.hidden_size)
        dropout = config.classifier_dropout if config.classifier_dropout is not None else config.hidden_dropout_prob
        self.dropout = nn.Dropout(dropout)
        self.classifier = nn.Linear(config.hidden_size, config.num_labels)

    def forward(self, hidden_states: torch.Tensor, attention_mask: torch.Tensor | None = None) -> torch.Tensor:
        if not self.mean:
            vector = hidden_states[:, 0]
        elif attention_mask is None:
            vector = hidden_states.mean(dim=1)
        else:  # elementwise, so that it adds no matmul: FLOP counts stay those of the layers and the exits
            weights = attention_mask.to(hidden_states.dtype).unsqueeze(-1)
            vector = (hidden_states * weights).sum(dim=1) / weights.sum(dim=1).clamp(min=1)
        return self.classifier(self.dropout(torch.tanh(self.dense(vector))))


class EarlyExitClassifier(BertPreTrainedModel):
    """A BERT encoder with a classifier after each layer of ``config.exit_layers`` (1-based layer numbers; every
    layer by default), trained on the mean cross-entropy of all exits.

    It is a ``transformers`` model: it trains with a plain ``Trainer``, saves with ``save_pretrained`` and its
    output's ``logits`` are the last exit's, so ``DataMapCallback`` maps the full model. After training,
    :meth:`calibrate` fits one temperature per exit on held-out data and :meth:`predict` runs batched early-exit
    inference. Works with every BERT-architecture encoder: the miniature sizes, all-MiniLM-L6-v2, bert-base.

    Parameters
    ----------
    config:
        A ``BertConfig``; ``config.exit_layers`` (a sorted list of 1-based layer numbers, the last layer
        included) says where the classifiers sit, ``None`` meaning after every layer; ``config.exit_pooling``
        what each exit reads: ``"mean"`` (the mean of the token vectors; :meth:`from_pretrained`'s default) or
        ``"cls"`` (the [CLS] vector; a config without the field, such as a model saved before it existed).

    Attributes
    ----------
    temperatures:
        One temperature per exit (a buffer, saved with the model): 1 until :meth:`calibrate` fits them.

    Examples
    --------
    >>> from transformers import Trainer
    >>> from greennlp.inference import EarlyExitClassifier
    >>> model = EarlyExitClassifier.from_pretrained("sentence-transformers/all-MiniLM-L6-v2", num_labels=2)  # doctest: +SKIP
    >>> Trainer(model=model, args=args, train_dataset=tokenized_train).train()  # doctest: +SKIP
    >>> model.calibrate(tokenized_dev)  # doctest: +SKIP
    >>> model.predict(tokenized_test, threshold=0.9)  # doctest: +SKIP

    The same with BERT-tiny (2 layers) built from a config, trained for one epoch on 16 examples:

    >>> import tempfile
    >>> from datasets import Dataset
    >>> from greennlp.encoders import efficient_training_args, tokenize_dataset, train_wordpiece_tokenizer
    >>> data = Dataset.from_dict({"text": [f"a {word} film" for word in ("good", "great", "bad", "dull")] * 4,
    ...                           "label": [1, 1, 0, 0] * 4})
    >>> tokenizer = train_wordpiece_tokenizer(data["text"], vocab_size=100)
    >>> train, dev = tokenize_dataset(data, tokenizer), tokenize_dataset(data.select(range(8)), tokenizer)
    >>> model = EarlyExitClassifier.from_pretrained("tiny", num_labels=2, tokenizer=tokenizer, seed=0)
    >>> model.config.exit_layers, model.config.exit_pooling                 # a classifier after each layer
    ([1, 2], 'mean')
    >>> run = tempfile.TemporaryDirectory()
    >>> args = efficient_training_args(run.name, num_train_epochs=1, per_device_train_batch_size=8,
    ...                                logging_strategy="no", disable_tqdm=True)
    >>> _ = Trainer(model=model, args=args, train_dataset=train, data_collator=PaddingCollator(tokenizer)).train()
    {'train_runtime': ...}
    >>> tuple(model.calibrate(dev).temperatures.shape)                     # one temperature per exit
    (2,)
    >>> model.predict(dev, threshold=1.0)["exit_layer"].tolist()            # threshold 1: the full model
    [2, 2, 2, 2, 2, 2, 2, 2]
    >>> model.predict(dev, threshold=0.0)["exit_layer"].tolist()            # threshold 0: the first exit
    [1, 1, 1, 1, 1, 1, 1, 1]
    >>> model.predict(dev).columns.tolist()
    ['label', 'exit_layer', 'confidence']
    >>> run.cleanup()
    """

    def __init__(self, config: BertConfig):
        super().__init__(config)
        config.exit_layers = _check_exit_layers(getattr(config, "exit_layers", None), config.num_hidden_layers)
        config.exit_pooling = _check_pooling(getattr(config, "exit_pooling", None) or "cls")
        self.num_labels = config.num_labels
        self.bert = BertModel(config, add_pooling_layer=False)
        self.exits = nn.ModuleList(ExitHead(config) for _ in config.exit_layers)
        self.register_buffer("temperatures", torch.ones(len(config.exit_layers)))
        self.post_init()

    # --- construction ------------------------------------------------------------------------------------------
    @classmethod
    def from_pretrained(
        cls,
        name_or_path: str | os.PathLike,
        *args,
        num_labels: int | None = None,
        exit_layers: Sequence[int] | None = None,
        pooling: str | None = None,
        tokenizer: PreTrainedTokenizerBase | None = None,
        seed: int | None = None,
        **kwargs,
    ) -> EarlyExitClassifier:
        """Load a saved ``EarlyExitClassifier``, or wrap an encoder loaded with :func:`greennlp.encoders.load_encoder`.

        Parameters
        ----------
        name_or_path:
            A folder written by ``save_pretrained`` of this class, a hub id or path of a BERT checkpoint, or a
            miniature size (``"tiny"``, ``"mini"``, ...; needs ``tokenizer``).
        num_labels:
            Number of classes. ``None`` takes it from a saved sequence classifier's config (a fine-tuned
            checkpoint, or a saved early-exit model), and is 2 for anything else (a bare encoder, a miniature
            size). A saved classifier's number cannot be changed here: another one is refused.
        exit_layers:
            1-based layer numbers with a classifier after them; ``None`` puts one after every layer. A saved
            early-exit model keeps the exits it was trained with: ``None`` or those same layers.
        pooling:
            What each exit classifies: ``"mean"``, the mean of the non-padding token vectors, or ``"cls"``, the
            [CLS] vector (BERT's own classifier and DeeBERT's exits). With all-MiniLM-L6-v2, whose [CLS] vector
            was never trained, the [CLS] exits before the last two layers stayed at chance while the mean-pooled
            ones learned (docs/inference.md). ``None`` means ``"mean"`` for a new model and the saved pooling
            for a saved early-exit model (which cannot be changed: another one is refused).
        tokenizer:
            For a miniature size: the vocabulary size comes from it.
        seed:
            Seed for the random initialisation (see ``load_encoder``).
        """
        path = str(name_or_path)
        saved = _saved_config(path)
        if "EarlyExitClassifier" in (saved.get("architectures") or []):
            _check_saved_settings(path, saved, num_labels=num_labels, exit_layers=exit_layers, pooling=pooling)
            return super().from_pretrained(path, *args, **kwargs)
        saved_labels = _saved_num_labels(path, saved)
        if saved_labels is not None and num_labels is not None and num_labels != saved_labels:
            raise ValueError(
                f"{path} is a classifier with {saved_labels} labels; num_labels={num_labels} would need a new, "
                f"untrained head. Leave num_labels out (or pass {saved_labels}), or start from the encoder without "
                f"its classifier."
            )
        if num_labels is None:
            num_labels = 2 if saved_labels is None else saved_labels
        encoder = load_encoder(path, num_labels=num_labels, tokenizer=tokenizer, seed=seed, **kwargs)
        return cls.from_encoder(encoder, exit_layers=exit_layers, pooling="mean" if pooling is None else pooling,
                                seed=seed)

    @classmethod
    def from_encoder(
        cls, model: PreTrainedModel, *, exit_layers: Sequence[int] | None = None, pooling: str = "mean",
        seed: int | None = None,
    ) -> EarlyExitClassifier:
        """Wrap a BERT model (``BertModel`` or ``BertForSequenceClassification``): its embeddings and layers are
        copied, and every exit starts from its pooler and, where it has one, its classifier (with
        ``pooling="cls"`` the last exit then equals the wrapped classifier). ``pooling`` as in
        :meth:`from_pretrained`.

        Raises ``ValueError`` for an encoder that is not BERT-architecture (no ``embeddings`` and
        ``encoder.layer``)."""
        base = getattr(model, "base_model", None)
        if not isinstance(getattr(model, "config", None), BertConfig) or not hasattr(base, "embeddings") or not hasattr(base, "encoder"):
            raise ValueError(
                f"EarlyExitClassifier wraps BERT-architecture encoders (BertConfig, embeddings + encoder.layer); got "
                f"{type(model).__name__} with {type(getattr(model, 'config', None)).__name__}."
            )
        config = BertConfig.from_dict(model.config.to_dict())
        config._attn_implementation = model.config._attn_implementation
        config.exit_layers = list(exit_layers) if exit_layers is not None else None
        config.exit_pooling = _check_pooling(pooling)
        config.architectures = [cls.__name__]
        with seeded_rng(seed):
            wrapped = cls(config)
        wrapped.bert.load_state_dict(base.state_dict(), strict=False)
        pooler = getattr(base, "pooler", None)
        classifier = getattr(model, "classifier", None)
        for head in wrapped.exits:
            if pooler is not None:
                head.dense.load_state_dict(pooler.dense.state_dict())
            if isinstance(classifier, nn.Linear) and classifier.out_features == config.num_labels:
                head.classifier.load_state_dict(classifier.state_dict())
        return wrapped.to(next(model.parameters()).device, dtype=next(model.parameters()).dtype)

    def parameter_groups(self, *, learning_rate: float, exit_learning_rate: float,
                         weight_decay: float = 0.0) -> list[dict]:
        """Parameter groups for a ``torch.optim`` optimizer: the encoder at ``learning_rate``, the exit classifiers
        at ``exit_learning_rate``; weight decay on neither biases nor LayerNorm weights (``Trainer``'s rule).

        New exit classifiers on a pretrained encoder learn slowly at a fine-tuning learning rate, and the early ones
        stay at chance for longer (measured on SST-2 with all-MiniLM-L6-v2 in docs/inference.md); a larger rate
        for the exits alone fixes that without disturbing the encoder. ``Trainer`` builds one learning rate for
        all parameters, so pass the optimizer in (its warm-up and decay schedule still applies to each group).

        Examples
        --------
        >>> optimizer = torch.optim.AdamW(model.parameter_groups(learning_rate=5e-5, exit_learning_rate=1e-3))  # doctest: +SKIP
        >>> Trainer(model=model, args=args, train_dataset=train, optimizers=(optimizer, None)).train()  # doctest: +SKIP

        The groups of BERT-tiny built from a config: the encoder's and the exits', each with and without decay.

        >>> from greennlp.encoders import train_wordpiece_tokenizer
        >>> tokenizer = train_wordpiece_tokenizer(["a good film", "a bad film"], vocab_size=100)
        >>> model = EarlyExitClassifier.from_pretrained("tiny", tokenizer=tokenizer, seed=0)
        >>> groups = model.parameter_groups(learning_rate=5e-5, exit_learning_rate=1e-3, weight_decay=0.01)
        >>> [(group["lr"], group["weight_decay"]) for group in groups]
        [(5e-05, 0.01), (5e-05, 0.0), (0.001, 0.01), (0.001, 0.0)]
        >>> optimizer = torch.optim.AdamW(groups)
        """
        for name, value in (("learning_rate", learning_rate), ("exit_learning_rate", exit_learning_rate)):
            if not isinstance(value, (int, float)) or not value > 0:
                raise ValueError(f"{name} must be a positive number; got {value!r}.")
        if not isinstance(weight_decay, (int, float)) or weight_decay < 0:
            raise ValueError(f"weight_decay must be >= 0; got {weight_decay!r}.")
        decayed = set(Trainer.get_decay_parameter_names(None, self))  # Trainer's rule; it does not use the trainer
        groups = []
        for rate, prefix in ((learning_rate, "bert."), (exit_learning_rate, "exits.")):
            named = [(n, p) for n, p in self.named_parameters() if n.startswith(prefix) and p.requires_grad]
            for decay in (True, False):
                params = [p for n, p in named if (n in decayed) == decay]
                if params:
                    groups.append({"params": params, "lr": rate, "weight_decay": weight_decay if decay else 0.0})
        return groups

    # --- the layer-by-layer forward pass shared by training and early-exit inference ------------------------------
    def _layer(self, index: int, hidden_states: torch.Tensor, attention_mask: torch.Tensor | None) -> torch.Tensor:
        mask = create_bidirectional_mask(config=self.config, inputs_embeds=hidden_states, attention_mask=attention_mask)
        return self.bert.encoder.layer[index](hidden_states, mask)

    def forward(
        self,
        input_ids: torch.Tensor | None = None,
        attention_mask: torch.Tensor | None = None,
        token_type_ids: torch.Tensor | None = None,
        position_ids: torch.Tensor | None = None,
        labels: torch.Tensor | None = None,
        **kwargs,
    ) -> EarlyExitOutput:
        """Run every layer and every exit; ``loss`` (with ``labels``) is the mean cross-entropy of the exits."""
        hidden_states = self.bert.embeddings(input_ids=input_ids, token_type_ids=token_type_ids,
                                             position_ids=position_ids)
        exit_at = {layer: position for position, layer in enumerate(self.config.exit_layers)}
        exit_logits = []
        for index in range(self.config.exit_layers[-1]):
            hidden_states = self._layer(index, hidden_states, attention_mask)
            if index + 1 in exit_at:
                exit_logits.append(self.exits[exit_at[index + 1]](hidden_states, attention_mask))
        loss = None
        if labels is not None:
            losses = [nn.functional.cross_entropy(logits.float(), labels.view(-1)) for logits in exit_logits]
            loss = torch.stack(losses).mean()
        return EarlyExitOutput(loss=loss, logits=exit_logits[-1], exit_logits=tuple(exit_logits))

    # --- calibration and inference --------------------------------------------------------------------------------
    @torch.no_grad()
    def exit_logits(self, dataset: Dataset, *, batch_size: int = 64) -> np.ndarray:
        """Uncalibrated logits of every exit, ``(num_exits, len(dataset), num_labels)``, for a tokenized dataset."""
        was_training = self.training
        self.eval()
        out = np.empty((len(self.exits), len(dataset), self.num_labels), dtype=np.float32)
        for index, batch in self._batches(dataset, batch_size):
            output = self(**batch)
            out[:, index] = torch.stack(output.exit_logits).float().cpu().numpy()
        self.train(was_training)
        return out

    def calibrate(self, dataset: Dataset, *, label_column: str = "labels", batch_size: int = 64) -> EarlyExitClassifier:
        """Fit one temperature per exit on held-out tokenized data (minimum negative log-likelihood, LBFGS on the
        log of the temperature so it stays positive); returns ``self`` with ``temperatures`` set.

        ``dataset`` is tokenized like the training data (``input_ids``, ``attention_mask`` and ``labels``, e.g.
        from ``encoders.tokenize_dataset``), and must not be the training data: calibrating on it would learn
        the overconfidence it is meant to correct. Rows labelled -100 (unlabelled) are left out of the fit.

        Raises ``ValueError`` before fitting anything when ``label_column`` is missing (no other column is used
        instead), the dataset is empty or unlabelled, or a label is not a class id of this model."""
        labels = class_ids(dataset, label_column, self.num_labels, caller="calibrate()", unlabelled="ignore")
        logits = torch.from_numpy(self.exit_logits(dataset, batch_size=batch_size)).double()
        targets = torch.from_numpy(labels).long()
        fitted = [fit_temperature(exit_logits, targets) for exit_logits in logits]
        self.temperatures.copy_(torch.tensor(fitted, dtype=self.temperatures.dtype))
        return self

    @torch.no_grad()
    def predict(self, dataset: Dataset, *, threshold: float = 0.9, batch_size: int = 64) -> pd.DataFrame:
        """Early-exit predictions for a tokenized dataset, one row per example in the dataset's order.

        Each example leaves at the first exit whose calibrated confidence (the largest softmax probability of the
        logits divided by that exit's temperature) is strictly greater than ``threshold``, or at the last exit.
        Batches are length-sorted; after each exit the finished rows are dropped from the batch (and the padding
        the rest no longer needs), so the next layer runs only for the examples still running.
        ``threshold=0`` exits every example at the first exit; ``threshold >= 1`` runs the full model. Any real
        number ``>= 0`` is a threshold (numpy scalars too); a bool, a negative number or NaN is refused.

        Returns
        -------
        pandas.DataFrame
            ``label`` (predicted class id), ``exit_layer`` (1-based number of encoder layers run) and
            ``confidence`` (calibrated probability of ``label`` at that exit). An empty dataset (with or without
            columns) gives an empty frame with these columns; :func:`exit_curve` refuses one, since an accuracy
            of no examples is undefined.
        """
        threshold = check_threshold(threshold)
        was_training = self.training
        self.eval()
        labels = np.empty(len(dataset), dtype=np.int64)
        exit_layer = np.empty(len(dataset), dtype=np.int64)
        confidence = np.empty(len(dataset), dtype=np.float64)
        exit_at = {layer: position for position, layer in enumerate(self.config.exit_layers)}
        last = self.config.exit_layers[-1]
        for index, batch in self._batches(dataset, batch_size):
            mask = batch["attention_mask"]
            hidden_states = self.bert.embeddings(input_ids=batch["input_ids"],
                                                 token_type_ids=batch.get("token_type_ids"))
            rows = np.arange(len(index))  # positions in `index` of the rows still running
            for layer in range(1, last + 1):
                hidden_states = self._layer(layer - 1, hidden_states, mask)
                if layer not in exit_at:
                    continue
                position = exit_at[layer]
                logits = self.exits[position](hidden_states, mask).float() / self.temperatures[position]
                best, label = torch.softmax(logits, dim=-1).max(dim=-1)
                done = best > threshold if layer < last else torch.ones_like(best, dtype=torch.bool)
                finished_here = done.cpu().numpy()  # `done` lives on the model's device, `rows` on the host
                finished = index[rows[finished_here]]
                labels[finished] = label[done].cpu().numpy()
                exit_layer[finished] = layer
                confidence[finished] = best[done].double().cpu().numpy()
                if finished_here.all():
                    break
                keep = ~done
                rows, hidden_states, mask = rows[~finished_here], hidden_states[keep], mask[keep]
                longest = int(mask.sum(dim=1).max())  # drop the padding only the finished rows needed
                hidden_states, mask = hidden_states[:, :longest], mask[:, :longest]
        self.train(was_training)
        return pd.DataFrame({"label": labels, "exit_layer": exit_layer, "confidence": confidence})

    def flops_per_example(self, num_tokens: int, exit_layer: int) -> int:
        """FLOPs (a multiply-add is 2) of one example of ``num_tokens`` tokens that leaves after ``exit_layer``
        layers, counting the exits evaluated on the way (``inference.flops.early_exit_flops``)."""
        return early_exit_flops(self.config, num_tokens, exit_layer)

    def _batches(self, dataset: Dataset, batch_size: int):
        return _tokenized_batches(dataset, batch_size, pad_token_id=self.config.pad_token_id or 0,
                                  device=next(self.parameters()).device)


def _tokenized_batches(dataset: Dataset, batch_size: int, *, pad_token_id: int, device: torch.device,
                       columns: Sequence[str] = ("input_ids", "token_type_ids")):
    """``(index, batch)`` pairs over a tokenized dataset in length-sorted batches, padded, on ``device``; the
    ``columns`` the dataset has go into the batch (``attention_mask`` is rebuilt by the collator). No batches for
    an empty dataset, whatever its columns (``Dataset.from_list([])`` has none)."""
    if len(dataset) == 0:
        return
    if "input_ids" not in dataset.column_names:
        raise ValueError(
            f"Expected a tokenized dataset with `input_ids` (e.g. encoders.tokenize_dataset); it has "
            f"{dataset.column_names}."
        )
    batches = length_sorted_batches(dataset["input_ids"], batch_size)  # checks batch_size
    collate = PaddingCollator(pad_token_id=pad_token_id)  # no tokenizer here: right padding, as the model expects
    columns = [c for c in columns if c in dataset.column_names]
    for index in batches:
        rows = dataset.select_columns(columns)[index]
        features = [{c: rows[c][i] for c in columns} for i in range(len(index))]
        batch = collate(features)
        yield index, {k: v.to(device) for k, v in batch.items()}


def fit_temperature(logits: torch.Tensor, labels: torch.Tensor, *, max_iter: int = 100) -> float:
    """The temperature ``T > 0`` minimising the negative log-likelihood of ``softmax(logits / T)`` (Guo et al.
    2017), found by LBFGS on ``log T``. Rows labelled -100 are left out; ``ValueError`` when no row is left.

    >>> import torch
    >>> logits = torch.tensor([[4.0, 0.0], [0.0, 4.0], [4.0, 0.0], [0.0, 4.0]])
    >>> round(fit_temperature(logits, torch.tensor([0, 1, 1, 0])), 1) > 1   # wrong half the time: soften
    True
    """
    logits, labels = logits.detach().double(), labels.detach().long()
    if not bool((labels != UNLABELLED).any()):
        raise ValueError(f"fit_temperature() needs labelled rows; got {labels.numel()} labels, none of them a class "
                         f"id (all {UNLABELLED}, or none at all).")
    log_temperature = torch.zeros(1, dtype=torch.float64, requires_grad=True)
    optimizer = torch.optim.LBFGS([log_temperature], lr=0.1, max_iter=max_iter, line_search_fn="strong_wolfe")

    def closure():
        optimizer.zero_grad()
        loss = nn.functional.cross_entropy(logits / log_temperature.exp(), labels)
        loss.backward()
        return loss

    optimizer.step(closure)
    temperature = float(log_temperature.detach().exp())
    if not np.isfinite(temperature) or temperature <= 0:
        return 1.0
    return temperature


def _check_pooling(pooling: str) -> str:
    if pooling not in POOLINGS:
        raise ValueError(f"pooling is one of {POOLINGS}; got {pooling!r}.")
    return pooling


def _check_exit_layers(exit_layers: Sequence[int] | None, num_layers: int) -> list[int]:
    if exit_layers is None:
        return list(range(1, num_layers + 1))
    layers = whole_numbers(exit_layers)
    if not layers or layers != sorted(set(layers)) or layers[0] < 1 or layers[-1] > num_layers:
        raise ValueError(
            f"exit_layers must be increasing 1-based layer numbers (whole numbers) between 1 and {num_layers}; got "
            f"{exit_layers!r}."
        )
    return layers


def _saved_config(path: str) -> dict:
    """The ``config.json`` of a local model folder (``{}`` for a hub id or a miniature size)."""
    import json

    config_file = os.path.join(path, "config.json")
    if not os.path.isfile(config_file):
        return {}
    with open(config_file) as handle:
        return json.load(handle)


def _saved_num_labels(path: str, config: dict) -> int | None:
    """The number of labels of a saved sequence classifier (its config says so; a bare encoder's does not)."""
    if not config and not os.path.isdir(path) and "/" in path:  # a hub id: its config, as load_encoder would read it
        try:
            from transformers import AutoConfig

            from greennlp.encoders.models import resolve_model_path

            config = AutoConfig.from_pretrained(resolve_model_path(path)).to_dict()
        except (OSError, ValueError):
            return None  # load_encoder reports what is wrong with the name
    if not any(name.endswith("ForSequenceClassification") for name in config.get("architectures") or []):
        return None
    id2label = config.get("id2label")
    return len(id2label) if id2label else config.get("num_labels")


def _check_saved_settings(path: str, config: dict, *, num_labels, exit_layers, pooling) -> None:
    """Refuse settings that a saved early-exit model cannot take: its heads were trained for its labels and layers."""
    saved_labels = len(config["id2label"]) if config.get("id2label") else config.get("num_labels", 2)
    saved_layers = config.get("exit_layers") or list(range(1, config["num_hidden_layers"] + 1))
    saved_pooling = config.get("exit_pooling") or "cls"
    if num_labels is not None and num_labels != saved_labels:
        raise ValueError(f"num_labels={num_labels} cannot be applied to {path}: it is an EarlyExitClassifier trained "
                         f"with {saved_labels} labels. Leave num_labels out.")
    if exit_layers is not None and whole_numbers(exit_layers) != saved_layers:
        raise ValueError(
            f"exit_layers={exit_layers!r} cannot be applied to {path}: it is an EarlyExitClassifier trained with "
            f"exits after layers {saved_layers}. Leave exit_layers out (predict's threshold decides where each "
            "example leaves), or wrap its encoder anew with EarlyExitClassifier.from_encoder(..., exit_layers=...) "
            "and train."
        )
    if pooling is not None and pooling != saved_pooling:
        raise ValueError(f"pooling={pooling!r} cannot be applied to {path}: it is an EarlyExitClassifier whose exits "
                         f"were trained on pooling={saved_pooling!r}. Leave pooling out.")
