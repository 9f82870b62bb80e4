"""LMX token lists back to MusicXML, repairing what a model's malformed output gets wrong."""

from __future__ import annotations

import functools
import math
import re
import xml.etree.ElementTree as ET
from collections import Counter
from collections.abc import Iterable
from dataclasses import dataclass, field
from fractions import Fraction

from mt3_unified.vocab.lmx_tokens import (
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
_ATTRIBUTE_ROOTS = frozenset(("time", *KEY_TOKENS, *CLEF_TOKENS))
_TIME_SUFFIXES = frozenset(("beats", "beat-type"))
_ORNAMENTS = ("fermata", "arpeggiate", "staccato", "accent", "strong-accent", "tenuto")
_FLAGS = frozenset((*_ORNAMENTS, "trill-mark", "dot"))
_NOTE_SUFFIXES = frozenset(NOTE_SUFFIX_TOKENS)
_ACCIDENTAL_ALTERS = {
    "sharp": 1, "flat": -1, "natural": 0, "double-sharp": 2, "flat-flat": -2,
    "natural-sharp": 1, "natural-flat": -1,
}  # fmt: skip
_SHARP_ORDER = "FCGDAEB"
_LONGEST_STEMMED = TYPE_QUARTERS["half"]


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
class _Item:
    """One measure item: a root token with the prefix and suffix tokens around it."""

    root: str
    prefixes: list[str] = field(default_factory=list)
    suffixes: list[str] = field(default_factory=list)


def lmx_to_musicxml(
    tokens: Iterable[str] | str, *, return_report: bool = False, close_spanners: bool = False
):
    """A one-part score-partwise MusicXML document for an LMX token sequence.

    Never raises on token content: unknown or misplaced tokens are dropped, impossible
    chords and backups fixed, and every change is counted in the RepairReport. Open
    beams, tuplets, ties and slurs are legal MusicXML and kept (so that LMX read from
    real scores round-trips exactly) unless close_spanners is set: then beams and
    tuplets are closed at the barline and dangling ties, slurs and stops are removed.
    """
    report = RepairReport()
    if isinstance(tokens, str):
        tokens = tokens.split()
    measures = _group_measures(list(tokens), report)
    writer = _PartWriter(report, close_spanners)
    for number, items in enumerate(measures, start=1):
        writer.write_measure(items, number)
    text = writer.finish()
    return (text, report) if return_report else text


def is_ratio_token(token: str) -> bool:
    """True for time-modification tokens such as "3in2" (inventory or not)."""
    match = _RATIO_PATTERN.match(token)
    return bool(match) and match.group(1) != match.group(2)


# ---------------------------------------------------------------- parsing


def _group_measures(tokens: list, report: RepairReport) -> list[list[_Item]]:
    """Splits the sequence at "measure" and attaches prefixes and suffixes to their roots."""
    measures: list[list[_Item]] = []
    items: list[_Item] | None = None
    prefixes: list[str] = []
    current: _Item | None = None
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
            current = _Item(token, prefixes)
            prefixes = []
            items.append(current)
        elif kind == "attribute":
            report.add("dangling_prefix", len(prefixes))
            prefixes, current = [], _Item(token)
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
    if token in _ATTRIBUTE_ROOTS:
        return "attribute"
    if token in _NOTE_SUFFIXES or is_ratio_token(token):
        return "suffix"
    name, _, value = token.partition(":")
    if name in _TIME_SUFFIXES and value.isdigit() and 0 < int(value) <= 99:
        return "suffix"
    return "unknown"


@functools.lru_cache(maxsize=4096)
def _typed_quarters(note_type: str, dots: int, ratio: str | None) -> Fraction:
    """Quarters of a type with dots and time modification (cached: Fractions are slow)."""
    quarters = TYPE_QUARTERS[note_type] * (2 - Fraction(1, 2**dots))
    return quarters * _ratio(ratio) if ratio else quarters


def _ratio(token: str) -> Fraction:
    """normal/actual: how much a time modification shortens a note."""
    actual, normal = token.split("in")
    return Fraction(int(normal), int(actual))


# ---------------------------------------------------------------- writing


def _sub(parent: ET.Element, tag: str, text: str | None = None, **attrib) -> ET.Element:
    element = ET.SubElement(parent, tag, {k.replace("_", "-"): v for k, v in attrib.items()})
    if text is not None:
        element.text = text
    return element


@dataclass
class _VoiceSpanners:
    """Beam groups and tuplet brackets open in one voice of the current measure."""

    beams: int = 0
    grace_beams: int = 0
    beam_notes: list[ET.Element] = field(default_factory=list)
    grace_beam_notes: list[ET.Element] = field(default_factory=list)
    tuplets: list[int] = field(default_factory=list)
    last_note: ET.Element | None = None


class _MeasureWriter:
    """Turns one measure's items into a <measure>, tracking LMX's implicit state."""

    def __init__(self, part: _PartWriter, measure: ET.Element):
        self.part = part
        self.report = part.report
        self.measure = measure
        self.voice: str | None = None
        self.stem: str | None = None
        self.staff: str | None = None
        self.position = Fraction(0)
        self.end = Fraction(0)  # the furthest any voice reached
        self.attributes: ET.Element | None = None
        self.attribute_rank = -1.0
        self.chord_base: ET.Element | None = None
        self.spanners: dict[str | None, _VoiceSpanners] = {}
        self.alters: dict[str, int] = {}

    def write(self, items: list[_Item]) -> None:
        for item in items:
            if item.root in _ATTRIBUTE_ROOTS:
                self._write_attribute(item)
                continue
            self.attributes = None
            kinds = [
                p for p in item.prefixes if p in ("forward", "backup", "rest") or p[0].isupper()
            ]
            if len(kinds) > 1:
                self.report.add("extra_prefix", len(kinds) - 1)
            if not kinds:
                self.report.add("note_without_pitch")
            elif kinds[0] in ("forward", "backup"):
                self._write_shift(item, kinds[0])
            else:
                self._write_note(item, kinds[0])
        self._close_spanners()
        self._check_length()

    # -- attributes

    def _write_attribute(self, item: _Item) -> None:
        staff = None
        if item.root.startswith("clef:"):
            staff = next((s for s in item.suffixes if s.startswith("staff:")), None)
        rank = {"k": 0.0, "t": 1.0, "c": 2.0}[item.root[0]] + (int(staff[6:]) if staff else 1) / 10
        if self.attributes is None or rank <= self.attribute_rank:
            self.attributes = _sub(self.measure, "attributes")
        self.attribute_rank = rank
        if item.root.startswith("key:"):
            self._misplaced(item.suffixes)
            self.part.fifths = int(item.root.split(":")[2])
            _sub(_sub(self.attributes, "key"), "fifths", str(self.part.fifths))
        elif item.root == "time":
            self._write_time(item)
        else:
            self._misplaced([s for s in item.suffixes if s != staff])
            clef = _sub(self.attributes, "clef")
            if staff:
                clef.set("number", staff[6:])
                self.part.staves = max(self.part.staves, int(staff[6:]))
            _sub(clef, "sign", item.root[5])
            _sub(clef, "line", item.root[6])

    def _write_time(self, item: _Item) -> None:
        values = {"beats": None, "beat-type": None}
        for suffix in item.suffixes:
            name, _, value = suffix.partition(":")
            if name in values and values[name] is None:
                values[name] = value
            else:
                self.report.add("misplaced_token")
        if None in values.values():
            self.report.add("incomplete_time")
        beats, beat_type = values["beats"] or "4", values["beat-type"] or "4"
        time = _sub(self.attributes, "time")
        _sub(time, "beats", beats)
        _sub(time, "beat-type", beat_type)
        self.part.measure_quarters = Fraction(4 * int(beats), int(beat_type))

    def _misplaced(self, suffixes: list[str]) -> None:
        if suffixes:
            self.report.add("misplaced_token", len(suffixes))

    # -- forward and backup

    def _write_shift(self, item: _Item, tag: str) -> None:
        if item.root == "rest:measure":
            self.report.add("invalid_shift")
            return
        ratios = [s for s in item.suffixes if is_ratio_token(s)]
        self._misplaced([s for s in item.suffixes if s not in ratios[:1]])
        quarters = TYPE_QUARTERS[item.root] * (_ratio(ratios[0]) if ratios else 1)
        if tag == "backup":
            if quarters > self.position:  # time cannot run back past the barline
                self.report.add("backup_before_measure_start")
                quarters = self.position
            if quarters == 0:
                return
            self.position -= quarters
            self.voice = self.stem = self.staff = None
        else:
            self.position += quarters
            self.end = max(self.end, self.position)
        element = _sub(self.measure, tag)
        self.part.duration(_sub(element, "duration"), quarters)
        if tag == "forward" and self.voice:
            _sub(element, "voice", self.voice)
        self.chord_base = None

    # -- notes

    def _write_note(self, item: _Item, kind: str) -> None:
        prefixes = set(item.prefixes)
        for token in item.prefixes:
            if token.startswith("voice:"):
                self.voice = token[6:]
        grace = "grace" in prefixes or "grace:slash" in prefixes
        rest = kind == "rest" or item.root == "rest:measure"
        if item.root == "rest:measure" and kind != "rest":
            self.report.add("pitched_measure_rest")
        chord = "chord" in prefixes and self._chord_allowed(rest, grace)
        note = _sub(self.measure, "note")
        if "print-object:no" in prefixes:
            note.set("print-object", "no")
        if grace:
            grace_element = _sub(note, "grace")
            if "grace:slash" in prefixes:
                grace_element.set("slash", "yes")
        if chord:
            _sub(note, "chord")
        suffixes = _NoteSuffixes.collect(item.suffixes, self.report)
        self._write_pitch_or_rest(note, kind, rest, item.root, suffixes)
        quarters = self._note_quarters(item.root, suffixes)
        if not grace:
            self.part.duration(_sub(note, "duration"), quarters)
            if not chord:
                self.position += quarters
                self.end = max(self.end, self.position)
        ties = [t for t in suffixes.ordered if t.startswith("tied:")]
        for tie in ties:
            _sub(note, "tie", type=tie[5:])
        if self.voice:
            _sub(note, "voice", self.voice)
        if item.root != "rest:measure":
            _sub(note, "type", item.root)
        for _ in range(suffixes.dots):
            _sub(note, "dot")
        if suffixes.accidental and not rest:
            _sub(note, "accidental", suffixes.accidental)
        if suffixes.ratio:
            modification = _sub(note, "time-modification")
            actual, normal = suffixes.ratio.split("in")
            _sub(modification, "actual-notes", actual)
            _sub(modification, "normal-notes", normal)
        self._write_stem_and_staff(note, item.root, rest, suffixes)
        spanners = self.spanners.setdefault(self.voice, _VoiceSpanners())
        self._write_beams(note, suffixes.beams, spanners, grace, chord)
        self._write_notations(note, suffixes, spanners, ties)
        if not rest:
            self.chord_base = note
        elif not chord:
            self.chord_base = None
        spanners.last_note = note

    def _chord_allowed(self, rest: bool, grace: bool) -> bool:
        base = self.chord_base
        if rest or base is None or (base.find("grace") is not None) != grace:
            self.report.add("invalid_chord")
            return False
        return True

    def _write_pitch_or_rest(self, note, kind, rest, root, suffixes) -> None:
        if rest:
            if root == "rest:measure":
                _sub(note, "rest", measure="yes")
            else:
                _sub(note, "rest")
            return
        step, octave = kind[0], kind[1:]
        pitch = _sub(note, "pitch")
        _sub(pitch, "step", step)
        alter = self._alter(kind, suffixes)
        if alter:
            _sub(pitch, "alter", str(alter))
        _sub(pitch, "octave", octave)

    def _alter(self, pitch: str, suffixes: _NoteSuffixes) -> int:
        """Sounding alteration from the accidental, an earlier one in the bar, a tie or the key."""
        if suffixes.accidental:
            alter = _ACCIDENTAL_ALTERS[suffixes.accidental]
        elif "tied:stop" in suffixes.ordered and pitch in self.part.tie_alters:
            alter = self.part.tie_alters[pitch]
        elif pitch in self.alters:
            alter = self.alters[pitch]
        else:
            alter = _key_alter(self.part.fifths, pitch[0])
        self.alters[pitch] = alter
        if "tied:start" in suffixes.ordered:
            self.part.tie_alters[pitch] = alter
        return alter

    def _note_quarters(self, root: str, suffixes: _NoteSuffixes) -> Fraction:
        if root == "rest:measure":
            return self.part.measure_quarters
        return _typed_quarters(root, suffixes.dots, suffixes.ratio)

    def _write_stem_and_staff(self, note, root, rest, suffixes) -> None:
        if suffixes.stem:
            self.stem = suffixes.stem
        # Whole notes and rests carry no stem unless the sequence states one for them.
        stemmed = not rest and root in TYPE_QUARTERS and TYPE_QUARTERS[root] <= _LONGEST_STEMMED
        if suffixes.stem or (self.stem and stemmed):
            _sub(note, "stem", self.stem)
        if suffixes.staff:
            self.staff = suffixes.staff
            self.part.staves = max(self.part.staves, int(self.staff))
        if self.staff:
            _sub(note, "staff", self.staff)

    def _write_beams(self, note, beams, spanners: _VoiceSpanners, grace, chord) -> None:
        if chord:  # chord notes share the first note's beams; write only what is stated
            for number, token in enumerate(beams, start=1):
                _sub(note, "beam", token[5:].replace("-", " "), number=str(number))
            return
        open_count = spanners.grace_beams if grace else spanners.beams
        group = spanners.grace_beam_notes if grace else spanners.beam_notes
        ends = beams.count("beam:end")
        if ends > open_count and self.part.close_spanners:
            self.report.add("unmatched_beam_end", ends - open_count)
            for _ in range(ends - open_count):
                beams.remove("beam:end")
            ends = open_count
        elif ends > open_count:
            self.report.notice("unmatched_beam_end", ends - open_count)
            ends = open_count
        continuing = open_count - ends
        for number in range(1, continuing + 1):
            _sub(note, "beam", "continue", number=str(number))
        for number, token in enumerate(beams, start=continuing + 1):
            _sub(note, "beam", token[5:].replace("-", " "), number=str(number))
        now_open = continuing + beams.count("beam:begin")
        if open_count or now_open:
            group.append(note)
        if now_open == 0:
            group.clear()
        if grace:
            spanners.grace_beams = now_open
        else:
            spanners.beams = now_open

    def _write_notations(self, note, suffixes: _NoteSuffixes, spanners, ties) -> None:
        notations = ET.Element("notations")
        if "tied:stop" in ties:  # close the earlier tie before this note opens its own
            self.part.close_tie(note)
        for tie in ties:
            _sub(notations, "tied", type=tie[5:])
        if "tied:start" in ties:
            self.part.open_ties.append((note, notations))
        slur_numbers = self.part.number_slurs(suffixes.slurs)
        tuplet_numbers = self._number_tuplets(suffixes.tuplets, spanners)
        for token in suffixes.ordered:
            if token.startswith("slur:"):
                number = slur_numbers.pop(0)
                if number is not None:
                    slur = _sub(notations, "slur", type=token[5:], number=str(number))
                    if token == "slur:start":
                        self.part.slur_elements[number] = (notations, slur)
            elif token.startswith("tuplet:"):
                number = tuplet_numbers.pop(0)
                if number is not None:
                    _sub(notations, "tuplet", type=token[7:], number=str(number))
        self._write_ornaments(notations, suffixes)
        if len(notations):
            note.append(notations)

    def _number_tuplets(self, tokens: list[str], spanners: _VoiceSpanners) -> list[int | None]:
        return _number_spanners(tokens, spanners.tuplets, self.part, "tuplet")

    def _write_ornaments(self, notations: ET.Element, suffixes: _NoteSuffixes) -> None:
        flags = suffixes.flags
        articulations = [a for a in ("staccato", "accent", "strong-accent", "tenuto") if a in flags]
        if articulations:
            group = _sub(notations, "articulations")
            for name in articulations:
                _sub(group, name)
        if suffixes.tremolo or "trill-mark" in flags:
            ornaments = _sub(notations, "ornaments")
            if "trill-mark" in flags:
                _sub(ornaments, "trill-mark")
            if suffixes.tremolo:
                kind, marks = suffixes.tremolo
                _sub(ornaments, "tremolo", marks, type=kind)
        for name in ("fermata", "arpeggiate"):
            if name in flags:
                _sub(notations, name)

    def _check_length(self) -> None:
        """Overfull bars stay as they are (music21 and verovio read them); say so."""
        if self.end > self.part.measure_quarters:
            self.report.notice("overfull_measure")

    def _close_spanners(self) -> None:
        """Beams and tuplet brackets do not cross the barline here: close what is open."""
        for spanners in self.spanners.values():
            for open_count, group in (
                (spanners.beams, spanners.beam_notes),
                (spanners.grace_beams, spanners.grace_beam_notes),
            ):
                if open_count and group and not self.part.close_spanners:
                    self.report.notice("unclosed_beam")
                elif open_count and group:
                    self.report.add("unclosed_beam")
                    _end_beams(group[-1])
            if spanners.tuplets and not self.part.close_spanners:
                self.report.notice("unclosed_tuplet", len(spanners.tuplets))
            elif spanners.tuplets and spanners.last_note is not None:
                self.report.add("unclosed_tuplet", len(spanners.tuplets))
                notations = spanners.last_note.find("notations")
                if notations is None:
                    notations = _sub(spanners.last_note, "notations")
                for number in reversed(spanners.tuplets):
                    _sub(notations, "tuplet", type="stop", number=str(number))


def _end_beams(note: ET.Element) -> None:
    """Makes the last note of an unclosed beam group end every beam through it."""
    for beam in note.findall("beam"):
        if beam.text == "continue":
            beam.text = "end"
        elif beam.text == "begin":
            note.remove(beam)


def _number_spanners(tokens, open_numbers: list[int], part, name) -> list[int | None]:
    """MusicXML numbers for start/stop tokens in order; None drops an unmatched stop."""
    numbers: list[int | None] = []
    for token in tokens:
        if token.endswith(":start"):
            numbers.append(_lowest_free(open_numbers))
            open_numbers.append(numbers[-1])
        elif open_numbers:
            numbers.append(open_numbers.pop())
        elif part.close_spanners:
            part.report.add(f"unmatched_{name}_stop")
            numbers.append(None)
        else:
            part.report.notice(f"unmatched_{name}_stop")
            numbers.append(1)
    return numbers


def _lowest_free(numbers: list[int]) -> int:
    number = 1
    while number in numbers:
        number += 1
    return number


def _key_alter(fifths: int, step: str) -> int:
    if fifths > 0 and step in _SHARP_ORDER[:fifths]:
        return 1
    if fifths < 0 and step in _SHARP_ORDER[::-1][:-fifths]:
        return -1
    return 0


@dataclass
class _NoteSuffixes:
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
    def collect(cls, tokens: list[str], report: RepairReport) -> _NoteSuffixes:
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
        elif token in _ACCIDENTAL_ALTERS:
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


class _PartWriter:
    """Builds the part measure by measure; keeps what LMX carries across barlines."""

    def __init__(self, report: RepairReport, close_spanners: bool):
        self.report = report
        self.close_spanners = close_spanners
        self.part = ET.Element("part", id="P1")
        self.fifths = 0
        self.measure_quarters = Fraction(4)
        self.staves = 1
        self.durations: list[tuple[ET.Element, Fraction]] = []
        self.tie_alters: dict[str, int] = {}
        self.open_ties: list[tuple[ET.Element, ET.Element]] = []
        self.open_slurs: list[int] = []
        self.slur_elements: dict[int, tuple[ET.Element, ET.Element]] = {}

    def duration(self, element: ET.Element, quarters: Fraction) -> None:
        """Records a <duration> to fill in once the part's divisions are known."""
        self.durations.append((element, quarters))

    def write_measure(self, items: list[_Item], number: int) -> None:
        measure = _sub(self.part, "measure", number=str(number))
        _MeasureWriter(self, measure).write(items)

    def close_tie(self, note: ET.Element) -> None:
        pitch = _pitch_name(note)
        for index in range(len(self.open_ties) - 1, -1, -1):
            if _pitch_name(self.open_ties[index][0]) == pitch:
                del self.open_ties[index]
                return

    def number_slurs(self, tokens: list[str]) -> list[int | None]:
        return _number_spanners(tokens, self.open_slurs, self, "slur")

    def finish(self) -> str:
        if not len(self.part):
            self.report.add("empty_sequence")
            _sub(self.part, "measure", number="1")
        self._drop_unclosed_spanners()
        self._write_divisions()
        score = ET.Element("score-partwise", version="4.0")
        score_part = _sub(_sub(score, "part-list"), "score-part", id="P1")
        _sub(score_part, "part-name", "Music")
        score.append(self.part)
        ET.indent(score, space=" ")
        body = ET.tostring(score, encoding="unicode")
        return '<?xml version="1.0" encoding="UTF-8"?>\n' + body + "\n"

    def _drop_unclosed_spanners(self) -> None:
        """A tie or slur still open at the end has nothing to end on: remove its start."""
        if not self.close_spanners:
            self.report.notice("unclosed_tie", len(self.open_ties))
            self.report.notice("unclosed_slur", len(self.open_slurs))
            return
        for note, notations in self.open_ties:
            self.report.add("unclosed_tie")
            for tie in note.findall("tie"):
                if tie.get("type") == "start":
                    note.remove(tie)
                    break
            for tied in notations.findall("tied"):
                if tied.get("type") == "start":
                    notations.remove(tied)
                    break
        for number in self.open_slurs:
            self.report.add("unclosed_slur")
            notations, slur = self.slur_elements[number]
            notations.remove(slur)

    def _write_divisions(self) -> None:
        """Divisions: the smallest count per quarter that makes every duration whole."""
        divisions = 1
        for _, quarters in self.durations:
            divisions = math.lcm(divisions, quarters.denominator)
        for element, quarters in self.durations:
            element.text = str(int(quarters * divisions))
        first = self.part[0]
        attributes = first[0] if len(first) and first[0].tag == "attributes" else None
        if attributes is None:
            attributes = ET.Element("attributes")
            first.insert(0, attributes)
        divisions_element = ET.Element("divisions")
        divisions_element.text = str(divisions)
        attributes.insert(0, divisions_element)
        if attributes.find("time") is None:
            # music21 cannot measure a bar of grace notes without a metre: state an invisible
            # 4/4, which LMX does not encode since nothing is printed.
            time = ET.Element("time", {"print-object": "no"})
            _sub(time, "beats", "4")
            _sub(time, "beat-type", "4")
            attributes.insert(1 + len(attributes.findall("key")), time)
        if self.staves >= 2:
            staves = ET.Element("staves")
            staves.text = str(self.staves)
            clefs = [i for i, child in enumerate(attributes) if child.tag == "clef"]
            attributes.insert(clefs[0] if clefs else len(attributes), staves)


def _pitch_name(note: ET.Element) -> str:
    return (note.findtext("pitch/step") or "") + (note.findtext("pitch/octave") or "")
