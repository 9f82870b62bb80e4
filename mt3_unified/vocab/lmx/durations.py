"""Note lengths in LMX terms: forward/backup lengths as types, a type inferred from a length."""

from __future__ import annotations

from fractions import Fraction

from mt3_unified.vocab.lmx.tokens import NOTE_TYPES, TIME_MODIFICATION_TOKENS, TYPE_QUARTERS

_RATIOS = tuple(
    (token, Fraction(int(token.split("in")[0]), int(token.split("in")[1])))
    for token in TIME_MODIFICATION_TOKENS
)
# Ratios such as 2in1 or 4in3 keep a type's length a whole number of 1024ths, so a
# forward/backup written with them would read back as plain types: never use them there.
_SHIFT_RATIOS = tuple((t, r) for t, r in _RATIOS if r.numerator & (r.numerator - 1))
# Typed durations in quarters -> (type, dots); fewer dots win when two agree.
_TYPED_QUARTERS: dict[Fraction, tuple[str, int]] = {}
for _dots in range(4):
    for _type in NOTE_TYPES:
        _TYPED_QUARTERS.setdefault(
            TYPE_QUARTERS[_type] * (2 - Fraction(1, 2**_dots)), (_type, _dots)
        )
_SMALLEST = TYPE_QUARTERS[NOTE_TYPES[0]]
_LARGEST = TYPE_QUARTERS[NOTE_TYPES[-1]]


def duration_to_types(quarters: Fraction) -> list[tuple[str, str | None]]:
    """Splits a forward/backup length into (type, time-modification) steps, largest first.

    Dyadic lengths are split greedily into plain types; other lengths use the single
    inventory tuplet ratio that needs the fewest steps. What neither can express is
    rounded to the 1024th grid, so the result is always a finite list.
    """
    if quarters <= 0:
        return []
    if _is_dyadic(quarters):
        return [(t, None) for t in _greedy_types(quarters)]
    best: list[tuple[str, str | None]] | None = None
    for token, ratio in _SHIFT_RATIOS:
        base = quarters * ratio
        if _is_dyadic(base):
            steps = [(t, token) for t in _greedy_types(base)]
            if best is None or len(steps) < len(best):
                best = steps
    if best is not None:
        return best
    rounded = Fraction(round(quarters / _SMALLEST)) * _SMALLEST
    return [(t, None) for t in _greedy_types(rounded)]


def _is_dyadic(value: Fraction) -> bool:
    """True when the value is a whole number of 1024th notes (a sum of plain types)."""
    return (value / _SMALLEST).denominator == 1


def _greedy_types(quarters: Fraction) -> list[str]:
    types: list[str] = []
    remainder = quarters
    while remainder >= _LARGEST:  # longer than a maxima: repeat maximas
        types.append(NOTE_TYPES[-1])
        remainder -= _LARGEST
    for note_type in reversed(NOTE_TYPES):
        if remainder >= TYPE_QUARTERS[note_type]:
            types.append(note_type)
            remainder -= TYPE_QUARTERS[note_type]
    return types


def infer_type(quarters: Fraction, ratio: Fraction | None) -> tuple[str, int, str | None] | None:
    """(type, dots, time-modification token) of a note that lacks <type>, from its length.

    Plain types (up to three dots) come first, then inventory tuplets with at most one
    dot, in inventory order, so that the commonest reading wins.
    """
    if ratio is not None:
        found = _TYPED_QUARTERS.get(quarters * ratio)
        return (found[0], found[1], None) if found else None
    found = _TYPED_QUARTERS.get(quarters)
    if found:
        return found[0], found[1], None
    for max_dots in (0, 1):
        for token, inventory_ratio in _RATIOS:
            found = _TYPED_QUARTERS.get(quarters * inventory_ratio)
            if found and found[1] <= max_dots:
                return found[0], found[1], token
    return None
