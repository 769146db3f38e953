"""Int8 weight quantization for CPU inference: ``torch.ao`` dynamic quantization of every ``nn.Linear``
(weights stored in int8, activations quantized on the fly), the variant the installed PyTorch supports.

PyTorch deprecates ``torch.ao.quantization`` in favour of torchao. greennlp stays on ``torch.ao`` for now, by
measurement: torchao's ``quantize_(model, Int8DynamicActivationInt8WeightConfig())`` on the same fine-tuned
encoder, timed alternately with it in one run on a CPU, is slower than fp32 while ``torch.ao``'s int8 is faster,
at the same accuracy (docs/results/encoders.md, "int8 backends"; ``scripts/bench_int8.py``). torchao targets
GPUs and ``torch.compile``; on a GPU use it directly. ``quantize_int8`` raises a clear error on a PyTorch that
no longer ships ``torch.ao`` dynamic quantization."""
from __future__ import annotations

import copy
import io

import torch
from accelerate.utils import extract_model_from_parallel


def quantize_int8(model: torch.nn.Module, inplace: bool = False) -> torch.nn.Module:
    """Return ``model`` with its ``nn.Linear`` layers replaced by dynamically quantized int8 layers.

    For inference on CPU only (the quantized layers have no backward). Embeddings and layer norms stay in
    float32. Measure the accuracy change on your dev set before shipping; see ``docs/encoders.md``.

    Parameters
    ----------
    model : torch.nn.Module
        The model to quantize; its parameters must be on the CPU.
    inplace : bool
        ``False`` (default): quantize a deep copy and leave ``model`` as it is. ``True``: quantize ``model``
        itself (cast to float32, put in eval mode, its ``nn.Linear`` layers replaced), saving the copy's memory.
    """
    if not hasattr(torch, "ao") or not hasattr(torch.ao.quantization, "quantize_dynamic"):
        raise RuntimeError(
            f"torch {torch.__version__} has no torch.ao.quantization.quantize_dynamic; install torchao or a "
            "PyTorch release that ships dynamic quantization."
        )
    if next(model.parameters()).device.type != "cpu":
        raise ValueError("quantize_int8() quantizes for CPU inference: move the model to CPU first (model.cpu()).")
    target = model if inplace else copy.deepcopy(model)
    # a model trained by Trainer with bf16/fp16 has its forward wrapped in autocast by accelerate: unwrap it,
    # since the int8 kernels take float32 activations
    target = extract_model_from_parallel(target, keep_fp32_wrapper=False)
    target.eval()
    return torch.ao.quantization.quantize_dynamic(target.float(), {torch.nn.Linear}, dtype=torch.qint8, inplace=True)


def model_size_mb(model: torch.nn.Module) -> float:
    """Size of ``model``'s state dict when serialized (MB); counts packed int8 weights correctly."""
    buffer = io.BytesIO()
    torch.save(model.state_dict(), buffer)
    return buffer.getbuffer().nbytes / 2**20
