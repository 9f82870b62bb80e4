"""Writing one measure of LMX items as a MusicXML <measure>, tracking LMX's implicit state."""

from __future__ import annotations

import xml.etree.ElementTree as ET
from dataclasses import dataclass, field
from fractions import Fraction

from mt3_unified.vocab.lmx.grammar import (
    ACCIDENTAL_ALTERS,
    ATTRIBUTE_ROOTS,
    Item,
    NoteSuffixes,
    is_ratio_token,
    ratio_fraction,
    typed_quarters,
)
from mt3_unified.vocab.lmx.part_state import PartState
from mt3_unified.vocab.lmx.tokens import TYPE_QUARTERS

_SHARP_ORDER = "FCGDAEB"
_LONGEST_STEMMED = TYPE_QUARTERS["half"]


def sub_element(parent: ET.Element, tag: str, text: str | None = None, **attrib) -> ET.Element:
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


class MeasureWriter:
    """Turns one measure's items into a <measure>, tracking LMX's implicit state."""

    def __init__(self, state: PartState, measure: ET.Element):
        self.state = state
        self.report = state.report
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

    def write(self, items: list[Item]) -> None:
        for item in items:
            if item.root in ATTRIBUTE_ROOTS:
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

    def _write_attribute(self, item: Item) -> None:
        staff = None
        if item.root.startswith("clef:"):
            staff = next((s for s in item.suffixes if s.startswith("staff:")), None)
        rank = {"k": 0.0, "t": 1.0, "c": 2.0}[item.root[0]] + (int(staff[6:]) if staff else 1) / 10
        if self.attributes is None or rank <= self.attribute_rank:
            self.attributes = sub_element(self.measure, "attributes")
        self.attribute_rank = rank
        if item.root.startswith("key:"):
            self._misplaced(item.suffixes)
            self.state.fifths = int(item.root.split(":")[2])
            sub_element(sub_element(self.attributes, "key"), "fifths", str(self.state.fifths))
        elif item.root == "time":
            self._write_time(item)
        else:
            self._misplaced([s for s in item.suffixes if s != staff])
            clef = sub_element(self.attributes, "clef")
            if staff:
                clef.set("number", staff[6:])
                self.state.staves = max(self.state.staves, int(staff[6:]))
            sub_element(clef, "sign", item.root[5])
            sub_element(clef, "line", item.root[6])

    def _write_time(self, item: Item) -> None:
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
        time = sub_element(self.attributes, "time")
        sub_element(time, "beats", beats)
        sub_element(time, "beat-type", beat_type)
        self.state.measure_quarters = Fraction(4 * int(beats), int(beat_type))

    def _misplaced(self, suffixes: list[str]) -> None:
        if suffixes:
            self.report.add("misplaced_token", len(suffixes))

    # -- forward and backup

    def _write_shift(self, item: Item, tag: str) -> None:
        if item.root == "rest:measure":
            self.report.add("invalid_shift")
            return
        ratios = [s for s in item.suffixes if is_ratio_token(s)]
        self._misplaced([s for s in item.suffixes if s not in ratios[:1]])
        quarters = TYPE_QUARTERS[item.root] * (ratio_fraction(ratios[0]) if ratios else 1)
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
        element = sub_element(self.measure, tag)
        self.state.duration(sub_element(element, "duration"), quarters)
        if tag == "forward" and self.voice:
            sub_element(element, "voice", self.voice)
        self.chord_base = None

    # -- notes

    def _write_note(self, item: Item, kind: str) -> None:
        prefixes = set(item.prefixes)
        for token in item.prefixes:
            if token.startswith("voice:"):
                self.voice = token[6:]
        grace = "grace" in prefixes or "grace:slash" in prefixes
        rest = kind == "rest" or item.root == "rest:measure"
        if item.root == "rest:measure" and kind != "rest":
            self.report.add("pitched_measure_rest")
        chord = "chord" in prefixes and self._chord_allowed(rest, grace)
        note = sub_element(self.measure, "note")
        if "print-object:no" in prefixes:
            note.set("print-object", "no")
        if grace:
            grace_element = sub_element(note, "grace")
            if "grace:slash" in prefixes:
                grace_element.set("slash", "yes")
        if chord:
            sub_element(note, "chord")
        suffixes = NoteSuffixes.collect(item.suffixes, self.report)
        self._write_pitch_or_rest(note, kind, rest, item.root, suffixes)
        quarters = self._note_quarters(item.root, suffixes)
        if not grace:
            self.state.duration(sub_element(note, "duration"), quarters)
            if not chord:
                self.position += quarters
                self.end = max(self.end, self.position)
        ties = [t for t in suffixes.ordered if t.startswith("tied:")]
        for tie in ties:
            sub_element(note, "tie", type=tie[5:])
        if self.voice:
            sub_element(note, "voice", self.voice)
        if item.root != "rest:measure":
            sub_element(note, "type", item.root)
        for _ in range(suffixes.dots):
            sub_element(note, "dot")
        if suffixes.accidental and not rest:
            sub_element(note, "accidental", suffixes.accidental)
        if suffixes.ratio:
            modification = sub_element(note, "time-modification")
            actual, normal = suffixes.ratio.split("in")
            sub_element(modification, "actual-notes", actual)
            sub_element(modification, "normal-notes", normal)
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
                sub_element(note, "rest", measure="yes")
            else:
                sub_element(note, "rest")
            return
        step, octave = kind[0], kind[1:]
        pitch = sub_element(note, "pitch")
        sub_element(pitch, "step", step)
        alter = self._alter(kind, suffixes)
        if alter:
            sub_element(pitch, "alter", str(alter))
        sub_element(pitch, "octave", octave)

    def _alter(self, pitch: str, suffixes: NoteSuffixes) -> int:
        """Sounding alteration from the accidental, an earlier one in the bar, a tie or the key."""
        if suffixes.accidental:
            alter = ACCIDENTAL_ALTERS[suffixes.accidental]
        elif "tied:stop" in suffixes.ordered and pitch in self.state.tie_alters:
            alter = self.state.tie_alters[pitch]
        elif pitch in self.alters:
            alter = self.alters[pitch]
        else:
            alter = _key_alter(self.state.fifths, pitch[0])
        self.alters[pitch] = alter
        if "tied:start" in suffixes.ordered:
            self.state.tie_alters[pitch] = alter
        return alter

    def _note_quarters(self, root: str, suffixes: NoteSuffixes) -> Fraction:
        if root == "rest:measure":
            return self.state.measure_quarters
        return typed_quarters(root, suffixes.dots, suffixes.ratio)

    def _write_stem_and_staff(self, note, root, rest, suffixes) -> None:
        if suffixes.stem:
            self.stem = suffixes.stem
        # Whole notes and rests carry no stem unless the sequence states one for them.
        stemmed = not rest and root in TYPE_QUARTERS and TYPE_QUARTERS[root] <= _LONGEST_STEMMED
        if suffixes.stem or (self.stem and stemmed):
            sub_element(note, "stem", self.stem)
        if suffixes.staff:
            self.staff = suffixes.staff
            self.state.staves = max(self.state.staves, int(self.staff))
        if self.staff:
            sub_element(note, "staff", self.staff)

    def _write_beams(self, note, beams, spanners: _VoiceSpanners, grace, chord) -> None:
        if chord:  # chord notes share the first note's beams; write only what is stated
            for number, token in enumerate(beams, start=1):
                sub_element(note, "beam", token[5:].replace("-", " "), number=str(number))
            return
        open_count = spanners.grace_beams if grace else spanners.beams
        group = spanners.grace_beam_notes if grace else spanners.beam_notes
        ends = beams.count("beam:end")
        if ends > open_count and self.state.close_spanners:
            self.report.add("unmatched_beam_end", ends - open_count)
            for _ in range(ends - open_count):
                beams.remove("beam:end")
            ends = open_count
        elif ends > open_count:
            self.report.notice("unmatched_beam_end", ends - open_count)
            ends = open_count
        continuing = open_count - ends
        for number in range(1, continuing + 1):
            sub_element(note, "beam", "continue", number=str(number))
        for number, token in enumerate(beams, start=continuing + 1):
            sub_element(note, "beam", token[5:].replace("-", " "), number=str(number))
        now_open = continuing + beams.count("beam:begin")
        if open_count or now_open:
            group.append(note)
        if now_open == 0:
            group.clear()
        if grace:
            spanners.grace_beams = now_open
        else:
            spanners.beams = now_open

    def _write_notations(self, note, suffixes: NoteSuffixes, spanners, ties) -> None:
        notations = ET.Element("notations")
        if "tied:stop" in ties:  # close the earlier tie before this note opens its own
            self.state.close_tie(note)
        for tie in ties:
            sub_element(notations, "tied", type=tie[5:])
        if "tied:start" in ties:
            self.state.open_ties.append((note, notations))
        slur_numbers = self.state.number_slurs(suffixes.slurs)
        tuplet_numbers = self._number_tuplets(suffixes.tuplets, spanners)
        for token in suffixes.ordered:
            if token.startswith("slur:"):
                number = slur_numbers.pop(0)
                if number is not None:
                    slur = sub_element(notations, "slur", type=token[5:], number=str(number))
                    if token == "slur:start":
                        self.state.slur_elements[number] = (notations, slur)
            elif token.startswith("tuplet:"):
                number = tuplet_numbers.pop(0)
                if number is not None:
                    sub_element(notations, "tuplet", type=token[7:], number=str(number))
        self._write_ornaments(notations, suffixes)
        if len(notations):
            note.append(notations)

    def _number_tuplets(self, tokens: list[str], spanners: _VoiceSpanners) -> list[int | None]:
        return self.state.number_spanners(tokens, spanners.tuplets, "tuplet")

    def _write_ornaments(self, notations: ET.Element, suffixes: NoteSuffixes) -> None:
        flags = suffixes.flags
        articulations = [a for a in ("staccato", "accent", "strong-accent", "tenuto") if a in flags]
        if articulations:
            group = sub_element(notations, "articulations")
            for name in articulations:
                sub_element(group, name)
        if suffixes.tremolo or "trill-mark" in flags:
            ornaments = sub_element(notations, "ornaments")
            if "trill-mark" in flags:
                sub_element(ornaments, "trill-mark")
            if suffixes.tremolo:
                kind, marks = suffixes.tremolo
                sub_element(ornaments, "tremolo", marks, type=kind)
        for name in ("fermata", "arpeggiate"):
            if name in flags:
                sub_element(notations, name)

    def _check_length(self) -> None:
        """Overfull bars stay as they are (music21 and verovio read them); say so."""
        if self.end > self.state.measure_quarters:
            self.report.notice("overfull_measure")

    def _close_spanners(self) -> None:
        """Beams and tuplet brackets do not cross the barline here: close what is open."""
        for spanners in self.spanners.values():
            for open_count, group in (
                (spanners.beams, spanners.beam_notes),
                (spanners.grace_beams, spanners.grace_beam_notes),
            ):
                if open_count and group and not self.state.close_spanners:
                    self.report.notice("unclosed_beam")
                elif open_count and group:
                    self.report.add("unclosed_beam")
                    _end_beams(group[-1])
            if spanners.tuplets and not self.state.close_spanners:
                self.report.notice("unclosed_tuplet", len(spanners.tuplets))
            elif spanners.tuplets and spanners.last_note is not None:
                self.report.add("unclosed_tuplet", len(spanners.tuplets))
                notations = spanners.last_note.find("notations")
                if notations is None:
                    notations = sub_element(spanners.last_note, "notations")
                for number in reversed(spanners.tuplets):
                    sub_element(notations, "tuplet", type="stop", number=str(number))


def _end_beams(note: ET.Element) -> None:
    """Makes the last note of an unclosed beam group end every beam through it."""
    for beam in note.findall("beam"):
        if beam.text == "continue":
            beam.text = "end"
        elif beam.text == "begin":
            note.remove(beam)


def _key_alter(fifths: int, step: str) -> int:
    if fifths > 0 and step in _SHARP_ORDER[:fifths]:
        return 1
    if fifths < 0 and step in _SHARP_ORDER[::-1][:-fifths]:
        return -1
    return 0
