"""Symbol error rate of LMX token sequences (OMR's main metric), with and without tuplets."""

from __future__ import annotations

from collections.abc import Iterable, Sequence

import editdistance

from mt3_unified.vocab.lmx.tokens import TUPLET_TOKENS

Tokens = Sequence[str] | str


def _as_tokens(seq: Tokens) -> list[str]:
    return seq.split() if isinstance(seq, str) else list(seq)


def _drop_tuplets(tokens: list[str]) -> list[str]:
    return [t for t in tokens if t not in TUPLET_TOKENS]


def edit_distance(reference: Tokens, hypothesis: Tokens) -> int:
    """Levenshtein distance between two token sequences (unit costs)."""
    return editdistance.eval(_as_tokens(reference), _as_tokens(hypothesis))


def symbol_error_rate(
    references: Iterable[Tokens], hypotheses: Iterable[Tokens], *, ignore_tuplets: bool = False
) -> float:
    """100 * sum of edit distances / sum of reference lengths over a set of examples.

    Summing before dividing (rather than averaging per-example rates) is the
    convention of Mayer et al. and of the unified-translation paper, so long
    systems weigh more than short ones.
    """
    refs = [_as_tokens(r) for r in references]
    hyps = [_as_tokens(h) for h in hypotheses]
    if len(refs) != len(hyps):
        raise ValueError(f"{len(refs)} references but {len(hyps)} hypotheses")
    if ignore_tuplets:
        refs = [_drop_tuplets(r) for r in refs]
        hyps = [_drop_tuplets(h) for h in hyps]
    total_length = sum(len(r) for r in refs)
    if total_length == 0:
        raise ValueError("SER is undefined: every reference is empty")
    errors = sum(editdistance.eval(r, h) for r, h in zip(refs, hyps, strict=True))
    return 100.0 * errors / total_length


def ser_metrics(references: Iterable[Tokens], hypotheses: Iterable[Tokens]) -> dict[str, float]:
    """Both SER variants, named as reported: {"ser": ..., "ser_no_tuplets": ...}."""
    refs, hyps = list(references), list(hypotheses)
    return {
        "ser": symbol_error_rate(refs, hyps),
        "ser_no_tuplets": symbol_error_rate(refs, hyps, ignore_tuplets=True),
    }
