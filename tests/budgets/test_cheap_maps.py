"""Cheap maps and cross-fitted maps: ordinary DataMaps with a price, every example held out once."""
from __future__ import annotations

import random

import numpy as np
import pytest
from datasets import Dataset
from synthetic import synthetic_sentiment

from greennlp.budgets import BudgetCallback, PriceTag, cheap_map, cross_fitted_map
from greennlp.datamaps import DataMap
from greennlp.encoders import fine_tune, load_encoder
from greennlp.encoders.finetune import predict_proba
from greennlp.filters import select_by_region

# small, fast, deterministic training on 2 CPU cores
ARGS = dict(bf16=False, train_sampling_strategy="random")


@pytest.fixture(scope="module")
def train():
    data = synthetic_sentiment(96, seed=5)
    return Dataset.from_dict({**data, "guid": [f"ex-{i:03d}" for i in range(96)]})


@pytest.fixture(scope="module")
def tiny(tiny_tokenizer):
    def new_model():
        return load_encoder("tiny", num_labels=2, tokenizer=tiny_tokenizer, seed=0)
    return new_model


@pytest.fixture(scope="module")
def epoch_flops(train, tiny, tiny_tokenizer) -> float:
    """Training FLOPs of one epoch of the tiny model on all of ``train``: the unit of a full run's price."""
    budget = BudgetCallback(save=False, flop_steps=2)
    fine_tune(tiny(), tiny_tokenizer, train, epochs=1, learning_rate=1e-3, callbacks=[budget], **ARGS)
    return budget.price_tag_.train_flops


def is_ordinary(data_map: DataMap, dataset: Dataset, id_column: str | None = "guid") -> None:
    """Regions, selection and label errors work as on a map recorded by DataMapCallback."""
    assert isinstance(data_map, DataMap) and len(data_map) == len(dataset)
    assert data_map.id_column == id_column
    assert set(data_map.table["region"].dropna()) == {"ambiguous", "easy-to-learn", "hard-to-learn"}
    third = round(0.33 * len(dataset))
    assert len(select_by_region(dataset, data_map, "ambiguous", fraction=0.33)) == third
    assert len(data_map.select_trajectories(fraction=0.33, clusters=4)) == third
    assert len(data_map.label_errors(by="confidence", count=5)) == 5


def test_probe_map_is_ordinary_and_costs_a_small_share_of_a_fine_tuning_run(train, tiny, tiny_tokenizer,
                                                                            epoch_flops):
    probe_map, price = cheap_map(train, kind="probe", model=tiny, tokenizer=tiny_tokenizer, epochs=6,
                                 learning_rate=1e-2, id_column="guid")
    is_ordinary(probe_map, train)
    assert probe_map.metadata["mode"] == "probe" and probe_map.trajectories().shape == (96, 6)
    assert isinstance(price, PriceTag) and price.run_name == "cheap map (probe)"
    assert price.train_flops > 0 and price.wall_time_s > 0
    assert price.train_flops == pytest.approx(price.metrics["training_flops"] + price.metrics["forward_flops"])
    assert price.metrics["forward_flops"] > 10 * price.metrics["training_flops"]  # embedding dominates
    # one forward pass against three epochs of forward and backward passes: about a ninth
    assert price.train_flops < 0.25 * 3 * epoch_flops
    embeddings = np.random.default_rng(0).normal(size=(96, 8))
    given, given_price = cheap_map(train, kind="probe", model=tiny, tokenizer=tiny_tokenizer, embeddings=embeddings)
    assert given.metadata["embedding_dim"] == 8  # the embeddings passed in were used ...
    assert given_price.metrics["forward_flops"] == price.metrics["forward_flops"]  # ... and priced as if computed


@pytest.mark.parametrize("kind, settings", [
    ("proxy", {"layers": 1, "epochs": 3}),
    ("proxy", {"layers": "tiny", "epochs": 2}),
    ("early", {"snapshots_per_epoch": 3}),
    ("subsample", {"fraction": 0.5, "neighbours": 3}),
])
def test_trained_cheap_maps_are_ordinary_data_maps_with_a_price(kind, settings, train, tiny, tiny_tokenizer, tmp_path,
                                                                epoch_flops):
    data_map, price = cheap_map(train, kind=kind, model=tiny, tokenizer=tiny_tokenizer, output_dir=tmp_path / kind,
                                learning_rate=1e-3, id_column="guid", **settings, **ARGS)
    is_ordinary(data_map, train)
    assert DataMap.load(tmp_path / kind) is not None  # the recorded map is in output_dir, as with DataMapCallback
    assert price.run_name == f"cheap map ({kind})" and price.metrics["training_flops"] > 0
    assert price.train_flops == pytest.approx(price.metrics["training_flops"] + price.metrics["forward_flops"])
    full = 3 * epoch_flops  # a full run: three epochs on all the data
    if kind == "proxy" and settings["layers"] == 1:
        assert data_map.trajectories().shape[1] == 3
        assert price.train_flops < 0.75 * full  # one of two layers for the same epochs
    if kind == "early":
        assert data_map.trajectories().shape[1] == 3  # one epoch, three snapshots
        assert price.metrics["forward_flops"] > 0  # the scoring passes are priced
        assert price.train_flops < full
    if kind == "subsample":
        assert data_map.metadata["mode"] == "extended" and data_map.metadata["mapped_examples"] == 48
        assert price.metrics["forward_flops"] > 0  # embedding every row for the neighbours
        assert price.metrics["training_flops"] < 0.75 * full


def test_cross_fitted_map_holds_every_example_out_exactly_once(train, tiny, tiny_tokenizer, epoch_flops):
    data_map, price = cross_fitted_map(train, folds=3, model=tiny, tokenizer=tiny_tokenizer, epochs=2,
                                       snapshots_per_epoch=2, learning_rate=1e-3, id_column="guid", **ARGS)
    is_ordinary(data_map, train)
    trajectories = data_map.trajectories()
    # one record per example at every time point (2 epochs x 2 snapshots), each from the one model that held it out
    assert trajectories.shape == (96, 4) and not trajectories.isna().any().any()
    assert (data_map.table["observations"] == 4).all()
    fold = np.asarray(data_map.metadata["held_out_fold"])
    assert fold.shape == (96,) and np.bincount(fold).tolist() == [32, 32, 32]
    assert data_map.metadata["mode"] == "cross-fitted" and data_map.metadata["folds"] == 3
    # three folds train on two thirds each for two epochs: as many examples as four epochs on all the data
    assert price.metrics["training_flops"] == pytest.approx(4 * epoch_flops, rel=0.3)
    assert price.metrics["forward_flops"] > 0 and price.optimizer_steps == 3 * 2 * 2  # 64 rows, batch 32, 2 epochs


def test_cross_fitted_records_come_from_models_that_never_trained_on_the_example(tiny_tokenizer):
    """Random labels: a model memorises the labels it trains on and can know nothing of the others, so an
    example's p(gold) is high in sample and near chance out of sample."""
    from datamap_fixtures import one_layer_model

    rng = random.Random(3)
    words = "the film movie plot actor story scene a an is was it this and of".split()
    texts = [" ".join(rng.choices(words, k=8)) for _ in range(24)]
    labels = [rng.randint(0, 1) for _ in range(24)]
    noise = Dataset.from_dict({"text": texts, "label": labels})
    settings = dict(epochs=30, learning_rate=3e-3, batch_size=8, warmup=0, **ARGS)
    data_map, _ = cross_fitted_map(noise, folds=2, model=lambda: one_layer_model(tiny_tokenizer),
                                   tokenizer=tiny_tokenizer, **settings)
    out_of_sample = data_map.trajectories().iloc[:, -1].mean()
    trainer = fine_tune(one_layer_model(tiny_tokenizer), tiny_tokenizer, noise, **settings)
    in_sample = predict_proba(trainer.model, tiny_tokenizer, texts)[np.arange(24), labels].mean()
    # measured 0.92 in sample and 0.42 out of sample; chance is 0.5
    assert in_sample > 0.8 and in_sample - out_of_sample > 0.25, (in_sample, out_of_sample)


@pytest.mark.parametrize("call, match", [
    (lambda d, m, t: cheap_map(d, kind="magic", model=m, tokenizer=t), "choose one of"),
    (lambda d, m, t: cheap_map(d, kind="proxy", model=m, tokenizer=t), "output_dir"),
    (lambda d, m, t: cheap_map(d, kind="proxy", model=m, tokenizer=t, output_dir="x", layers=0), "layers"),
    (lambda d, m, t: cheap_map(d, kind="subsample", model=m, tokenizer=t, output_dir="x", fraction=1.0), "fraction"),
    (lambda d, m, t: cheap_map(d, kind="probe", model=m), "tokenizer"),
    (lambda d, m, t: cheap_map(d, kind="probe", model=m, tokenizer=t, embeddings=np.ones((3, 4))), "rows"),
    (lambda d, m, t: cheap_map(d, kind="probe", model=m, tokenizer=t, id_column="nope"), "no column 'nope'"),
    (lambda d, m, t: cheap_map(d.to_dict(), kind="probe", model=m, tokenizer=t), "datasets.Dataset"),
    (lambda d, m, t: cheap_map(d.cast_column("label", d.features["text"]), model=m, tokenizer=t), "class ids"),
    (lambda d, m, t: cross_fitted_map(d, folds=1, model=m, tokenizer=t), "at least 2 folds"),
    (lambda d, m, t: cross_fitted_map(d, epochs=1.5, model=m, tokenizer=t), "whole number of epochs"),
    (lambda d, m, t: cross_fitted_map(d, snapshots_per_epoch=0, model=m, tokenizer=t), "snapshots_per_epoch"),
    (lambda d, m, t: cross_fitted_map(d.select(range(5)), folds=3, model=m, tokenizer=t), "too few"),
])
def test_bad_input_is_named(call, match, train, tiny, tiny_tokenizer):
    with pytest.raises((ValueError, TypeError), match=match):
        call(train, tiny, tiny_tokenizer)


def test_a_map_already_in_output_dir_is_replaced_only_when_asked(train, tiny, tiny_tokenizer, tmp_path):
    DataMap.from_arrays(np.full((96, 2), 0.7), np.ones((96, 2), bool), np.ones((96, 2)), train["label"]).save(tmp_path)
    settings = dict(kind="proxy", model=tiny, tokenizer=tiny_tokenizer, output_dir=tmp_path, layers=1, **ARGS)
    with pytest.raises(ValueError, match="overwrite=True"):
        cheap_map(train, **settings)
    data_map, _ = cheap_map(train, overwrite=True, **settings)
    assert data_map.metadata["mode"] == "train"
