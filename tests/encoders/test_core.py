import pytest
import torch

from greennlp.encoders import (
    efficient_training_args,
    embed,
    load_benchmark,
    load_encoder,
    train_wordpiece_tokenizer,
)
from greennlp.encoders.models import MINIATURE_SIZES


def test_miniature_sizes_follow_turc_et_al(tiny_tokenizer):
    for size, (layers, hidden) in MINIATURE_SIZES.items():
        model = load_encoder(size, num_labels=3, tokenizer=tiny_tokenizer)
        assert model.config.num_hidden_layers == layers
        assert model.config.hidden_size == hidden
        assert model.config.vocab_size == len(tiny_tokenizer)
        assert model.config.num_labels == 3
        assert model.config._attn_implementation == "sdpa"


def test_mlm_task_and_errors(tiny_tokenizer):
    model = load_encoder("tiny", task="mlm", tokenizer=tiny_tokenizer)
    assert type(model).__name__ == "BertForMaskedLM"
    with pytest.raises(ValueError, match="needs `tokenizer=`"):
        load_encoder("tiny")
    with pytest.raises(ValueError, match="Unknown task"):
        load_encoder("tiny", task="regression", tokenizer=tiny_tokenizer)


def test_tokenizer_is_bert_like(tiny_tokenizer):
    encoded = tiny_tokenizer("a good film", return_offsets_mapping=True)
    assert encoded["input_ids"][0] == tiny_tokenizer.cls_token_id
    assert encoded["input_ids"][-1] == tiny_tokenizer.sep_token_id
    assert tiny_tokenizer.pad_token_id is not None and tiny_tokenizer.mask_token_id is not None


def test_embed_keeps_input_order_and_normalises(tiny_tokenizer, device):
    model = load_encoder("tiny", tokenizer=tiny_tokenizer, seed=0).to(device)
    texts = ["a much longer sentence about a good film", "bad", "the plot"]
    vectors = embed(texts, model, tiny_tokenizer, batch_size=2)
    assert vectors.shape == (3, 128)
    torch.testing.assert_close(torch.from_numpy(vectors).norm(dim=1), torch.ones(3))
    single = embed([texts[1]], model, tiny_tokenizer)
    torch.testing.assert_close(torch.from_numpy(single[0]), torch.from_numpy(vectors[1]), atol=1e-5, rtol=1e-4)


def test_efficient_training_args(tmp_path, monkeypatch):
    args = efficient_training_args(str(tmp_path), num_train_epochs=2)
    assert args.train_sampling_strategy == "group_by_length"
    assert args.num_train_epochs == 2
    assert efficient_training_args(str(tmp_path), bf16=False).bf16 is False
    # use_cpu=True on a machine with a GPU: the settings are the CPU's (no bf16 there unless it pays, no workers)
    monkeypatch.setenv("GREENNLP_CPU_BF16", "0")
    on_cpu = efficient_training_args(str(tmp_path), use_cpu=True)
    assert on_cpu.device.type == "cpu" and on_cpu.bf16 is False and on_cpu.dataloader_num_workers == 0


def test_fine_tune_trains_and_predicts_on_the_device(tiny_tokenizer, device):
    from datasets import Dataset
    from synthetic import synthetic_sentiment

    from greennlp.encoders import accuracy, fine_tune
    from greennlp.encoders.finetune import predict_proba

    train = Dataset.from_dict(synthetic_sentiment(64, seed=3))
    model = load_encoder("tiny", num_labels=2, tokenizer=tiny_tokenizer, seed=0)
    trainer = fine_tune(model, tiny_tokenizer, train, epochs=1, batch_size=16, learning_rate=1e-3, bf16=False,
                        max_length=32, use_cpu=device == "cpu")
    assert trainer.model.device.type == torch.device(device).type
    probabilities = predict_proba(trainer.model, tiny_tokenizer, train["text"][:10], batch_size=4)
    assert probabilities.shape == (10, 2)
    torch.testing.assert_close(torch.from_numpy(probabilities).sum(1), torch.ones(10, dtype=torch.float64))
    assert 0 <= accuracy(trainer.model, tiny_tokenizer, train) <= 1


def test_load_benchmark_from_shared_data(shared_data):
    dev = load_benchmark("sst2", "dev", shared_data)
    assert len(dev) == 872 and set(dev["label"]) == {0, 1}
    assert len(load_benchmark("cr", "all", shared_data)) == 3771
    assert len(load_benchmark("trec", "test", shared_data)) == 500
    small = load_benchmark("sst2", "train", shared_data, limit=100, seed=1)
    assert len(small) == 100 and small["text"] == load_benchmark("sst2", "train", shared_data, limit=100, seed=1)["text"]


def test_load_benchmark_errors(tmp_path):
    with pytest.raises(ValueError, match="Unknown benchmark"):
        load_benchmark("glue")
    with pytest.raises(FileNotFoundError, match="does not exist"):
        load_benchmark("sst2", data_dir_path=tmp_path / "missing")
    with pytest.raises(ValueError, match="has splits"):
        load_benchmark("cr", "train", tmp_path)


def test_train_wordpiece_tokenizer_vocab_size():
    tokenizer = train_wordpiece_tokenizer(["hello world"] * 10, vocab_size=50)
    assert len(tokenizer) <= 50


def test_seeded_load_leaves_the_callers_rng_alone(tiny_tokenizer):
    torch.manual_seed(123)
    expected = torch.rand(3)
    torch.manual_seed(123)
    first = load_encoder("tiny", num_labels=2, tokenizer=tiny_tokenizer, seed=7)
    assert torch.equal(torch.rand(3), expected)  # the global stream continues as if nothing had been built
    second = load_encoder("tiny", num_labels=2, tokenizer=tiny_tokenizer, seed=7)
    assert all(torch.equal(a, b) for a, b in zip(first.state_dict().values(), second.state_dict().values(), strict=True))
    other = load_encoder("tiny", num_labels=2, tokenizer=tiny_tokenizer, seed=8)
    assert not torch.equal(first.classifier.weight, other.classifier.weight)
    with pytest.raises(TypeError):
        load_encoder("tiny", 2, tokenizer=tiny_tokenizer)  # options are keyword-only
