"""Symbol error rate of LMX token sequences (OMR's main metric): whole, without tuplets,
and with pitches masked (what a reader gets right of everything but the pitches)."""

from __future__ import annotations

from collections.abc import Iterable, Sequence

import editdistance

from mt3_unified.vocab.lmx.tokens import PITCH_TOKENS, TUPLET_TOKENS

Tokens = Sequence[str] | str
_PITCHES = frozenset(PITCH_TOKENS)
# Every pitch token reads as this one symbol when pitches are masked.
PITCH_MASK = "<pitch>"


def _as_tokens(seq: Tokens) -> list[str]:
    return seq.split() if isinstance(seq, str) else list(seq)


def _drop_tuplets(tokens: list[str]) -> list[str]:
    return [t for t in tokens if t not in TUPLET_TOKENS]


def _mask_pitches(tokens: list[str]) -> list[str]:
    return [PITCH_MASK if t in _PITCHES else t for t in tokens]


def edit_distance(reference: Tokens, hypothesis: Tokens) -> int:
    """Levenshtein distance between two token sequences (unit costs)."""
    return editdistance.eval(_as_tokens(reference), _as_tokens(hypothesis))


def symbol_error_rate(
    references: Iterable[Tokens],
    hypotheses: Iterable[Tokens],
    *,
    ignore_tuplets: bool = False,
    mask_pitches: bool = False,
) -> float:
    """100 * sum of edit distances / sum of reference lengths over a set of examples.

    Summing before dividing (rather than averaging per-example rates) is the
    convention of Mayer et al. and of the unified-translation paper, so long
    systems weigh more than short ones. ``mask_pitches`` reads every pitch token
    (step and octave, e.g. C4) as one symbol on both sides: a wrong pitch costs
    nothing, a missing or extra note still does.
    """
    refs = [_as_tokens(r) for r in references]
    hyps = [_as_tokens(h) for h in hypotheses]
    if len(refs) != len(hyps):
        raise ValueError(f"{len(refs)} references but {len(hyps)} hypotheses")
    if ignore_tuplets:
        refs = [_drop_tuplets(r) for r in refs]
        hyps = [_drop_tuplets(h) for h in hyps]
    if mask_pitches:
        refs = [_mask_pitches(r) for r in refs]
        hyps = [_mask_pitches(h) for h in hyps]
    total_length = sum(len(r) for r in refs)
    if total_length == 0:
        raise ValueError("SER is undefined: every reference is empty")
    errors = sum(editdistance.eval(r, h) for r, h in zip(refs, hyps, strict=True))
    return 100.0 * errors / total_length


def ser_metrics(references: Iterable[Tokens], hypotheses: Iterable[Tokens]) -> dict[str, float]:
    """The SER variants, named as reported: {"ser", "ser_no_tuplets", "ser_pitch_masked"}."""
    refs, hyps = list(references), list(hypotheses)
    return {
        "ser": symbol_error_rate(refs, hyps),
        "ser_no_tuplets": symbol_error_rate(refs, hyps, ignore_tuplets=True),
        "ser_pitch_masked": symbol_error_rate(refs, hyps, mask_pitches=True),
    }
