"""One place for the optional datatrove dependency: the message that says how to install it."""
from __future__ import annotations

MISSING_DATATROVE = ("greennlp.scale's pipeline steps run on datatrove, which is not installed. "
                     "Install it with `pip install greennlp[scale]` (or `pip install 'datatrove>=0.10'`).")
