"""The devices the tests move tensors to: the CPU always, CUDA where torch sees a GPU. The ``device`` fixture
(tests/conftest.py) runs a test once per device and marks the CUDA case ``gpu``, so that ``pytest -m gpu`` runs the
GPU cases alone; on a machine without a GPU they do not exist. ``GREENNLP_TEST_DEVICES=cpu,cuda`` overrides the
list (to list the GPU cases where there is no GPU: ``pytest -m gpu --collect-only``)."""
from __future__ import annotations

import os

import pytest
import torch


def available_devices() -> list[str]:
    forced = [name.strip() for name in os.environ.get("GREENNLP_TEST_DEVICES", "").split(",") if name.strip()]
    if forced:
        return forced
    return ["cpu", "cuda"] if torch.cuda.is_available() else ["cpu"]


DEVICES = available_devices()


def device_params() -> list:
    """``pytest.param`` per device, the ones other than the CPU marked ``gpu``."""
    return [pytest.param(name, id=name, marks=() if name == "cpu" else pytest.mark.gpu) for name in DEVICES]


def to_device(batch: dict, device: str) -> dict:
    """A batch (a dict of tensors, as collators return) on ``device``; values that are not tensors stay."""
    return {key: value.to(device) if isinstance(value, torch.Tensor) else value for key, value in batch.items()}
