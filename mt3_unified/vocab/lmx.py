"""Linearized MusicXML (LMX, Mayer et al. ICDAR 2024): MusicXML parts to LMX token lists."""

from __future__ import annotations

import xml.etree.ElementTree as ET
from collections.abc import Sequence
from dataclasses import dataclass, field
from fractions import Fraction

from mt3_unified.errors import MusicXMLError
from mt3_unified.vocab.lmx_musicxml import RepairReport, lmx_to_musicxml
from mt3_unified.vocab.lmx_tokens import (
    ACCIDENTAL_TOKENS,
    CLEF_TOKENS,
    KEY_TOKENS,
    LMX_TOKENS,
    NOTE_TYPES,
    PITCH_TOKENS,
    TIME_MODIFICATION_TOKENS,
    TIME_TOKENS,
    TYPE_QUARTERS,
    VOICE_TOKENS,
)
from mt3_unified.vocab.xml_io import read_score

__all__ = [
    "LMX_TOKENS",
    "RepairReport",
    "duration_to_types",
    "list_parts",
    "lmx_to_musicxml",
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


# ---------------------------------------------------------------- public API


def list_parts(source) -> list[tuple[str, str]]:
    """(id, name) of every <part> in the score, in document order."""
    root, _ = read_score(source)
    return _part_list(root)


def musicxml_to_lmx(source, part: str | int | None = None) -> list[str]:
    """LMX tokens of one part of a MusicXML score (path, bytes, text or .mxl)."""
    root, name = read_score(source)
    parts = root.findall("part")
    if not parts:
        raise MusicXMLError(name, "the score has no <part>")
    if part is None:
        if len(parts) > 1:
            listing = ", ".join(f"{pid!r} ({pname})" for pid, pname in _part_list(root))
            raise MusicXMLError(name, f"the score has {len(parts)} parts; choose one: {listing}")
        return linearize_part(parts[0], divisions=_first_divisions(root))
    return linearize_part(_select_part(parts, part, name), divisions=_first_divisions(root))


def musicxml_to_lmx_parts(source) -> dict[str, list[str]]:
    """LMX tokens of every part, keyed by part id (or its index when the id is missing)."""
    root, _ = read_score(source)
    divisions = _first_divisions(root)
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


def _first_divisions(root: ET.Element) -> Fraction:
    """Divisions to assume when a part forgets to state its own."""
    text = root.findtext("part/measure/attributes/divisions")
    value = _to_fraction(text)
    return value if value and value > 0 else Fraction(1)


# ---------------------------------------------------------------- durations


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


@dataclass
class _MeasureState:
    """The implicit voice/stem/staff that LMX writes only when it changes."""

    voice: str | None = None
    stem: str | None = None
    staff: str | None = None
    tokens: list[str] = field(default_factory=list)

    def reset_voice(self) -> None:
        self.voice = self.stem = self.staff = None


def linearize_part(part: ET.Element, divisions: Fraction | int = 1) -> list[str]:
    """LMX tokens of one <part> element."""
    state = _PartState(divisions=Fraction(divisions))
    tokens: list[str] = []
    for measure in part.findall("measure"):
        tokens.extend(_linearize_measure(measure, state))
    return tokens


def _linearize_measure(measure: ET.Element, part: _PartState) -> list[str]:
    state = _MeasureState(tokens=["measure"])
    for element in measure:
        tag = element.tag
        if tag == "note":
            _linearize_note(element, part, state)
        elif tag == "attributes":
            _linearize_attributes(element, part, state.tokens)
        elif tag in ("backup", "forward"):
            _linearize_shift(element, tag, part, state)
    return state.tokens


def _linearize_shift(element: ET.Element, tag: str, part: _PartState, state: _MeasureState):
    duration = _to_fraction(element.findtext("duration"))
    if duration is None or duration <= 0:
        return  # a skip without a length says nothing
    for note_type, modification in duration_to_types(duration / part.divisions):
        state.tokens.append(tag)
        state.tokens.append(note_type)
        if modification:
            state.tokens.append(modification)
    if tag == "backup":
        state.reset_voice()  # a backup starts another voice: restate voice, stem and staff


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


@dataclass
class _Note:
    """The parts of a <note> that LMX encodes, gathered in one pass over its children."""

    grace: ET.Element | None = None
    chord: bool = False
    pitch: str | None = None
    rest: ET.Element | None = None
    duration: str | None = None
    voice: str | None = None
    type: str | None = None
    dots: int = 0
    accidental: str | None = None
    modification: tuple[str, str] | None = None
    stem: str | None = None
    staff: str | None = None
    beams: list[str] = field(default_factory=list)
    notations: list[ET.Element] = field(default_factory=list)


def _read_note(note: ET.Element) -> _Note:
    # The hot path of linearization: locals (not attributes) in the loop, branches ordered
    # by how often the elements occur, and <duration> parsed only when a type is missing.
    pitch = rest = grace = duration = voice = note_type = None
    accidental = modification = stem = staff = None
    chord, dots, beams, notations = False, 0, [], []
    for child in note:
        tag = child.tag
        if tag == "duration":
            duration = child.text
        elif tag == "type":
            note_type = child.text
        elif tag == "pitch":
            pitch = f"{(child.findtext('step') or '').strip()}{_octave(child, 'octave')}"
        elif tag == "stem":
            stem = child.text
        elif tag == "voice":
            voice = child.text
        elif tag == "beam":
            beams.append((child.text or "").strip())
        elif tag == "notations":
            notations.append(child)
        elif tag in _UNREAD_NOTE_CHILDREN:
            continue
        elif tag == "dot":
            dots += 1
        elif tag == "rest":
            rest = child
        elif tag == "accidental":
            accidental = child.text
        elif tag == "staff":
            staff = child.text
        elif tag == "time-modification":
            modification = _modification(child)
        elif tag == "chord":
            chord = True
        elif tag == "grace":
            grace = child
        elif tag == "unpitched":  # percussion: the displayed position stands for the pitch
            step = (child.findtext("display-step") or "B").strip()
            pitch = f"{step}{_octave(child, 'display-octave', '4')}"
    # Inline strips: a helper call per field costs more than the rest of the note.
    return _Note(
        grace, chord, pitch, rest, duration,
        voice.strip() if voice else None, note_type.strip() if note_type else None, dots,
        accidental.strip() if accidental else None, modification,
        stem.strip() if stem else None, staff.strip() if staff else None, beams, notations,
    )  # fmt: skip


def _modification(element: ET.Element) -> tuple[str, str] | None:
    actual = (element.findtext("actual-notes") or "").strip()
    normal = (element.findtext("normal-notes") or "").strip()
    if actual.isdigit() and normal.isdigit() and int(actual) and int(normal):
        return actual, normal
    return None


def _octave(element: ET.Element, tag: str, default: str = "") -> str:
    return (element.findtext(tag) or default).strip()


def _linearize_note(note: ET.Element, part: _PartState, state: _MeasureState) -> None:
    fields = _read_note(note)
    if fields.rest is None and fields.pitch not in _PITCHES:
        return  # an unreadable pitch (or a note with neither pitch nor rest) is skipped
    root = _note_root(fields, part)
    if root is None:
        return  # neither <type> nor a usable <duration>: nothing to draw
    tokens = state.tokens
    if note.get("print-object") == "no":
        tokens.append("print-object:no")
    if fields.grace is not None:
        tokens.append("grace")
        if fields.grace.get("slash") == "yes":
            tokens.append("grace:slash")
    if fields.chord:
        tokens.append("chord")
    tokens.append("rest" if fields.rest is not None else fields.pitch)
    if fields.voice and fields.voice != state.voice:
        state.voice = fields.voice
        if fields.voice in _VOICE_TOKENS:
            tokens.append(_VOICE_TOKENS[fields.voice])
    tokens.extend(root)
    if fields.accidental in _ACCIDENTALS:
        tokens.append(fields.accidental)
    if fields.stem in _STEM_TOKENS and fields.stem != state.stem:
        state.stem = fields.stem
        tokens.append(_STEM_TOKENS[fields.stem])
    if part.staves >= 2 and fields.staff in ("1", "2", "3") and fields.staff != state.staff:
        state.staff = fields.staff
        tokens.append(f"staff:{fields.staff}")
    tokens.extend(_BEAMS[beam] for beam in fields.beams if beam in _BEAMS)
    tokens.extend(_notation_tokens(fields.notations))


def _note_root(fields: _Note, part: _PartState) -> Sequence[str] | None:
    """The type token with its time modification and dots, or ["rest:measure"]."""
    modification = None
    if fields.modification and fields.modification[0] != fields.modification[1]:
        modification = "in".join(fields.modification)
    if fields.type in TYPE_QUARTERS:
        if not (modification or fields.dots):
            return (fields.type,)  # the common case, without building lists
        return [fields.type, *([modification] if modification else []), *["dot"] * fields.dots]
    if fields.rest is not None and fields.rest.get("measure") == "yes":
        return ["rest:measure"]
    inferred = _infer_root(fields, part)
    if inferred is not None:
        return inferred
    if fields.grace is not None:
        return ["eighth"]  # grace notes have no length to infer from; eighth is the usual look
    return None


def _infer_root(fields: _Note, part: _PartState) -> list[str] | None:
    duration = _to_fraction(fields.duration)
    if not duration or duration <= 0:
        return None
    quarters = duration / part.divisions
    ratio = None
    if fields.modification:
        ratio = Fraction(int(fields.modification[0]), int(fields.modification[1]))
    found = infer_type(quarters, ratio)
    if found is None:
        if fields.rest is not None and quarters == part.measure_quarters:
            return ["rest:measure"]  # a whole-bar rest of a length no single type has
        return None
    note_type, dots, inferred_modification = found
    modification = inferred_modification or ("in".join(fields.modification) if ratio else None)
    if modification and ratio == 1:
        modification = None
    return [note_type, *([modification] if modification else []), *["dot"] * dots]


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
