"""Earth mover's distance between pitch and duration histograms of two LMX sets.

The audio-to-image task has no aligned reference for each output token, so the
paper compares the *distributions* of what was engraved: how often each pitch
token and each duration (note type) token occurs. Both axes are ordered, so the
1-D EMD between normalized histograms is the L1 distance between their CDFs,
in bins: diatonic steps for pitch (C4 -> D4 is 1), doublings for duration
(eighth -> quarter is 1).
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence

import numpy as np

from mt3_unified.vocab.lmx.tokens import NOTE_TYPES, PITCH_TOKENS

_PITCH_BIN = {t: i for i, t in enumerate(PITCH_TOKENS)}
_DURATION_BIN = {t: i for i, t in enumerate(NOTE_TYPES)}


def token_histogram(token_sets: Iterable[Sequence[str]], bins: dict[str, int]) -> np.ndarray:
    """Counts of the tokens listed in `bins` over every sequence of a set."""
    counts = np.zeros(len(bins), dtype=np.int64)
    for tokens in token_sets:
        tokens = tokens.split() if isinstance(tokens, str) else tokens
        for t in tokens:
            if t in bins:
                counts[bins[t]] += 1
    return counts


def histogram_emd(a: np.ndarray, b: np.ndarray) -> float:
    """EMD between two count histograms over the same ordered, unit-spaced bins.

    Both empty: 0. One empty: the largest possible distance (number of bins
    minus one), so that an output with no notes is never rewarded.
    """
    a = np.asarray(a, dtype=np.float64)
    b = np.asarray(b, dtype=np.float64)
    if a.shape != b.shape:
        raise ValueError(f"histograms differ in shape: {a.shape} vs {b.shape}")
    sa, sb = a.sum(), b.sum()
    if sa == 0 and sb == 0:
        return 0.0
    if sa == 0 or sb == 0:
        return float(len(a) - 1)
    return float(np.abs(np.cumsum(a / sa) - np.cumsum(b / sb))[:-1].sum())


def lmx_emd(
    references: Iterable[Sequence[str]], hypotheses: Iterable[Sequence[str]]
) -> dict[str, float]:
    """{"emd_pitch", "emd_duration"} between a reference and a generated LMX set."""
    refs, hyps = list(references), list(hypotheses)
    return {
        "emd_pitch": histogram_emd(
            token_histogram(refs, _PITCH_BIN), token_histogram(hyps, _PITCH_BIN)
        ),
        "emd_duration": histogram_emd(
            token_histogram(refs, _DURATION_BIN), token_histogram(hyps, _DURATION_BIN)
        ),
    }
