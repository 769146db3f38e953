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
