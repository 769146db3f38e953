"""The project's one seeding helper: run a block with torch's generators seeded and give the caller's random
state back afterwards, so that a seeded library call never changes the program's own randomness."""
from __future__ import annotations

import contextlib
import random
from collections.abc import Iterator


@contextlib.contextmanager
def seeded_rng(seed: int | None) -> Iterator[None]:
    """Run the block with torch's generators (CPU and every CUDA device) seeded with ``seed``, then restore the
    states of torch's, Python's and NumPy's global generators as they were before the block.

    Weight initialisation and dropout draw from torch's global generator, and ``transformers.Trainer`` seeds
    Python's, NumPy's and torch's, so restoring all three keeps a seeded call reproducible from ``seed`` alone
    without changing the random state of the program that calls it. ``seed=None`` runs the block on the global
    state, unchanged (it draws from and advances the global generators as any ``torch.nn`` constructor does).
    """
    if seed is None:
        yield
        return
    import numpy as np
    import torch

    python_state, numpy_state = random.getstate(), np.random.get_state()
    devices = list(range(torch.cuda.device_count())) if torch.cuda.is_available() else []
    try:
        with torch.random.fork_rng(devices=devices):
            torch.manual_seed(seed)
            yield
    finally:
        random.setstate(python_state)
        np.random.set_state(numpy_state)
