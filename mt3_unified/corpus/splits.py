"""Split names and the hash split that assigns a piece (never a system) to one of them."""

from __future__ import annotations

import hashlib

SPLITS = ("train", "validation", "test")
# The test pieces again, rendered in a style no training example uses (synthetic corpus).
HELDOUT_SPLIT = "test_heldout"


def split_by_hash(key: str, validation: int = 10, test: int = 10) -> str:
    """train/validation/test by a hash of ``key``, with the given percentages.

    The hash's bucket (0-99) fills train first, then validation, then test: 80/10/10
    by default, as the synthetic corpus has always split its pieces.
    """
    bucket = int.from_bytes(hashlib.sha256(key.encode()).digest()[:4], "big") % 100
    if bucket < 100 - validation - test:
        return "train"
    return "validation" if bucket < 100 - test else "test"
