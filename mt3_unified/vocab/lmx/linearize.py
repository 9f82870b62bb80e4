"""MusicXML parts to LMX token lists (linearization; `writer` goes the other way)."""

from __future__ import annotations

import functools
import xml.etree.ElementTree as ET
from collections.abc import Sequence
from dataclasses import dataclass
from fractions import Fraction

from mt3_unified.errors import MusicXMLError
from mt3_unified.vocab.lmx.durations import duration_to_types, infer_type
from mt3_unified.vocab.lmx.prune import PITCH_TAG, prune_for_lmx
from mt3_unified.vocab.lmx.tokens import (
    ACCIDENTAL_TOKENS,
    CLEF_TOKENS,
    KEY_TOKENS,
    LMX_TOKENS,
    PITCH_TOKENS,
    TIME_TOKENS,
    TYPE_QUARTERS,
    VOICE_TOKENS,
)
from mt3_unified.vocab.lmx.xml_io import read_score

__all__ = [
    "first_divisions",
    "linearize_part",
    "list_parts",
    "musicxml_to_lmx",
    "musicxml_to_lmx_parts",
]

_PITCHES = frozenset(PITCH_TOKENS)
_VOICE_TOKENS = {token.split(":")[1]: token for token in VOICE_TOKENS}
_STEM_TOKENS = {stem: f"stem:{stem}" for stem in ("up", "down", "none")}
_TIME_TOKENS = frozenset(TIME_TOKENS)
_KEYS = frozenset(KEY_TOKENS)
_CLEFS = frozenset(CLEF_TOKENS)
_ACCIDENTALS = frozenset(ACCIDENTAL_TOKENS)
_BEAMS = {
    "begin": "beam:begin",
    "end": "beam:end",
    "forward hook": "beam:forward-hook",
    "backward hook": "beam:backward-hook",
}
# Frequent <note> children that LMX does not encode, tested early to skip the rest.
_UNREAD_NOTE_CHILDREN = frozenset(("lyric", "tie", "instrument", "notehead", "play", "cue"))
_DEFAULT_CLEF_LINES = {"G": "2", "F": "4", "C": "3"}
_ARTICULATIONS = ("staccato", "accent", "strong-accent", "tenuto")

# ---------------------------------------------------------------- public API


def list_parts(source) -> list[tuple[str, str]]:
    """(id, name) of every <part> in the score, in document order."""
    root, _ = read_score(source, prune_for_lmx)
    return _part_list(root)


def musicxml_to_lmx(source, part: str | int | None = None) -> list[str]:
    """LMX tokens of one part of a MusicXML score (path, bytes, text or .mxl)."""
    root, name = read_score(source, prune_for_lmx)
    parts = root.findall("part")
    if not parts:
        raise MusicXMLError(name, "the score has no <part>")
    if part is None:
        if len(parts) > 1:
            listing = ", ".join(f"{pid!r} ({pname})" for pid, pname in _part_list(root))
            raise MusicXMLError(name, f"the score has {len(parts)} parts; choose one: {listing}")
        return linearize_part(parts[0], divisions=first_divisions(root))
    return linearize_part(_select_part(parts, part, name), divisions=first_divisions(root))


def musicxml_to_lmx_parts(source) -> dict[str, list[str]]:
    """LMX tokens of every part, keyed by part id (or its index when the id is missing)."""
    root, _ = read_score(source, prune_for_lmx)
    divisions = first_divisions(root)
    sequences: dict[str, list[str]] = {}
    for index, part in enumerate(root.findall("part")):
        key = part.get("id") or str(index)
        if key in sequences:  # a repeated id must not hide a part
            key = f"{key}#{index}"
        sequences[key] = linearize_part(part, divisions=divisions)
    return sequences


def _part_list(root: ET.Element) -> list[tuple[str, str]]:
    names = {
        score_part.get("id"): (score_part.findtext("part-name") or "").strip()
        for score_part in root.iterfind("part-list/score-part")
    }
    return [
        (p.get("id", str(i)), names.get(p.get("id"), ""))
        for i, p in enumerate(root.findall("part"))
    ]


def _select_part(parts: list[ET.Element], part: str | int, name) -> ET.Element:
    if isinstance(part, int) and not isinstance(part, bool):
        if -len(parts) <= part < len(parts):
            return parts[part]
    else:
        for element in parts:
            if element.get("id") == str(part):
                return element
    ids = ", ".join(repr(p.get("id")) for p in parts)
    raise MusicXMLError(name, f"no part {part!r}; the score has parts {ids}")


def first_divisions(root: ET.Element) -> Fraction:
    """Divisions to assume when a part forgets to state its own."""
    text = root.findtext("part/measure/attributes/divisions")
    value = _to_fraction(text)
    return value if value and value > 0 else Fraction(1)


def _to_fraction(text: str | None) -> Fraction | None:
    if text is None:
        return None
    try:
        return Fraction(text.strip())
    except (ValueError, ZeroDivisionError):
        return None


# ---------------------------------------------------------------- linearizer


@dataclass
class _PartState:
    """What a part carries from measure to measure: only what reading MusicXML needs."""

    divisions: Fraction = Fraction(1)
    staves: int = 1
    measure_quarters: Fraction | None = None


def linearize_part(part: ET.Element, divisions: Fraction | int = 1) -> list[str]:
    """LMX tokens of one <part> element."""
    state = _PartState(divisions=Fraction(divisions))
    tokens: list[str] = []
    for measure in part.iterfind("measure"):
        _linearize_measure(measure, state, tokens)
    return tokens


def _linearize_measure(measure: ET.Element, part: _PartState, tokens: list[str]) -> None:
    # The hot path of linearization, one pass over the measure's children with the <note>
    # inlined: locals (not attributes or helper calls) per note, branches ordered by how
    # often the elements occur, and text stripped only when the raw text is not a token.
    append = tokens.append
    append("measure")
    voice = stem = staff = None  # LMX restates these only when they change
    staves = part.staves
    for element in measure:
        tag = element.tag
        if tag != "note":
            if tag == "attributes":
                _linearize_attributes(element, part, tokens)
                staves = part.staves
            elif tag == "backup" or tag == "forward":
                shift = _shift_tokens(tag, element.findtext("duration"), part.divisions)
                if shift is not None:
                    tokens.extend(shift)
                    if tag == "backup":  # another voice starts: restate voice, stem and staff
                        voice = stem = staff = None
            continue
        pitch = rest = grace = duration = note_voice = note_type = None
        accidental = modification = note_stem = note_staff = spanners = None
        chord, dots = False, 0
        for child in element:
            tag = child.tag
            if tag == "duration":
                duration = child.text
            elif tag == "type":
                note_type = child.text
            elif tag == PITCH_TAG or tag == "pitch":
                pitch = child
            elif tag == "stem":
                note_stem = child.text
            elif tag == "voice":
                note_voice = child.text
            elif tag == "beam" or tag == "notations":
                # One list for both, made only for the notes that have either.
                if spanners is None:
                    spanners = [child]
                else:
                    spanners.append(child)
            elif tag in _UNREAD_NOTE_CHILDREN:
                continue
            elif tag == "dot":
                dots += 1
            elif tag == "rest":
                rest = child
            elif tag == "accidental":
                accidental = child.text
            elif tag == "staff":
                note_staff = child.text
            elif tag == "time-modification":
                modification = _modification(child)
            elif tag == "chord":
                chord = True
            elif tag == "grace":
                grace = child
            elif tag == "unpitched":
                pitch = child
        if rest is None:
            if pitch is None:
                continue  # neither pitch nor rest: nothing to draw
            element_pitch = pitch
            if pitch.tag == PITCH_TAG:  # step and octave folded into one text by the pruner
                pitch = pitch.text
            else:
                pitch = (pitch.findtext("step") or "") + (pitch.findtext("octave") or "")
            if pitch not in _PITCHES:  # <unpitched>, or text with spaces
                pitch = _pitch_token(element_pitch)
            if pitch not in _PITCHES:
                continue  # an unreadable pitch is skipped
        if (
            modification is None
            and not dots
            and note_type in TYPE_QUARTERS  # raw text: a token has no spaces to strip
        ):
            root = None  # the common case: the type alone
        else:
            root = _note_root(
                note_type.strip() if note_type else None,
                dots, modification, rest, grace, duration, part,
            )  # fmt: skip
            if root is None:
                continue  # neither <type> nor a usable <duration>: nothing to draw
        if element.get("print-object") == "no":
            append("print-object:no")
        if grace is not None:
            append("grace")
            if grace.get("slash") == "yes":
                append("grace:slash")
        if chord:
            append("chord")
        append("rest" if rest is not None else pitch)
        if note_voice:
            if note_voice not in _VOICE_TOKENS:
                note_voice = note_voice.strip()
            if note_voice and note_voice != voice:
                voice = note_voice
                if note_voice in _VOICE_TOKENS:
                    append(_VOICE_TOKENS[note_voice])
        if root is None:
            append(note_type)
        else:
            tokens.extend(root)
        if accidental:
            if accidental not in _ACCIDENTALS:
                accidental = accidental.strip()
            if accidental in _ACCIDENTALS:
                append(accidental)
        if note_stem:
            if note_stem not in _STEM_TOKENS:
                note_stem = note_stem.strip()
            if note_stem in _STEM_TOKENS and note_stem != stem:
                stem = note_stem
                append(_STEM_TOKENS[note_stem])
        if staves >= 2 and note_staff:
            note_staff = note_staff.strip()
            if note_staff in ("1", "2", "3") and note_staff != staff:
                staff = note_staff
                append(f"staff:{note_staff}")
        if spanners is not None:
            for child in spanners:
                if child.tag == "beam":
                    token = _BEAMS.get(child.text) or _BEAMS.get((child.text or "").strip())
                    if token:
                        append(token)
            tokens.extend(_notation_tokens([n for n in spanners if n.tag == "notations"]))


def _pitch_token(element: ET.Element) -> str:
    """The pitch token of a <pitch>, or of an <unpitched> display position (percussion)."""
    if element.tag == PITCH_TAG:
        return "".join((element.text or "").split())
    if element.tag == "pitch":
        step, octave = element.findtext("step"), element.findtext("octave")
        return f"{(step or '').strip()}{(octave or '').strip()}"
    step = (element.findtext("display-step") or "B").strip()
    return f"{step}{(element.findtext('display-octave') or '4').strip()}"


@functools.lru_cache(maxsize=1024)
def _shift_tokens(tag: str, duration: str | None, divisions: Fraction) -> tuple[str, ...] | None:
    """Tokens of a <backup> or <forward>; None when it has no usable length."""
    length = _to_fraction(duration)
    if length is None or length <= 0:
        return None  # a skip without a length says nothing
    tokens: list[str] = []
    for note_type, modification in duration_to_types(length / divisions):
        tokens.append(tag)
        tokens.append(note_type)
        if modification:
            tokens.append(modification)
    return tuple(tokens)


def _linearize_attributes(attributes: ET.Element, part: _PartState, tokens: list[str]) -> None:
    divisions = _to_fraction(attributes.findtext("divisions"))
    if divisions and divisions > 0:
        part.divisions = divisions
    key = _key_token(attributes.find("key"))
    if key:
        tokens.append(key)
    tokens.extend(_time_tokens(attributes.find("time"), part))
    staves = attributes.findtext("staves")
    if staves and staves.strip().isdigit():
        part.staves = int(staves)
    tokens.extend(_clef_tokens(attributes.findall("clef"), part.staves))


def _key_token(key: ET.Element | None) -> str | None:
    if key is None:
        return None
    token = f"key:fifths:{(key.findtext('fifths') or '').strip()}"
    return token if token in _KEYS else None


def _time_tokens(time: ET.Element | None, part: _PartState) -> list[str]:
    if time is None:
        return []
    beats = (time.findtext("beats") or "").strip()
    beat_type = (time.findtext("beat-type") or "").strip()
    if beats.isdigit() and beat_type.isdigit() and int(beat_type) > 0:
        part.measure_quarters = Fraction(4 * int(beats), int(beat_type))
    if time.get("print-object") == "no":
        return []  # not a grapheme (lmx_to_musicxml writes one so that music21 has a metre)
    tokens = ["time", f"beats:{beats}", f"beat-type:{beat_type}"]
    # Compound ("3+2") or unusual signatures are outside the LMX grammar: leave them out.
    return tokens if all(t in _TIME_TOKENS for t in tokens) else []


def _clef_tokens(clefs: list[ET.Element], staves: int) -> list[str]:
    by_staff: dict[int, str] = {}
    for clef in clefs:
        sign = (clef.findtext("sign") or "").strip().upper()
        line = (clef.findtext("line") or _DEFAULT_CLEF_LINES.get(sign, "")).strip()
        token = f"clef:{sign}{line}"
        number = (clef.get("number") or "1").strip()
        if token in _CLEFS and number.isdigit():
            by_staff[int(number)] = token
    tokens: list[str] = []
    for number in sorted(by_staff):  # staff 1 first, whatever the file's order
        tokens.append(by_staff[number])
        if staves >= 2 and f"staff:{number}" in LMX_TOKENS:
            tokens.append(f"staff:{number}")
    return tokens


def _modification(element: ET.Element) -> tuple[str, str] | None:
    actual = (element.findtext("actual-notes") or "").strip()
    normal = (element.findtext("normal-notes") or "").strip()
    if actual.isdigit() and normal.isdigit() and int(actual) and int(normal):
        return actual, normal
    return None


def _note_root(
    note_type: str | None,
    dots: int,
    modification: tuple[str, str] | None,
    rest: ET.Element | None,
    grace: ET.Element | None,
    duration: str | None,
    part: _PartState,
) -> Sequence[str] | None:
    """The type token with its time modification and dots, or ["rest:measure"]."""
    ratio = None
    if modification and modification[0] != modification[1]:
        ratio = "in".join(modification)
    if note_type in TYPE_QUARTERS:
        return [note_type, *([ratio] if ratio else []), *["dot"] * dots]
    if rest is not None and rest.get("measure") == "yes":
        return ["rest:measure"]
    inferred = _infer_root(duration, modification, rest is not None, part)
    if inferred is not None:
        return inferred
    if grace is not None:
        return ["eighth"]  # grace notes have no length to infer from; eighth is the usual look
    return None


def _infer_root(
    duration_text: str | None, modification: tuple[str, str] | None, rest: bool, part: _PartState
) -> list[str] | None:
    duration = _to_fraction(duration_text)
    if not duration or duration <= 0:
        return None
    quarters = duration / part.divisions
    ratio = None
    if modification:
        ratio = Fraction(int(modification[0]), int(modification[1]))
    found = infer_type(quarters, ratio)
    if found is None:
        if rest and quarters == part.measure_quarters:
            return ["rest:measure"]  # a whole-bar rest of a length no single type has
        return None
    note_type, dots, inferred_modification = found
    ratio_token = inferred_modification or ("in".join(modification) if ratio else None)
    if ratio_token and ratio == 1:
        ratio_token = None
    return [note_type, *([ratio_token] if ratio_token else []), *["dot"] * dots]


def _notation_tokens(notations: list[ET.Element]) -> list[str]:
    """Ties, tuplets, slurs, then the ornaments in the order the LMX grammar fixes."""
    if not notations:
        return []
    ties, tuplets, slurs, present = [], [], [], set()
    tremolo: list[str] = []
    for group in notations:
        for child in group:
            tag = child.tag
            kind = child.get("type")
            if tag == "tied" and kind in ("start", "stop"):
                ties.append(f"tied:{kind}")
            elif tag == "tuplet" and kind in ("start", "stop"):
                tuplets.append(f"tuplet:{kind}")
            elif tag == "slur" and kind in ("start", "stop"):
                slurs.append(f"slur:{kind}")
            elif tag in ("fermata", "arpeggiate"):
                present.add(tag)
            elif tag == "articulations":
                present.update(a.tag for a in child if a.tag in _ARTICULATIONS)
            elif tag == "ornaments":
                present.update(o.tag for o in child if o.tag == "trill-mark")
                tremolo = tremolo or _tremolo_tokens(child.find("tremolo"))
    tokens = ties + tuplets + slurs
    tokens.extend(t for t in ("fermata", "arpeggiate", *_ARTICULATIONS) if t in present)
    tokens.extend(tremolo)
    if "trill-mark" in present:
        tokens.append("trill-mark")
    return tokens


def _tremolo_tokens(tremolo: ET.Element | None) -> list[str]:
    if tremolo is None:
        return []
    kind = tremolo.get("type", "single")
    marks = (tremolo.text or "").strip()
    if kind in ("single", "start", "stop", "unmeasured") and marks in ("1", "2", "3", "4"):
        return [f"tremolo:{kind}", f"tremolo:{marks}"]
    return []
