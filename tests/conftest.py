"""Shared fixtures: everything offline, seeded and small enough for 2 CPU cores."""
from __future__ import annotations

import os
import random
import sys
from pathlib import Path

os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("HF_DATASETS_OFFLINE", "1")
os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")

import numpy as np  # noqa: E402
import pytest  # noqa: E402
import torch  # noqa: E402

REPO = Path(__file__).resolve().parents[1]
SHARED_DATA = REPO.parent / "shared" / "data"

from devices import device_params  # noqa: E402
from synthetic import synthetic_sentiment  # noqa: E402,F401  (re-exported for tests)


@pytest.fixture(params=device_params())
def device(request) -> str:
    """Where a test moves its tensors: "cpu", and "cuda" (marked ``gpu``) where a CUDA GPU is present."""
    return request.param


@pytest.fixture(autouse=True)
def _seed_everything():
    random.seed(0)
    np.random.seed(0)
    torch.manual_seed(0)


@pytest.fixture(scope="session")
def tiny_tokenizer():
    from greennlp.encoders import train_wordpiece_tokenizer

    return train_wordpiece_tokenizer(synthetic_sentiment(500)["text"], vocab_size=200)


@pytest.fixture(scope="session")
def shared_data() -> Path:
    path = Path(os.environ.get("GREENNLP_DATA_DIR", SHARED_DATA))
    if not (path / "sst2").is_dir():
        pytest.skip("real data not found: set GREENNLP_DATA_DIR to the folder holding sst2/")
    return path


@pytest.fixture(autouse=True)
def _close_pyplot_figures():
    """No test leaves a pyplot figure open for the next one (tests check that greennlp's plots stay out of pyplot)."""
    yield
    if "matplotlib.pyplot" in sys.modules:
        sys.modules["matplotlib.pyplot"].close("all")
