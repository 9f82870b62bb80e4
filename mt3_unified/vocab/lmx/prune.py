"""Shrinks a MusicXML text before parsing to what LMX reads: fewer elements to build.

Building ElementTree elements is most of the cost of linearization, and a <note> spends
three of them on its pitch and more on lyrics that LMX never encodes. Plain text edits
(C-speed bytes.replace and one regex) fold <pitch><step>C</step><octave>4</octave></pitch>
into <lmx-pitch>C4</lmx-pitch> and drop <alter> (LMX writes the accidental, not the
sounding pitch) and <lyric>. An edit that met an unusual layout leaves tags that no
longer match, so the pruned text fails to parse and the caller parses the original: a
pruned document either parses into the same reading or not at all.
"""

from __future__ import annotations

import re

PITCH_TAG = "lmx-pitch"
# A lyric never spans a comment's end, so a match cannot start inside a comment.
_DROP_BYTES = re.compile(rb"<lyric[ >](?:[^-]|-(?!->))*?</lyric>|<alter>[^<]*</alter>", re.S)
_DROP_TEXT = re.compile(_DROP_BYTES.pattern.decode(), re.S)
_FOLDS = (
    ("<pitch><step>", f"<{PITCH_TAG}>"),
    ("</step><octave>", ""),
    ("</octave></pitch>", f"</{PITCH_TAG}>"),
)
_FOLDS_BYTES = tuple((old.encode(), new.encode()) for old, new in _FOLDS)


def prune_for_lmx(data: bytes | str) -> bytes | str | None:
    """The document with pitches folded and lyrics and alters dropped; None to parse as is.

    Expects whitespace between tags already removed (xml_io strips it first).
    """
    if isinstance(data, bytes):
        if b"<![CDATA[" in data:
            return None  # the edits cannot tell CDATA text from markup
        data = _DROP_BYTES.sub(b"", data)
        folds = _FOLDS_BYTES
    else:
        if "<![CDATA[" in data:
            return None
        data = _DROP_TEXT.sub("", data)
        folds = _FOLDS
    for old, new in folds:
        data = data.replace(old, new)
    return data
