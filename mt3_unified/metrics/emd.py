"""Earth mover's distance between pitch and duration histograms of LMX.

The audio-to-image task has no aligned reference for each output token, so the
paper compares the *distributions* of what was engraved: how often each pitch
token and each duration (note type) token occurs. Both axes are ordered, so the
1-D EMD between normalized histograms is the L1 distance between their CDFs,
in bins: diatonic steps for pitch (C4 -> D4 is 1), doublings for duration
(eighth -> quarter is 1). `paired_lmx_emd` compares each output with its own
reference and averages (what a random pairing can be measured against);
`lmx_emd` compares two whole sets.
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


def paired_lmx_emd(
    references: Sequence[Sequence[str]], hypotheses: Sequence[Sequence[str]]
) -> dict[str, float | int | None]:
    """Each hypothesis against its own reference, averaged over the pairs with notes.

    {"emd_pitch", "emd_duration"}: means over the pairs where both sides hold at
    least one pitch token (None when no pair does), and {"scored"}: how many did. A
    hypothesis with no notes has no distribution to compare; it is counted out rather
    than given a distance, so that one empty reading cannot outweigh every other pair.
    """
    if len(references) != len(hypotheses):
        raise ValueError(f"{len(references)} references but {len(hypotheses)} hypotheses")
    pitch, duration = [], []
    for ref, hyp in zip(references, hypotheses, strict=True):
        ref_pitch = token_histogram([ref], _PITCH_BIN)
        hyp_pitch = token_histogram([hyp], _PITCH_BIN)
        if not ref_pitch.any() or not hyp_pitch.any():
            continue
        pitch.append(histogram_emd(ref_pitch, hyp_pitch))
        ref_duration = token_histogram([ref], _DURATION_BIN)
        duration.append(histogram_emd(ref_duration, token_histogram([hyp], _DURATION_BIN)))
    return {
        "emd_pitch": float(np.mean(pitch)) if pitch else None,
        "emd_duration": float(np.mean(duration)) if duration else None,
        "scored": len(pitch),
    }
