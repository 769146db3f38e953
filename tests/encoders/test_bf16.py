import pytest

import greennlp.encoders.models as models
from greennlp.encoders.models import bf16_supported, cpu_bf16_speedup


@pytest.mark.parametrize("value, expected", [("1", True), ("yes", True), ("0", False), ("false", False)])
def test_environment_forces_the_cpu_answer(monkeypatch, value, expected):
    monkeypatch.setenv("GREENNLP_CPU_BF16", value)
    monkeypatch.setattr(models, "cpu_bf16_speedup", lambda threads: pytest.fail("must not measure when forced"))
    assert bf16_supported("cpu") is expected


def test_bad_environment_value_names_the_fix(monkeypatch):
    monkeypatch.setenv("GREENNLP_CPU_BF16", "maybe")
    with pytest.raises(ValueError, match="GREENNLP_CPU_BF16='maybe'.*1.*0"):
        bf16_supported("cpu")


@pytest.mark.parametrize("flags, speedup, expected", [
    ("fpu avx2", 5.0, False),                # no bf16 instructions: never measured, never on
    ("fpu avx512f avx512_bf16", 0.56, False),  # instructions present but bf16 slower (AVX512-BF16 without AMX)
    ("fpu avx512_bf16 amx_bf16", 3.0, True),   # measured faster
    ("fpu avx512_bf16", 1.05, False),          # within noise of fp32: not worth the precision
])
def test_cpu_bf16_needs_the_flags_and_a_measured_gain(monkeypatch, flags, speedup, expected):
    monkeypatch.delenv("GREENNLP_CPU_BF16", raising=False)
    monkeypatch.setattr(models.Path, "read_text", lambda self, *a, **k: flags)
    monkeypatch.setattr(models, "cpu_bf16_speedup", lambda threads: speedup)
    assert bf16_supported("cpu") is expected


def test_cpu_bf16_speedup_is_a_positive_ratio_and_cached():
    first = cpu_bf16_speedup(1, size=64, repeats=2)
    assert first > 0
    assert cpu_bf16_speedup(1, size=64, repeats=2) == first


def test_other_devices_are_not_bf16():
    assert bf16_supported("meta") is False
