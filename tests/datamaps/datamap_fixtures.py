"""A tiny, fast classification set-up shared by the data-map tests."""
from __future__ import annotations

from datasets import Dataset
from synthetic import synthetic_sentiment
from transformers import DataCollatorWithPadding, Trainer, TrainingArguments

from greennlp.encoders import load_encoder
from greennlp.encoders.data import PaddingCollator


def tiny_dataset(tokenizer, n: int = 45, seed: int = 1, flip: float = 0.0) -> Dataset:
    data = synthetic_sentiment(n, seed=seed)
    dataset = Dataset.from_dict({**data, "guid": [f"ex-{i:04d}" for i in range(n)]})
    if flip:
        import numpy as np

        rng = np.random.default_rng(seed)
        flipped = rng.permutation(n)[: int(round(flip * n))]
        labels = np.asarray(dataset["label"])
        labels[flipped] = 1 - labels[flipped]
        dataset = dataset.remove_columns("label").add_column("label", labels.tolist())
        dataset = dataset.add_column("flipped", np.isin(np.arange(n), flipped).tolist())
    return dataset.map(lambda batch: tokenizer(batch["text"], truncation=True), batched=True)


def frozen_model(tokenizer, num_labels: int = 2):
    """No dropout: with learning_rate=0 every forward pass of an example gives the same logits."""
    model = load_encoder("tiny", num_labels=num_labels, tokenizer=tokenizer, seed=0)
    model.config.hidden_dropout_prob = model.config.attention_probs_dropout_prob = 0.0
    for module in model.modules():
        if module.__class__.__name__ == "Dropout":
            module.p = 0.0
    return model


def training_args(output_dir, **overrides) -> TrainingArguments:
    settings = dict(
        output_dir=str(output_dir), per_device_train_batch_size=4, num_train_epochs=2, report_to="none",
        save_strategy="no", use_cpu=True, disable_tqdm=True, logging_strategy="no", seed=0,
    )
    settings.update(overrides)
    return TrainingArguments(**settings)


def make_trainer(model, tokenizer, dataset, output_dir, callbacks, processing_class=True, keep_ids=False,
                 **overrides) -> Trainer:
    """A Trainer with transformers' DataCollatorWithPadding. ``keep_ids=True``: the Trainer keeps every column
    (remove_unused_columns=False) and the library's padding collator drops what it does not batch, so that the dataset the Trainer
    batches still holds the ``guid`` column for ``DataMapCallback(id_column="guid")``."""
    collator = DataCollatorWithPadding(tokenizer)
    if keep_ids:
        overrides = {"remove_unused_columns": False, **overrides}
        collator = PaddingCollator(tokenizer, label_column="label")
    return Trainer(
        model=model, args=training_args(output_dir, **overrides), train_dataset=dataset,
        data_collator=collator, callbacks=callbacks,
        processing_class=tokenizer if processing_class else None,
    )




def one_layer_model(tokenizer, hidden: int = 64):
    """A one-layer BERT: learns the synthetic cue-word task in a few epochs on 2 CPU cores."""
    import torch
    from transformers import BertConfig, BertForSequenceClassification

    torch.manual_seed(0)
    config = BertConfig(vocab_size=len(tokenizer), hidden_size=hidden, num_hidden_layers=1, num_attention_heads=2,
                        intermediate_size=2 * hidden, num_labels=2, pad_token_id=tokenizer.pad_token_id)
    return BertForSequenceClassification(config)
