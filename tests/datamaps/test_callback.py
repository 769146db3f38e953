"""DataMapCallback inside a real Trainer: every example exactly once per epoch, whatever the sampler does."""
import numpy as np
import pytest
import torch
from datamap_fixtures import frozen_model, make_trainer, tiny_dataset, training_args
from devices import to_device
from transformers import DataCollatorWithPadding, Trainer

from greennlp.datamaps import DataMap, DataMapCallback, DataMapError
from greennlp.datamaps.storage import epoch_path, read_table


def clean_p_gold(model, tokenizer, dataset) -> np.ndarray:
    """p(gold) of every example from a plain eval-mode forward pass, in dataset order."""
    model.eval()
    with torch.no_grad():
        batch = DataCollatorWithPadding(tokenizer)([{"input_ids": ids} for ids in dataset["input_ids"]])
        probabilities = torch.softmax(model(**to_device(batch, model.device)).logits.float(), -1).cpu().numpy()
    return probabilities[np.arange(len(dataset)), dataset["label"]]


@pytest.mark.parametrize("processing_class", [True, False])
def test_exactly_once_under_shuffle_accumulation_partial_batch_and_length_grouping(
    tiny_tokenizer, dataset, tmp_path, processing_class, device
):
    # 45 examples, batch 4, accumulation 3: a partial last batch and a partial last accumulation window.
    model = frozen_model(tiny_tokenizer)
    callback = DataMapCallback(tmp_path / "map", id_column="guid")
    trainer = make_trainer(
        model, tiny_tokenizer, dataset, tmp_path / "run", [callback], processing_class=processing_class,
        learning_rate=0.0, gradient_accumulation_steps=3, train_sampling_strategy="group_by_length",
        keep_ids=True, num_train_epochs=3, use_cpu=device == "cpu",
    )
    trainer.train()
    data_map = DataMap.load(tmp_path / "map")
    assert data_map.metadata["mode"] == "train" and data_map.metadata["epochs"] == [0, 1, 2]
    assert (data_map.table["observations"] == 3).all()
    assert list(data_map.table.index) == dataset["guid"]
    assert data_map.table["gold"].tolist() == dataset["label"]
    # A frozen model gives each example one p(gold): a row mapped to the wrong example would not match.
    expected = clean_p_gold(model, tiny_tokenizer, dataset)
    for epoch in range(3):
        columns = read_table(epoch_path(tmp_path / "map", epoch))
        assert sorted(columns["row"]) == list(range(len(dataset)))
        np.testing.assert_allclose(columns["p_gold"], expected[columns["row"]], atol=2e-5)
    np.testing.assert_allclose(data_map.table["variability"], 0.0, atol=1e-5)


def test_identical_inputs_are_each_recorded_once(tiny_tokenizer, tmp_path):
    dataset = tiny_dataset(tiny_tokenizer, n=20)
    duplicated = dataset.select(list(range(20)) + [3, 3, 7])  # three more copies of two examples
    callback = DataMapCallback(tmp_path / "map")
    make_trainer(frozen_model(tiny_tokenizer), tiny_tokenizer, duplicated, tmp_path / "run", [callback],
                 learning_rate=0.0).train()
    table = DataMap.load(tmp_path / "map").table
    assert len(table) == 23 and (table["observations"] == 2).all()


def test_eval_mode_with_snapshots_records_clean_passes(tiny_tokenizer, dataset, tmp_path, device):
    model = frozen_model(tiny_tokenizer)
    callback = DataMapCallback(tmp_path / "map", mode="eval", snapshots_per_epoch=2, store_probabilities=True)
    make_trainer(model, tiny_tokenizer, dataset, tmp_path / "run", [callback], learning_rate=0.0,
                 use_cpu=device == "cpu").train()
    data_map = DataMap.load(tmp_path / "map")
    assert data_map.metadata["mode"] == "eval"
    assert (data_map.table["observations"] == 4).all()  # 2 epochs x 2 snapshots
    assert "el2n" in data_map.table.columns
    np.testing.assert_allclose(data_map.table["confidence"], clean_p_gold(model, tiny_tokenizer, dataset), atol=2e-5)


def test_learning_model_moves_the_map(tiny_tokenizer, dataset, tmp_path, device):
    callback = DataMapCallback(tmp_path / "map")
    model = frozen_model(tiny_tokenizer)
    make_trainer(model, tiny_tokenizer, dataset, tmp_path / "run", [callback], learning_rate=5e-3,
                 num_train_epochs=3, use_cpu=device == "cpu").train()
    assert model.device.type == torch.device(device).type
    table = DataMap.load(tmp_path / "map").table
    assert table["variability"].mean() > 0.01
    assert set(table["region"]) <= {"ambiguous", "easy-to-learn", "hard-to-learn"}


class StopAt:
    """A callback that interrupts training right after the checkpoint of ``step``."""

    def __new__(cls, step):
        from transformers import TrainerCallback

        class _Stop(TrainerCallback):
            def on_save(self, args, state, control, **kwargs):
                if state.global_step == step:
                    control.should_training_stop = True

        return _Stop()


def test_resume_from_checkpoint_gives_the_uninterrupted_map(tiny_tokenizer, dataset, tmp_path, device):
    # Random order (the default sampler is seeded per epoch, so a resumed run replays the same order).
    # transformers' length-grouped sampler draws from the global RNG and does not replay on mid-epoch resume.
    settings = dict(learning_rate=5e-3, num_train_epochs=3, save_strategy="steps", save_steps=5,
                    use_cpu=device == "cpu")
    make_trainer(frozen_model(tiny_tokenizer), tiny_tokenizer, dataset, tmp_path / "a",
                 [DataMapCallback(tmp_path / "map_a")], **settings).train()
    # 12 steps per epoch: stop after step 17 would be mid-epoch 1; checkpoints every 5 steps -> stop at 15.
    make_trainer(frozen_model(tiny_tokenizer), tiny_tokenizer, dataset, tmp_path / "b",
                 [DataMapCallback(tmp_path / "map_b"), StopAt(15)], **settings).train()
    assert [p.name for p in (tmp_path / "map_b" / "dynamics").iterdir()] == ["epoch_000.parquet"]
    make_trainer(frozen_model(tiny_tokenizer), tiny_tokenizer, dataset, tmp_path / "b",
                 [DataMapCallback(tmp_path / "map_b")], **settings).train(resume_from_checkpoint=True)
    a, b = DataMap.load(tmp_path / "map_a").table, DataMap.load(tmp_path / "map_b").table
    assert (b["observations"] == 3).all()
    for column in ("confidence", "variability", "correctness", "aum"):
        np.testing.assert_allclose(a[column], b[column], atol=1e-4, err_msg=column)
    assert not list((tmp_path / "map_b" / "partial").glob("*.parquet"))


def test_gold_labels_read_from_the_dataset_meet_the_logits_on_the_device(tiny_tokenizer, dataset, tmp_path, device):
    """A loss that keeps the labels from the model (distillation, a custom loss): the callback reads the gold labels
    from the dataset, on the host, while the logits sit on the model's device."""

    class OwnLoss(Trainer):
        def compute_loss(self, model, inputs, return_outputs=False, num_items_in_batch=None):
            labels = inputs.pop("labels")
            outputs = model(**inputs)
            loss = torch.nn.functional.cross_entropy(outputs.logits, labels)
            return (loss, outputs) if return_outputs else loss

    model = frozen_model(tiny_tokenizer)
    trainer = OwnLoss(model=model, args=training_args(tmp_path / "run", learning_rate=0.0, use_cpu=device == "cpu"),
                      train_dataset=dataset, data_collator=DataCollatorWithPadding(tiny_tokenizer),
                      callbacks=[DataMapCallback(tmp_path / "map")])
    trainer.train()
    table = DataMap.load(tmp_path / "map").table
    assert (table["observations"] == 2).all() and table["gold"].tolist() == dataset["label"]
    np.testing.assert_allclose(table["confidence"], clean_p_gold(model, tiny_tokenizer, dataset), atol=2e-5)


# --- bad input: clear errors, never a silent empty map ---------------------------------------------------

def test_no_labels_is_an_error(tiny_tokenizer, dataset, tmp_path):
    unlabeled = dataset.remove_columns("label")
    trainer = make_trainer(frozen_model(tiny_tokenizer), tiny_tokenizer, unlabeled, tmp_path / "run",
                           [DataMapCallback(tmp_path / "map")])
    with pytest.raises(DataMapError, match="no `labels`"):
        trainer.train()


def test_regression_and_multilabel_models_are_rejected(tiny_tokenizer, dataset, tmp_path):
    regression = frozen_model(tiny_tokenizer, num_labels=1)
    with pytest.raises(DataMapError, match="regression"):
        make_trainer(regression, tiny_tokenizer, dataset, tmp_path / "r", [DataMapCallback(tmp_path / "m1")]).train()
    multilabel = frozen_model(tiny_tokenizer, num_labels=3)
    multilabel.config.problem_type = "multi_label_classification"
    with pytest.raises(DataMapError, match="multi-label"):
        make_trainer(multilabel, tiny_tokenizer, dataset, tmp_path / "m", [DataMapCallback(tmp_path / "m2")]).train()


def test_model_without_logits_is_rejected(tiny_tokenizer, dataset, tmp_path):
    class NoLogits(torch.nn.Module):
        def __init__(self, inner):
            super().__init__()
            self.inner = inner
            self.config = inner.config

        def forward(self, input_ids=None, attention_mask=None, labels=None, **kwargs):
            output = self.inner(input_ids=input_ids, attention_mask=attention_mask, labels=labels)
            return {"loss": output.loss}

    trainer = Trainer(model=NoLogits(frozen_model(tiny_tokenizer)), args=training_args(tmp_path / "run"),
                      train_dataset=dataset.remove_columns(["text", "guid"]),
                      data_collator=DataCollatorWithPadding(tiny_tokenizer), callbacks=[DataMapCallback(tmp_path / "m")])
    with pytest.raises(DataMapError, match="no `logits`"):
        trainer.train()


def test_id_column_errors(tiny_tokenizer, dataset, tmp_path):
    duplicated = dataset.map(lambda row, i: {"guid": f"g{i % 10}"}, with_indices=True)
    with pytest.raises(DataMapError, match="duplicate ids"):
        make_trainer(frozen_model(tiny_tokenizer), tiny_tokenizer, duplicated, tmp_path / "r",
                     [DataMapCallback(tmp_path / "m", id_column="guid")], keep_ids=True).train()
    with pytest.raises(DataMapError, match=r"'uid' is not a column.*'guid'"):
        make_trainer(frozen_model(tiny_tokenizer), tiny_tokenizer, dataset, tmp_path / "r",
                     [DataMapCallback(tmp_path / "m", id_column="uid")], keep_ids=True).train()


def test_an_id_column_the_trainer_removed_names_the_setting_that_keeps_it(tiny_tokenizer, dataset, tmp_path):
    """The callback reads the ids from the dataset the Trainer batches (its train_dataloader); by default the Trainer
    drops every column model.forward does not take, the id column too."""
    trainer = make_trainer(frozen_model(tiny_tokenizer), tiny_tokenizer, dataset, tmp_path / "r",
                           [DataMapCallback(tmp_path / "m", id_column="guid")])
    with pytest.raises(DataMapError, match=r"'guid' is not a column.*keep_columns=\('guid',\).*remove_unused_columns=False"):
        trainer.train()
    assert not list((tmp_path / "m").glob("*.parquet"))


def test_torchrun_without_a_data_parallel_trainer_says_how_to_fix_it(tiny_tokenizer, dataset, tmp_path, monkeypatch):
    """torchrun on CPU without ddp_backend="gloo": torch.distributed holds 2 processes, but the Trainer trains in
    each alone as process 0. The second process used to report "another process is writing into" the folder."""
    callback = DataMapCallback(tmp_path / "map")
    trainer = make_trainer(frozen_model(tiny_tokenizer), tiny_tokenizer, dataset, tmp_path / "run", [callback])
    loader = trainer.get_train_dataloader()
    assert trainer.args.world_size == 1
    monkeypatch.setattr(torch.distributed, "is_initialized", lambda: True)
    monkeypatch.setattr(torch.distributed, "get_world_size", lambda group=None: 2)
    with pytest.raises(DataMapError, match=r"2 processes.*world_size == 1.*ddp_backend='gloo'"):
        callback.on_train_begin(trainer.args, trainer.state, trainer.control, model=trainer.model,
                                train_dataloader=loader)
    assert not (tmp_path / "map").exists()  # refused before taking the folder


def test_the_callback_module_holds_no_registry_and_all_state_is_made_in_init(tiny_tokenizer, tmp_path):
    from collections.abc import MutableMapping, MutableSequence, MutableSet

    import greennlp.datamaps.callback as module

    mutable = [name for name, value in vars(module).items()
               if not name.startswith("__") and isinstance(value, (MutableMapping, MutableSequence, MutableSet))]
    assert mutable == [], f"module-level mutable state in datamaps.callback: {mutable}"
    dataset = tiny_dataset(tiny_tokenizer, n=12)
    for mode, options in (("train", {}), ("eval", {"snapshots_per_epoch": 2})):
        callback = DataMapCallback(tmp_path / f"map_{mode}", mode=mode, id_column="guid", **options)
        made_in_init = set(vars(callback))
        make_trainer(frozen_model(tiny_tokenizer), tiny_tokenizer, dataset, tmp_path / f"run_{mode}", [callback],
                     keep_ids=True, save_strategy="steps", save_steps=2).train()  # a checkpoint inside an epoch
        assert DataMap.load(tmp_path / f"map_{mode}").metadata["epochs"] == [0, 1]
        assert set(vars(callback)) == made_in_init, f"set outside __init__: {set(vars(callback)) - made_in_init}"


def test_collator_that_changes_inputs_is_caught(tiny_tokenizer, dataset, tmp_path):
    padding = DataCollatorWithPadding(tiny_tokenizer)

    def scrambling_collator(features):
        batch = padding(features)
        batch["input_ids"] = torch.roll(batch["input_ids"], 1, dims=1)
        return batch

    trainer = Trainer(model=frozen_model(tiny_tokenizer), args=training_args(tmp_path / "run"), train_dataset=dataset,
                      data_collator=scrambling_collator, callbacks=[DataMapCallback(tmp_path / "m")])
    with pytest.raises(DataMapError, match="mode='eval'"):
        trainer.train()


def test_existing_map_is_not_overwritten_by_a_fresh_run(tiny_tokenizer, dataset, tmp_path):
    def train(**options):
        make_trainer(frozen_model(tiny_tokenizer), tiny_tokenizer, dataset, tmp_path / "run",
                     [DataMapCallback(tmp_path / "map", **options)], num_train_epochs=1, learning_rate=0.0).train()

    train()
    with pytest.raises(DataMapError, match="already holds a data map"):
        train()
    train(overwrite=True)
    assert DataMap.load(tmp_path / "map").metadata["epochs"] == [0]


def test_constructor_errors(tmp_path):
    with pytest.raises(DataMapError, match="mode"):
        DataMapCallback(tmp_path, mode="predict")
    with pytest.raises(DataMapError, match="needs mode='eval'"):
        DataMapCallback(tmp_path, snapshots_per_epoch=3)
    with pytest.raises(DataMapError, match="positive integer"):
        DataMapCallback(tmp_path, mode="eval", snapshots_per_epoch=0)
