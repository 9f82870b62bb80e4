"""The LMX token grammar for delinearization: tokens grouped into measures and notes, with repair.

Internal to lmx_to_musicxml (see writer.py): what a malformed sequence gets wrong
is dropped or fixed here and counted in a RepairReport.
"""

from __future__ import annotations

import functools
import re
from collections import Counter
from dataclasses import dataclass, field
from fractions import Fraction

from mt3_unified.vocab.lmx.tokens import (
    CLEF_TOKENS,
    KEY_TOKENS,
    NOTE_PREFIX_TOKENS,
    NOTE_ROOT_TOKENS,
    NOTE_SUFFIX_TOKENS,
    TYPE_QUARTERS,
)

# Ratios outside the closed inventory still have an obvious meaning; accept sane ones.
_RATIO_PATTERN = re.compile(r"^([1-9][0-9]{0,2})in([1-9][0-9]{0,2})$")
_PREFIXES = frozenset(NOTE_PREFIX_TOKENS)
_ROOTS = frozenset(NOTE_ROOT_TOKENS)
ATTRIBUTE_ROOTS = frozenset(("time", *KEY_TOKENS, *CLEF_TOKENS))
_TIME_SUFFIXES = frozenset(("beats", "beat-type"))
_ORNAMENTS = ("fermata", "arpeggiate", "staccato", "accent", "strong-accent", "tenuto")
_FLAGS = frozenset((*_ORNAMENTS, "trill-mark", "dot"))
_NOTE_SUFFIXES = frozenset(NOTE_SUFFIX_TOKENS)
ACCIDENTAL_ALTERS = {
    "sharp": 1, "flat": -1, "natural": 0, "double-sharp": 2, "flat-flat": -2,
    "natural-sharp": 1, "natural-flat": -1,
}  # fmt: skip


@dataclass
class RepairReport:
    """What lmx_to_musicxml changed to make the token sequence a valid score, by kind.

    `counts` are repairs (the output no longer says exactly what the tokens said);
    `notices` are irregularities left in place because MusicXML allows them, such as a
    tie or beam still open at the end (real scores and single systems have those).
    """

    counts: Counter = field(default_factory=Counter)
    notices: Counter = field(default_factory=Counter)

    def add(self, kind: str, count: int = 1) -> None:
        if count:
            self.counts[kind] += count

    def notice(self, kind: str, count: int = 1) -> None:
        if count:
            self.notices[kind] += count

    @property
    def total(self) -> int:
        return sum(self.counts.values())

    def __bool__(self) -> bool:
        return self.total > 0


@dataclass
class Item:
    """One measure item: a root token with the prefix and suffix tokens around it."""

    root: str
    prefixes: list[str] = field(default_factory=list)
    suffixes: list[str] = field(default_factory=list)


def is_ratio_token(token: str) -> bool:
    """True for time-modification tokens such as "3in2" (inventory or not)."""
    match = _RATIO_PATTERN.match(token)
    return bool(match) and match.group(1) != match.group(2)


# ---------------------------------------------------------------- parsing


def group_measures(tokens: list, report: RepairReport) -> list[list[Item]]:
    """Splits the sequence at "measure" and attaches prefixes and suffixes to their roots."""
    measures: list[list[Item]] = []
    items: list[Item] | None = None
    prefixes: list[str] = []
    current: Item | None = None
    for token in tokens:
        if not isinstance(token, str):
            report.add("unknown_token")
            continue
        if token == "measure":
            report.add("dangling_prefix", len(prefixes))
            prefixes, current, items = [], None, []
            measures.append(items)
            continue
        kind = _token_kind(token)
        if kind == "unknown":
            report.add("unknown_token")
            continue
        if items is None:  # the model forgot the opening "measure": start one for it
            report.add("missing_measure_token")
            items = []
            measures.append(items)
        if kind == "prefix":
            prefixes.append(token)
        elif kind == "root":
            current = Item(token, prefixes)
            prefixes = []
            items.append(current)
        elif kind == "attribute":
            report.add("dangling_prefix", len(prefixes))
            prefixes, current = [], Item(token)
            items.append(current)
        elif current is None:
            report.add("dangling_suffix")
        else:
            current.suffixes.append(token)
    report.add("dangling_prefix", len(prefixes))
    return measures


def _token_kind(token: str) -> str:
    if token in _PREFIXES:
        return "prefix"
    if token in _ROOTS:
        return "root"
    if token in ATTRIBUTE_ROOTS:
        return "attribute"
    if token in _NOTE_SUFFIXES or is_ratio_token(token):
        return "suffix"
    name, _, value = token.partition(":")
    if name in _TIME_SUFFIXES and value.isdigit() and 0 < int(value) <= 99:
        return "suffix"
    return "unknown"


@functools.lru_cache(maxsize=4096)
def typed_quarters(note_type: str, dots: int, ratio: str | None) -> Fraction:
    """Quarters of a type with dots and time modification (cached: Fractions are slow)."""
    quarters = TYPE_QUARTERS[note_type] * (2 - Fraction(1, 2**dots))
    return quarters * ratio_fraction(ratio) if ratio else quarters


def ratio_fraction(token: str) -> Fraction:
    """normal/actual: how much a time modification shortens a note."""
    actual, normal = token.split("in")
    return Fraction(int(normal), int(actual))


@dataclass
class NoteSuffixes:
    """A note's suffix tokens, sorted by kind; extra copies of single-valued ones dropped."""

    ratio: str | None = None
    dots: int = 0
    accidental: str | None = None
    stem: str | None = None
    staff: str | None = None
    beams: list[str] = field(default_factory=list)
    ordered: list[str] = field(default_factory=list)  # ties, tuplets and slurs, in order
    slurs: list[str] = field(default_factory=list)
    tuplets: list[str] = field(default_factory=list)
    flags: set[str] = field(default_factory=set)
    tremolo: tuple[str, str] | None = None

    @classmethod
    def collect(cls, tokens: list[str], report: RepairReport) -> NoteSuffixes:
        suffixes = cls()
        tremolo_kind = tremolo_marks = None
        for token in tokens:
            if token == "dot":
                suffixes.dots += 1
            elif token.startswith("beam:"):
                suffixes.beams.append(token)
            elif token.startswith(("tied:", "slur:", "tuplet:")):
                suffixes.ordered.append(token)
                if token.startswith("slur:"):
                    suffixes.slurs.append(token)
                elif token.startswith("tuplet:"):
                    suffixes.tuplets.append(token)
            elif token.startswith("tremolo:"):
                value = token[8:]
                if value.isdigit():
                    tremolo_marks = tremolo_marks or value
                else:
                    tremolo_kind = tremolo_kind or value
            elif not suffixes._set_single(token):
                report.add("misplaced_token")
        if suffixes.dots > 4:
            report.add("too_many_dots", suffixes.dots - 4)
            suffixes.dots = 4
        if tremolo_kind or tremolo_marks:
            if not (tremolo_kind and tremolo_marks):
                report.add("incomplete_tremolo")
            suffixes.tremolo = (tremolo_kind or "single", tremolo_marks or "3")
        return suffixes

    def _set_single(self, token: str) -> bool:
        """Stores a single-valued suffix; False if it is a duplicate or not a note suffix."""
        if token in _FLAGS:
            self.flags.add(token)
            return True
        if is_ratio_token(token):
            slot, value = "ratio", token
        elif token in ACCIDENTAL_ALTERS:
            slot, value = "accidental", token
        elif token.startswith("stem:"):
            slot, value = "stem", token[5:]
        elif token.startswith("staff:"):
            slot, value = "staff", token[6:]
        else:
            return False
        if getattr(self, slot) is not None:
            return False
        setattr(self, slot, value)
        return True
