"""Linearized MusicXML (LMX, Mayer et al. ICDAR 2024): MusicXML <-> LMX token lists.

`linearize` reads MusicXML into tokens (with `xml_io`'s safe reading and `prune`'s
shortcut), `writer` writes tokens back as MusicXML (with `grammar`'s repairs and
`measure`'s per-bar writing); `tokens` is the closed token inventory.
"""

from mt3_unified.vocab.lmx.durations import duration_to_types
from mt3_unified.vocab.lmx.grammar import RepairReport
from mt3_unified.vocab.lmx.linearize import (
    first_divisions,
    linearize_part,
    list_parts,
    musicxml_to_lmx,
    musicxml_to_lmx_parts,
)
from mt3_unified.vocab.lmx.prune import prune_for_lmx
from mt3_unified.vocab.lmx.tokens import LMX_TOKENS
from mt3_unified.vocab.lmx.writer import lmx_to_musicxml
from mt3_unified.vocab.lmx.xml_io import read_score

__all__ = [
    "LMX_TOKENS",
    "RepairReport",
    "duration_to_types",
    "first_divisions",
    "linearize_part",
    "list_parts",
    "lmx_to_musicxml",
    "musicxml_to_lmx",
    "musicxml_to_lmx_parts",
    "prune_for_lmx",
    "read_score",
]
