import numpy as np
import pytest
import torch
from datasets import Dataset
from synthetic import synthetic_sentiment
from transformers import DataCollatorWithPadding

from greennlp.encoders import fine_tune, load_encoder, tokenize_dataset
from greennlp.encoders.data import PaddingCollator, length_grouped_order, pad_columns


@pytest.fixture()
def texts():
    return Dataset.from_dict(synthetic_sentiment(300, seed=2))


def test_tokenize_dataset_columns_and_errors(texts, tiny_tokenizer):
    encoded = tokenize_dataset(texts, tiny_tokenizer)
    assert set(encoded.column_names) == set(tiny_tokenizer("a film").keys()) | {"num_tokens", "labels"}
    assert encoded["num_tokens"] == [len(ids) for ids in encoded["input_ids"]]
    assert encoded["labels"] == texts["label"]
    with pytest.raises(ValueError, match=r"columns \['sentence'\] not in the dataset"):
        tokenize_dataset(texts, tiny_tokenizer, text_column="sentence")
    with pytest.raises(ValueError, match="group_by_length is the batch size"):
        tokenize_dataset(texts, tiny_tokenizer, group_by_length=0)


def test_length_grouped_order_is_a_seeded_permutation_with_homogeneous_batches():
    lengths = np.random.default_rng(0).integers(3, 60, size=1000)
    order = length_grouped_order(lengths, batch_size=8, seed=1, megabatch_batches=10)
    assert sorted(order.tolist()) == list(range(1000))
    assert np.array_equal(order, length_grouped_order(lengths, 8, seed=1, megabatch_batches=10))
    assert not np.array_equal(order, length_grouped_order(lengths, 8, seed=2, megabatch_batches=10))
    assert lengths[order[0]] == lengths.max()  # longest batch first: out-of-memory shows at once

    def padding_waste(index):
        batches = [lengths[index[i : i + 8]] for i in range(0, len(index), 8)]
        return sum(len(b) * b.max() - b.sum() for b in batches)

    # grouping removes most of the padding a random order would compute
    assert padding_waste(order) < 0.25 * padding_waste(np.random.default_rng(1).permutation(1000))


def test_grouped_dataset_keeps_rows_intact(texts, tiny_tokenizer):
    grouped = tokenize_dataset(texts, tiny_tokenizer, group_by_length=16, keep_columns=("text",))
    plain = {t: ids for t, ids in zip(texts["text"], tokenize_dataset(texts, tiny_tokenizer)["input_ids"], strict=True)}
    assert len(grouped) == len(texts)
    assert all(plain[t] == ids for t, ids in zip(grouped["text"], grouped["input_ids"], strict=True))


def test_smaller_megabatches_trade_padding_for_variety(texts, tiny_tokenizer):
    def waste(dataset):
        lengths = np.asarray(dataset["num_tokens"])
        batches = [lengths[i : i + 8] for i in range(0, len(lengths), 8)]
        return sum(len(b) * b.max() - b.sum() for b in batches)

    wide = tokenize_dataset(texts, tiny_tokenizer, group_by_length=8, megabatch_batches=50)
    narrow = tokenize_dataset(texts, tiny_tokenizer, group_by_length=8, megabatch_batches=1)
    assert sorted(wide["input_ids"]) == sorted(narrow["input_ids"])
    assert waste(wide) < waste(narrow)
    with pytest.raises(ValueError, match="megabatch_batches must be >= 1"):
        tokenize_dataset(texts, tiny_tokenizer, group_by_length=8, megabatch_batches=0)


def test_padding_collator_matches_hf_collator(texts, tiny_tokenizer):
    encoded = tokenize_dataset(texts, tiny_tokenizer)
    features = [encoded[i] for i in range(20)]
    ours = PaddingCollator(tiny_tokenizer)(features)
    theirs = DataCollatorWithPadding(tiny_tokenizer)([{k: v for k, v in f.items() if k != "num_tokens"} for f in features])
    assert set(ours) == set(theirs)
    for key in theirs:
        assert torch.equal(ours[key], theirs[key]), key
    rounded = PaddingCollator(tiny_tokenizer, pad_to_multiple_of=8)(features)
    assert rounded["input_ids"].shape[1] % 8 == 0
    assert torch.equal(rounded["attention_mask"].sum(1), ours["attention_mask"].sum(1))
    with pytest.raises(ValueError, match="empty batch"):
        PaddingCollator(pad_token_id=0)([])
    with pytest.raises(TypeError, match=r"takes the tokenizer.*got int 0.*PaddingCollator\(tokenizer\)"):
        PaddingCollator(0)  # the pad token id alone cannot say on which side to pad
    with pytest.raises(ValueError, match=r"padding_side='middle'.*\('right', 'left'\)"):
        PaddingCollator(pad_token_id=0, padding_side="middle")


@pytest.mark.parametrize("side", ["right", "left"])
def test_padding_honours_the_tokenizers_padding_side(texts, tiny_tokenizer, side):
    """The library's padding collator and transformers' DataCollatorWithPadding give the same batch on either
    side, pad ids and pad_to_multiple_of included (greennlp used to pad on the right whatever the tokenizer said)."""
    encoded = tokenize_dataset(texts, tiny_tokenizer)
    features = [encoded[i] for i in range(12)]
    plain = [{k: v for k, v in f.items() if k != "num_tokens"} for f in features]
    original = tiny_tokenizer.padding_side
    tiny_tokenizer.padding_side = side
    try:
        for multiple in (None, 8):
            ours = PaddingCollator(tiny_tokenizer, pad_to_multiple_of=multiple)(features)
            theirs = DataCollatorWithPadding(tiny_tokenizer, pad_to_multiple_of=multiple)(plain)
            assert set(ours) == set(theirs)
            for key in theirs:
                assert torch.equal(ours[key], theirs[key]), (side, multiple, key)
    finally:
        tiny_tokenizer.padding_side = original
    short = int(np.argmin([len(f["input_ids"]) for f in features]))
    padded_at = 0 if side == "left" else -1
    assert ours["attention_mask"][short, padded_at] == 0 and ours["input_ids"][short, padded_at] == tiny_tokenizer.pad_token_id
    left = pad_columns([{"input_ids": [5, 6]}, {"input_ids": [7]}], {"input_ids": 0}, padding_side="left")
    assert left["input_ids"].tolist() == [[5, 6], [0, 7]] and left["attention_mask"].tolist() == [[1, 1], [0, 1]]
    with pytest.raises(ValueError, match="no pad token"):
        pad_columns([{"input_ids": [5, 6]}, {"input_ids": [7]}], {"input_ids": None})


def test_fine_tune_takes_tokenized_data_and_an_optimizer(texts, tiny_tokenizer):
    data = texts.select(range(64))
    model = load_encoder("tiny", tokenizer=tiny_tokenizer, seed=0)
    optimizer = torch.optim.SGD(model.parameters(), lr=0.05)
    before = [p.detach().clone() for p in model.parameters()]
    trainer = fine_tune(model, tiny_tokenizer, tokenize_dataset(data, tiny_tokenizer), epochs=1, batch_size=16,
                        optimizers=(optimizer, None), bf16=False)
    assert getattr(trainer.optimizer, "optimizer", trainer.optimizer) is optimizer  # accelerate may wrap it
    assert trainer.state.global_step == 4
    assert any(not torch.equal(a, b) for a, b in zip(before, model.parameters(), strict=True))
    with pytest.raises(ValueError, match=r"neither the text column 'text' nor input_ids.*\['sentence', 'label'\]"):
        fine_tune(model, tiny_tokenizer, data.rename_column("text", "sentence"), epochs=1)
    with pytest.raises(ValueError, match=r"optimizers=\.\.\.\) got a SGD; give Trainer's pair \(optimizer, scheduler\)"):
        fine_tune(model, tiny_tokenizer, data, epochs=1, optimizers=optimizer)
    with pytest.raises(ValueError, match="tokenizer=None"):
        fine_tune(model, None, data, epochs=1)


def test_shuffled_batches_keep_grouping_and_lose_the_length_trend():
    lengths = np.random.default_rng(0).integers(3, 60, size=1003)  # 125 full batches of 8 and one of 3
    grouped = length_grouped_order(lengths, 8, seed=1, megabatch_batches=10)
    shuffled = length_grouped_order(lengths, 8, seed=1, megabatch_batches=10, shuffle_batches=True)
    assert sorted(shuffled.tolist()) == list(range(1003))
    assert np.array_equal(shuffled, length_grouped_order(lengths, 8, seed=1, megabatch_batches=10, shuffle_batches=True))

    def batches(index):
        return [index[i : i + 8] for i in range(0, len(index), 8)]

    # the same batches (as sets of rows), the longest first and the partial one last
    assert sorted(map(tuple, map(sorted, batches(grouped)))) == sorted(map(tuple, map(sorted, batches(shuffled))))
    assert lengths[shuffled[0]] == lengths.max() and len(batches(shuffled)[-1]) == 3
    # within a mega-batch the grouped order only gets shorter; the shuffled one goes up and down
    steps = np.diff([lengths[b].max() for b in batches(shuffled)[:-1]])
    assert (steps > 0).sum() > 0.3 * len(steps)
    assert (np.diff([lengths[b].max() for b in batches(grouped)[1:10]]) <= 0).all()


def test_data_tokenized_by_hand_keeps_its_label_column(texts, tiny_tokenizer):
    """A dataset tokenized with the tokenizer's own `map` keeps `label`: the padding collator batches it as
    `labels`, as DataCollatorWithPadding does, so fine_tune trains on it instead of failing for want of a loss."""
    data = texts.select(range(32)).map(lambda batch: tiny_tokenizer(batch["text"], truncation=True), batched=True)
    features = [{k: v for k, v in data[i].items() if k != "text"} for i in range(8)]
    ours, theirs = PaddingCollator(tiny_tokenizer)(features), DataCollatorWithPadding(tiny_tokenizer)(features)
    assert torch.equal(ours["labels"], theirs["labels"]) and ours["labels"].tolist() == data["label"][:8]
    model = load_encoder("tiny", tokenizer=tiny_tokenizer, seed=0)
    trainer = fine_tune(model, tiny_tokenizer, data, epochs=1, batch_size=16, bf16=False)
    assert trainer.state.global_step == 2
