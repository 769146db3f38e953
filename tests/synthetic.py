"""Synthetic data for tests: small, learnable and deterministic."""
from __future__ import annotations

import random

WORDS_POSITIVE = "good great fine lovely superb wonderful brilliant moving charming".split()
WORDS_NEGATIVE = "bad awful dull boring poor terrible weak tedious clumsy".split()
WORDS_NEUTRAL = "the film movie plot actor story scene a an is was it this and of".split()


def synthetic_sentiment(n: int, seed: int = 0) -> dict[str, list]:
    """A learnable two-class task: sentences with positive or negative cue words among neutral ones."""
    rng = random.Random(seed)
    texts, labels = [], []
    for _ in range(n):
        label = rng.randint(0, 1)
        cues = WORDS_POSITIVE if label else WORDS_NEGATIVE
        words = rng.choices(WORDS_NEUTRAL, k=rng.randint(3, 12)) + rng.choices(cues, k=rng.randint(1, 2))
        rng.shuffle(words)
        texts.append(" ".join(words))
        labels.append(label)
    return {"text": texts, "label": labels}
