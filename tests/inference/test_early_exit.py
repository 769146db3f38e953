"""EarlyExitClassifier: the contract of issue 17 on BERT-tiny (training, calibration, batched predict)."""
from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
import torch
from devices import to_device

from greennlp.encoders import load_encoder
from greennlp.encoders.data import PaddingCollator
from greennlp.inference import EarlyExitClassifier


def test_default_exits_after_every_layer_and_forward_returns_joint_loss(tiny_tokenizer, tokenized, device):
    model = EarlyExitClassifier.from_pretrained("tiny", num_labels=3, tokenizer=tiny_tokenizer, seed=0).to(device)
    assert model.config.exit_layers == [1, 2]
    batch = to_device(PaddingCollator(tiny_tokenizer)([tokenized[0][i] for i in range(4)]), device)
    batch["labels"] = batch["labels"] % 3
    output = model(**batch)
    assert output.logits.shape == (4, 3) and len(output.exit_logits) == 2
    losses = [torch.nn.functional.cross_entropy(logits, batch["labels"]) for logits in output.exit_logits]
    torch.testing.assert_close(output.loss, torch.stack(losses).mean())
    torch.testing.assert_close(output.logits, output.exit_logits[-1])


def test_from_encoder_copies_the_encoder_and_matches_it_at_the_last_exit(tiny_tokenizer, tokenized, device):
    encoder = load_encoder("tiny", num_labels=2, tokenizer=tiny_tokenizer, seed=3).to(device).eval()
    model = EarlyExitClassifier.from_encoder(encoder, exit_layers=[1, 2], pooling="cls").eval()
    assert next(model.parameters()).device.type == torch.device(device).type  # built where the encoder is
    batch = to_device(PaddingCollator(tiny_tokenizer)([tokenized[0][i] for i in range(5)]), device)
    labels = batch.pop("labels")
    with torch.no_grad():
        torch.testing.assert_close(model(**batch).logits, encoder(**batch).logits, atol=1e-5, rtol=1e-5)
    assert model(**batch, labels=labels).loss is not None


def test_mean_pooled_exits_read_the_mean_of_the_unpadded_tokens(tiny_tokenizer, tokenized, device):
    model = EarlyExitClassifier.from_pretrained("tiny", num_labels=2, tokenizer=tiny_tokenizer, seed=0).to(device)
    model.eval()
    assert model.config.exit_pooling == "mean"
    rows = [tokenized[0][i] for i in range(6)]
    batch = to_device(PaddingCollator(tiny_tokenizer)(rows), device)
    batch.pop("labels")
    assert (batch["attention_mask"] == 0).any()  # the batch has padding, which the mean must leave out
    with torch.no_grad():
        logits = model(**batch).exit_logits
        for i, row in enumerate(rows):
            ids = torch.tensor([row["input_ids"]], device=device)  # one row alone: no padding
            hidden, states = model.bert.embeddings(input_ids=ids), []
            for index in range(model.config.num_hidden_layers):
                hidden = model._layer(index, hidden, torch.ones_like(ids))
                states.append(hidden)
            for position, layer in enumerate(model.config.exit_layers):
                head = model.exits[position]
                expected = head.classifier(torch.tanh(head.dense(states[layer - 1][0].mean(dim=0))))
                torch.testing.assert_close(logits[position][i], expected, atol=1e-5, rtol=1e-5)


def test_parameter_groups_give_the_exits_their_own_learning_rate(tiny_tokenizer, tokenized, tmp_path, train_args,
                                                                 device):
    from transformers import Trainer

    model = EarlyExitClassifier.from_pretrained("tiny", num_labels=2, tokenizer=tiny_tokenizer, seed=0)
    groups = model.parameter_groups(learning_rate=1e-4, exit_learning_rate=1e-2, weight_decay=0.01)
    names = {id(p): n for n, p in model.named_parameters()}
    grouped = [names[id(p)] for group in groups for p in group["params"]]
    assert sorted(grouped) == sorted(names.values())  # every parameter once
    for group in groups:
        group_names = [names[id(p)] for p in group["params"]]
        assert group["lr"] == (1e-2 if group_names[0].startswith("exits.") else 1e-4)
        assert all(n.startswith("exits.") == group_names[0].startswith("exits.") for n in group_names)
        no_decay = [n for n in group_names if n.endswith("bias") or "LayerNorm" in n]
        assert group["weight_decay"] == (0.0 if no_decay else 0.01)
        assert not no_decay or len(no_decay) == len(group_names)
    optimizer = torch.optim.AdamW(groups)
    trainer = Trainer(model=model, args=train_args(tmp_path, max_steps=4, warmup_steps=0, use_cpu=device == "cpu"),
                      train_dataset=tokenized[0],
                      data_collator=PaddingCollator(tiny_tokenizer), optimizers=(optimizer, None))
    trainer.train()
    rates = {group["lr"] / group["initial_lr"] for group in optimizer.param_groups}
    assert len(rates) == 1  # the Trainer's schedule scales every group alike
    with pytest.raises(ValueError, match="exit_learning_rate"):
        model.parameter_groups(learning_rate=1e-4, exit_learning_rate=0)


def test_pooling_is_saved_and_old_configs_mean_cls(tiny_tokenizer, tmp_path):
    model = EarlyExitClassifier.from_pretrained("tiny", num_labels=2, tokenizer=tiny_tokenizer, seed=0, pooling="cls")
    model.save_pretrained(tmp_path / "cls")
    assert EarlyExitClassifier.from_pretrained(tmp_path / "cls").config.exit_pooling == "cls"
    config = model.config.to_dict()
    del config["exit_pooling"]
    from transformers import BertConfig

    assert EarlyExitClassifier(BertConfig.from_dict(config)).config.exit_pooling == "cls"
    with pytest.raises(ValueError, match="pooling"):
        EarlyExitClassifier.from_pretrained("tiny", tokenizer=tiny_tokenizer, pooling="max")

def test_bad_exit_layers_and_non_bert_encoders_are_refused(tiny_tokenizer):
    with pytest.raises(ValueError, match="exit_layers"):
        EarlyExitClassifier.from_pretrained("tiny", tokenizer=tiny_tokenizer, exit_layers=[2, 1])
    with pytest.raises(ValueError, match="exit_layers"):
        EarlyExitClassifier.from_pretrained("tiny", tokenizer=tiny_tokenizer, exit_layers=[3])
    with pytest.raises(ValueError, match="BERT"):
        EarlyExitClassifier.from_encoder(torch.nn.Linear(2, 2))


def test_trains_with_a_plain_trainer_and_data_maps_record_the_last_exit(tiny_tokenizer, tokenized, tmp_path,
                                                                       train_args, device):
    from transformers import Trainer

    from greennlp.datamaps import DataMap, DataMapCallback

    train = tokenized[0].select(range(64))
    model = EarlyExitClassifier.from_pretrained("tiny", num_labels=2, tokenizer=tiny_tokenizer, seed=0,
                                                exit_layers=[1, 2])
    before = [p.detach().clone() for p in model.exits.parameters()]
    trainer = Trainer(model=model, args=train_args(tmp_path / "out", num_train_epochs=1, use_cpu=device == "cpu"),
                      train_dataset=train,
                      data_collator=PaddingCollator(tiny_tokenizer),
                      callbacks=[DataMapCallback(tmp_path / "map")])
    result = trainer.train()
    assert np.isfinite(result.training_loss)
    assert next(model.parameters()).device.type == torch.device(device).type
    assert any(not torch.equal(a, b.cpu()) for a, b in zip(before, model.exits.parameters(), strict=True))
    table = DataMap.load(tmp_path / "map").table
    assert len(table) == len(train) and table["confidence"].between(0, 1).all()


def test_trained_model_learns_and_calibration_keeps_temperatures_positive(early_exit, tokenized):
    _, dev = tokenized
    temperatures = early_exit.temperatures.cpu()
    assert temperatures.shape == (2,) and bool((temperatures > 0).all())
    assert not torch.allclose(temperatures, torch.ones(2))
    result = early_exit.predict(dev, threshold=1.0)
    assert (result["label"].to_numpy() == np.asarray(dev["labels"])).mean() > 0.8


def test_predict_columns_and_ranges(early_exit, tokenized):
    _, dev = tokenized
    result = early_exit.predict(dev, threshold=0.9, batch_size=16)
    assert isinstance(result, pd.DataFrame)
    assert list(result.columns) == ["label", "exit_layer", "confidence"] and len(result) == len(dev)
    assert result["exit_layer"].isin([1, 2]).all()
    assert result["confidence"].between(0.5, 1).all()
    early = result[result["exit_layer"] == 1]
    assert (early["confidence"] > 0.9).all()


def test_batched_results_equal_one_at_a_time(early_exit, tokenized):
    _, dev = tokenized
    subset = dev.select(range(24))
    for threshold in (0.6, 0.9):
        batched = early_exit.predict(subset, threshold=threshold, batch_size=8)
        single = pd.concat([early_exit.predict(subset.select([i]), threshold=threshold, batch_size=1)
                            for i in range(len(subset))], ignore_index=True)
        # an example whose confidence sits on the threshold could flip on float noise: none should here
        assert (np.abs(single["confidence"] - threshold) > 1e-4).all()
        np.testing.assert_array_equal(batched["label"], single["label"])
        np.testing.assert_array_equal(batched["exit_layer"], single["exit_layer"])
        np.testing.assert_allclose(batched["confidence"], single["confidence"], atol=1e-5)


def test_threshold_one_runs_the_full_model_and_zero_exits_at_the_first_exit(early_exit, tokenized):
    _, dev = tokenized
    full = early_exit.predict(dev, threshold=1.0)
    assert (full["exit_layer"] == 2).all()
    assert early_exit.predict(dev, threshold=1.5).equals(full)
    logits = early_exit.exit_logits(dev)[-1]
    np.testing.assert_array_equal(full["label"], logits.argmax(-1))
    first = early_exit.predict(dev, threshold=0.0)
    assert (first["exit_layer"] == 1).all()
    np.testing.assert_array_equal(first["label"], early_exit.exit_logits(dev)[0].argmax(-1))
    with pytest.raises(ValueError, match="threshold"):
        early_exit.predict(dev, threshold=float("nan"))


def test_save_and_load_round_trip_keeps_temperatures(early_exit, tokenized, tmp_path, device):
    _, dev = tokenized
    early_exit.save_pretrained(tmp_path / "model")
    loaded = EarlyExitClassifier.from_pretrained(tmp_path / "model").to(device)
    torch.testing.assert_close(loaded.temperatures, early_exit.temperatures)
    pd.testing.assert_frame_equal(loaded.predict(dev, threshold=0.9), early_exit.predict(dev, threshold=0.9))


# --- no silent wrong results: labels, thresholds and loading (reliability issue, part A) -----------------------
@pytest.fixture()
def untrained(tiny_tokenizer, device):
    """A fresh model, so that a calibration that should have been refused cannot change the shared trained one."""
    return EarlyExitClassifier.from_pretrained("tiny", num_labels=2, tokenizer=tiny_tokenizer, seed=0).to(device)


def test_calibration_refuses_a_missing_label_column_instead_of_using_another(untrained, tokenized):
    _, dev = tokenized
    small = dev.select(range(16))
    with pytest.raises(ValueError, match=r"No label column 'gold_typo'.*label_column='labels'"):
        untrained.calibrate(small, label_column="gold_typo")
    with pytest.raises(ValueError, match=r"No label column 'labels'.*label_column='label'"):
        untrained.calibrate(small.rename_column("labels", "label"))  # no fallback to another column either
    torch.testing.assert_close(untrained.temperatures.cpu(), torch.ones(2))  # nothing was fitted


def test_calibration_refuses_empty_or_unlabelled_data(untrained, tokenized):
    _, dev = tokenized
    with pytest.raises(ValueError, match="empty"):
        untrained.calibrate(dev.select([]))
    unlabelled = dev.select(range(16)).map(lambda row: {"labels": -100})
    with pytest.raises(ValueError, match=r"every label in 'labels' is -100"):
        untrained.calibrate(unlabelled)
    torch.testing.assert_close(untrained.temperatures.cpu(), torch.ones(2))
    # some unlabelled rows are left out of the fit, as cross-entropy leaves them out
    partly = dev.select(range(32)).map(lambda row, i: {"labels": -100 if i % 2 else row["labels"]}, with_indices=True)
    every_other = dev.select(range(0, 32, 2))
    torch.testing.assert_close(untrained.calibrate(partly).temperatures.clone(),
                               untrained.calibrate(every_other).temperatures.clone())


def test_labels_out_of_range_name_the_value_the_column_and_num_labels(untrained, tokenized):
    _, dev = tokenized
    bad = dev.select(range(16)).map(lambda row, i: {"gold": 7 if i == 3 else row["labels"]}, with_indices=True)
    with pytest.raises(ValueError, match=r"'gold' holds 7.*num_labels=2"):
        untrained.calibrate(bad, label_column="gold")
    floats = dev.select(range(4)).map(lambda row: {"gold": 0.5})
    with pytest.raises(ValueError, match=r"'gold'.*whole class ids.*0\.5"):
        untrained.calibrate(floats, label_column="gold")


def test_predict_threshold_takes_numbers_and_refuses_bools_negatives_and_nan(early_exit, tokenized):
    _, dev = tokenized
    small = dev.select(range(16))
    expected = early_exit.predict(small, threshold=0.7)
    for threshold in (np.float32(0.7), np.float64(0.7)):
        pd.testing.assert_frame_equal(early_exit.predict(small, threshold=threshold), expected)
    assert (early_exit.predict(small, threshold=np.int64(1))["exit_layer"] == 2).all()
    for threshold in (-1, -0.1, True, np.bool_(False), float("nan"), "0.9", None):
        with pytest.raises(ValueError, match="threshold"):
            early_exit.predict(small, threshold=threshold)


def test_from_pretrained_reads_num_labels_from_a_saved_classifier(tiny_tokenizer, tmp_path):
    encoder = load_encoder("tiny", num_labels=3, tokenizer=tiny_tokenizer, seed=0)
    encoder.save_pretrained(tmp_path / "three")
    model = EarlyExitClassifier.from_pretrained(tmp_path / "three")
    assert model.config.num_labels == 3 and model.exits[0].classifier.out_features == 3
    torch.testing.assert_close(model.exits[-1].classifier.weight, encoder.classifier.weight)
    with pytest.raises(ValueError, match=r"3 labels.*num_labels=2"):
        EarlyExitClassifier.from_pretrained(tmp_path / "three", num_labels=2)


def test_from_pretrained_of_a_saved_early_exit_model_refuses_settings_it_cannot_apply(tiny_tokenizer, tmp_path):
    saved = EarlyExitClassifier.from_pretrained("tiny", num_labels=3, tokenizer=tiny_tokenizer, seed=0, pooling="cls")
    saved.save_pretrained(tmp_path / "model")
    loaded = EarlyExitClassifier.from_pretrained(tmp_path / "model", num_labels=3, exit_layers=[1, 2], pooling="cls")
    assert loaded.config.exit_layers == [1, 2] and loaded.config.num_labels == 3  # the saved settings, restated
    with pytest.raises(ValueError, match=r"exit_layers=\[1\].*\[1, 2\]"):
        EarlyExitClassifier.from_pretrained(tmp_path / "model", exit_layers=[1])
    with pytest.raises(ValueError, match=r"num_labels=2.*3 labels"):
        EarlyExitClassifier.from_pretrained(tmp_path / "model", num_labels=2)
    with pytest.raises(ValueError, match=r"pooling='mean'.*'cls'"):
        EarlyExitClassifier.from_pretrained(tmp_path / "model", pooling="mean")


def test_exit_layers_must_be_whole_numbers(tiny_tokenizer):
    for layers in ([1.5, 2], [True, 2], ["1", 2]):
        with pytest.raises(ValueError, match="exit_layers"):
            EarlyExitClassifier.from_pretrained("tiny", tokenizer=tiny_tokenizer, exit_layers=layers)
    model = EarlyExitClassifier.from_pretrained("tiny", tokenizer=tiny_tokenizer, exit_layers=np.array([1, 2]))
    assert model.config.exit_layers == [1, 2]


def test_predict_on_the_device_equals_predict_on_the_cpu(trained_early_exit, early_exit, tokenized):
    """predict() keeps the finished rows' mask on the model's device and the row positions on the host (it once
    indexed the one with the other, which raised on a GPU)."""
    _, dev = tokenized
    cpu, here = trained_early_exit.predict(dev, threshold=0.9), early_exit.predict(dev, threshold=0.9)
    # float noise between devices may move an example that sits on the threshold, or on a tie of the two classes
    clear = ((cpu["confidence"] - 0.9).abs() > 1e-3) & ((cpu["confidence"] - 0.5).abs() > 1e-3)
    assert clear.mean() > 0.9
    np.testing.assert_array_equal(here["label"][clear], cpu["label"][clear])
    np.testing.assert_array_equal(here["exit_layer"][clear], cpu["exit_layer"][clear])
    np.testing.assert_allclose(here["confidence"][clear], cpu["confidence"][clear], atol=1e-4)


def test_predict_on_an_empty_dataset_gives_an_empty_frame(early_exit, tokenized):
    """An empty dataset used to be blamed for lacking input_ids when it had no columns (Dataset.from_list([]))."""
    from datasets import Dataset

    _, dev = tokenized
    expected = early_exit.predict(dev.select(range(4))).iloc[:0]
    for empty in (dev.select([]), Dataset.from_list([])):
        result = early_exit.predict(empty)
        pd.testing.assert_frame_equal(result, expected, check_index_type=False)
        assert early_exit.exit_logits(empty).shape == (2, 0, 2)
    with pytest.raises(ValueError, match="threshold"):  # the arguments are still checked
        early_exit.predict(Dataset.from_list([]), threshold=-1)
