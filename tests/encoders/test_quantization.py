import torch
from synthetic import synthetic_sentiment

from greennlp.encoders import load_encoder, quantize_int8
from greennlp.encoders.quantization import model_size_mb


def test_int8_model_is_smaller_and_agrees(tiny_tokenizer):
    model = load_encoder("mini", num_labels=2, tokenizer=tiny_tokenizer, seed=0).eval()
    quantized = quantize_int8(model)
    assert type(quantized.bert.encoder.layer[0].attention.self.query).__module__.startswith("torch.ao.nn.quantized")
    assert isinstance(model.bert.encoder.layer[0].attention.self.query, torch.nn.Linear)  # original untouched
    assert model_size_mb(quantized) < 0.5 * model_size_mb(model)
    batch = tiny_tokenizer(synthetic_sentiment(64, seed=4)["text"], padding=True, return_tensors="pt")
    with torch.no_grad():
        reference, approximate = model(**batch).logits, quantized(**batch).logits
    assert (reference.argmax(-1) == approximate.argmax(-1)).float().mean() >= 0.95
    assert torch.allclose(reference, approximate, atol=0.05)


def test_int8_unwraps_trainer_autocast(tiny_tokenizer):
    from accelerate.utils.operations import convert_outputs_to_fp32

    model = load_encoder("tiny", num_labels=2, tokenizer=tiny_tokenizer, seed=0)
    # what accelerate does to a model trained with bf16: forward runs under autocast
    model._original_forward = model.forward
    model.forward = convert_outputs_to_fp32(torch.autocast("cpu", dtype=torch.bfloat16)(model.forward.__func__).__get__(model))
    quantized = quantize_int8(model)
    batch = tiny_tokenizer(["a good film", "bad plot"], padding=True, return_tensors="pt")
    assert quantized(**batch).logits.dtype == torch.float32


def test_accuracy_of_an_int8_model_where_bf16_measures_faster(tiny_tokenizer, monkeypatch):
    """predict_proba autocasts to bf16 where bf16 measures faster; int8 layers take float32 and must not be
    autocast (they raised 'expected scalar type Float but found BFloat16')."""
    from datasets import Dataset

    import greennlp.encoders.finetune as finetune
    from greennlp.encoders import accuracy

    monkeypatch.setattr(finetune, "bf16_supported", lambda device=None: True)
    model = load_encoder("tiny", num_labels=2, tokenizer=tiny_tokenizer, seed=0).eval()
    data = Dataset.from_dict(synthetic_sentiment(16, seed=3))
    assert accuracy(quantize_int8(model), tiny_tokenizer, data, per_example=True).shape == (16,)
