"""The closed LMX token inventory (Mayer et al., ICDAR 2024), in a fixed order."""

from __future__ import annotations

from fractions import Fraction

STEPS = ("C", "D", "E", "F", "G", "A", "B")

KEY_TOKENS = tuple(f"key:fifths:{n}" for n in range(-7, 8))
TIME_TOKENS = (
    "time",
    *(f"beats:{n}" for n in range(1, 17)),
    *(f"beat-type:{n}" for n in (2, 4, 8, 16)),
)
CLEF_TOKENS = tuple(f"clef:{sign}{line}" for sign in "GCF" for line in range(1, 6))

# Note types from the shortest to the longest; each is twice the one before.
NOTE_TYPES = (
    "1024th", "512th", "256th", "128th", "64th", "32nd", "16th",
    "eighth", "quarter", "half", "whole", "breve", "long", "maxima",
)  # fmt: skip
# Length of each type in quarter notes: 1024th = 1/256, ..., maxima = 32.
TYPE_QUARTERS = {
    t: Fraction(2) ** (i - NOTE_TYPES.index("quarter")) for i, t in enumerate(NOTE_TYPES)
}

# Pitches from the lowest to the highest (C0 .. B9), by step and octave.
PITCH_TOKENS = tuple(f"{step}{octave}" for octave in range(10) for step in STEPS)
VOICE_TOKENS = tuple(f"voice:{n}" for n in range(1, 13))
STAFF_TOKENS = ("staff:1", "staff:2", "staff:3")

# Time modifications "<actual>in<normal>" that occur in the OLiMPiC corpora.
TIME_MODIFICATION_TOKENS = (
    "3in2", "6in4", "2in1", "2in3", "5in4", "7in8", "7in6", "9in8", "4in3", "7in4",
    "4in6", "13in8", "22in16", "10in4", "12in8", "9in4", "10in8", "18in4", "16in8",
    "15in8", "5in3", "11in8", "11in12", "5in2", "8in2", "4in2", "7in1", "35in16", "9in2",
)  # fmt: skip
# Ratios that music21's corpus uses beyond the published inventory. They are
# appended after the published tokens (below) so those keep their order.
EXTRA_TIME_MODIFICATION_TOKENS = ("8in6", "9in6", "13in12")
ACCIDENTAL_TOKENS = (
    "sharp", "flat", "natural", "double-sharp", "flat-flat", "natural-sharp", "natural-flat",
)  # fmt: skip
STEM_TOKENS = ("stem:up", "stem:down", "stem:none")
BEAM_TOKENS = ("beam:begin", "beam:end", "beam:forward-hook", "beam:backward-hook")
TREMOLO_TOKENS = (
    "tremolo:single", "tremolo:start", "tremolo:stop", "tremolo:unmeasured",
    "tremolo:1", "tremolo:2", "tremolo:3", "tremolo:4",
)  # fmt: skip
# The "extended flavour" of LMX: slurs, ornaments and articulations.
EXTENDED_TOKENS = (
    "slur:start", "slur:stop", "fermata", "arpeggiate", "staccato", "accent",
    "strong-accent", "tenuto", "trill-mark", *TREMOLO_TOKENS,
)  # fmt: skip

# A note is written as: prefix tokens, one root token (its type), suffix tokens.
NOTE_PREFIX_TOKENS = (
    "print-object:no", "grace", "grace:slash", "chord",
    *PITCH_TOKENS, "rest", "forward", "backup",
    *VOICE_TOKENS,
)  # fmt: skip
NOTE_ROOT_TOKENS = (*NOTE_TYPES, "rest:measure")
NOTE_SUFFIX_TOKENS = (
    *TIME_MODIFICATION_TOKENS, "dot", *ACCIDENTAL_TOKENS, *STEM_TOKENS, *STAFF_TOKENS,
    *BEAM_TOKENS, "tied:start", "tied:stop", "tuplet:start", "tuplet:stop",
    *EXTENDED_TOKENS,
)  # fmt: skip

LMX_TOKENS: tuple[str, ...] = (
    "measure",
    *KEY_TOKENS,
    *TIME_TOKENS,
    *CLEF_TOKENS,
    *NOTE_PREFIX_TOKENS,
    *NOTE_ROOT_TOKENS,
    *NOTE_SUFFIX_TOKENS,
    *EXTRA_TIME_MODIFICATION_TOKENS,
)

# Tokens dropped by the "SER without tuplets" variant of the metric.
TUPLET_TOKENS = frozenset(
    (*TIME_MODIFICATION_TOKENS, *EXTRA_TIME_MODIFICATION_TOKENS, "tuplet:start", "tuplet:stop")
)
