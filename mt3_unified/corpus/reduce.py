"""Read a score with music21 and reduce it to a piano-style grand staff (voices on two staves)."""

from __future__ import annotations

import copy
import math
import os
from dataclasses import dataclass

from mt3_unified.corpus.errors import SkipError

# More voices than this on one staff make an unreadable image and an LMX no model
# of the paper's size could learn from; such pieces are left out, not squeezed.
MAX_VOICES_PER_STAFF = 4
DEFAULT_QPM = 96.0


@dataclass
class ScoreNote:
    """A sounding note of the written score, in quarter notes from the piece's start."""

    onset: float
    duration: float
    pitch: int
    is_grace: bool = False
    is_chord: bool = False


@dataclass
class ReducedScore:
    """A piano-style score and what the later stages need to know about it."""

    musicxml: bytes
    measure_offsets: list[float]  # quarter-note start of each measure, in order
    measure_lengths: list[float]
    notes: list[ScoreNote]  # ties merged, in onset order
    qpm: float  # the score's first metronome mark, or DEFAULT_QPM
    staves: int


def load_score(path: str | os.PathLike):
    """Parse a file with music21; an opus (several pieces) yields its first score."""
    from music21 import converter, stream

    try:
        # forceSource: music21 would otherwise pickle every new file into its scratch
        # folder and read the pickle back, twice the cost of the parse on a first build.
        parsed = converter.parse(os.fspath(path), forceSource=True)
    except Exception as e:  # music21 raises many types on bad input
        raise SkipError(path, f"music21 cannot read it ({type(e).__name__}: {e})", "read") from e
    if isinstance(parsed, stream.Opus):
        scores = list(parsed.scores)
        if not scores:
            raise SkipError(path, "an opus with no scores", "read")
        parsed = scores[0]
    if not isinstance(parsed, stream.Score):
        wrapper = stream.Score()
        wrapper.insert(0, parsed)
        parsed = wrapper
    return parsed


def reduce_score(score, source=None) -> ReducedScore:
    """Reduce a music21 Score to one or two staves and export it as MusicXML.

    One pitched part stays a single staff; a piano part (two PartStaffs) passes
    through; several parts are sorted by mean pitch, the upper half becoming
    voices of the treble staff and the lower half voices of the bass staff.
    """
    from music21 import stream

    try:
        # toSoundingPitch copies the whole score: only pay for it where an instrument transposes.
        if any(
            getattr(i, "transposition", None) is not None
            for i in score.recurse().getElementsByClass("Instrument")
        ):
            score = score.toSoundingPitch()
    except Exception as e:
        raise SkipError(source, f"cannot transpose to sounding pitch ({e})", "reduce") from e
    parts = [p for p in score.parts if _pitches(p)]
    if not parts:
        raise SkipError(source, "no pitched notes", "reduce")
    piano = len(parts) == 2 and all(isinstance(p, stream.PartStaff) for p in parts)
    if len(parts) == 1 or piano:
        staves = [_strip(copy.deepcopy(p)) for p in parts]
        for p in staves:
            _check_voices(p, source)
    else:
        staves = _merge_parts(parts, source)
    reduced = stream.Score()
    for i, staff in enumerate(staves):
        staff.partName = ""
        staff.partAbbreviation = ""
        staff.id = f"P1-Staff{i + 1}"
        reduced.insert(0, staff)
    if len(staves) == 2:
        from music21 import layout

        reduced.insert(0, layout.StaffGroup(staves, symbol="brace", barTogether=True))
    measures = list(staves[0].getElementsByClass("Measure"))
    if not measures:
        raise SkipError(source, "no measures", "reduce")
    return ReducedScore(
        musicxml=_export(reduced, source),
        measure_offsets=[float(m.offset) for m in measures],
        measure_lengths=[float(m.duration.quarterLength) for m in measures],
        notes=score_notes(reduced),
        qpm=first_qpm(score),
        staves=len(staves),
    )


def _pitches(part) -> list[int]:
    return [p.midi for n in part.recurse().notes for p in getattr(n, "pitches", ())]


def _strip(part):
    """Remove what a piano engraving of the piece would not show (lyrics, names)."""
    for n in part.recurse().notes:
        n.lyrics = []
    return part


def _check_voices(part, source) -> None:
    for m in part.getElementsByClass("Measure"):
        if len(m.voices) > MAX_VOICES_PER_STAFF:
            raise SkipError(source, f"measure {m.number} has {len(m.voices)} voices", "reduce")


def _merge_parts(parts, source):
    """Upper parts -> treble staff, lower parts -> bass staff, each source voice a voice."""
    from music21 import clef, stream

    means = [sum(ps) / len(ps) for ps in map(_pitches, parts)]
    order = sorted(range(len(parts)), key=lambda i: -means[i])
    half = math.ceil(len(parts) / 2)
    groups = [[parts[i] for i in order[:half]], [parts[i] for i in order[half:]]]
    measure_lists = [list(p.getElementsByClass("Measure")) for p in parts]
    if len({len(ms) for ms in measure_lists}) != 1:
        counts = ", ".join(str(len(ms)) for ms in measure_lists)
        raise SkipError(source, f"parts have different measure counts ({counts})", "reduce")
    reference = list(parts[order[0]].getElementsByClass("Measure"))
    staves = []
    for staff_index, group in enumerate(groups):
        staff = stream.PartStaff()
        group_measures = [list(p.getElementsByClass("Measure")) for p in group]
        for i, ref in enumerate(reference):
            m = stream.Measure(number=ref.number)
            m.paddingLeft = ref.paddingLeft
            if ref.timeSignature is not None:
                m.timeSignature = copy.deepcopy(ref.timeSignature)
            if ref.keySignature is not None:
                m.keySignature = copy.deepcopy(ref.keySignature)
            if i == 0:
                m.clef = clef.TrebleClef() if staff_index == 0 else clef.BassClef()
            if ref.leftBarline is not None:
                m.leftBarline = copy.deepcopy(ref.leftBarline)
            if ref.rightBarline is not None:
                m.rightBarline = copy.deepcopy(ref.rightBarline)
            voices = [v for ms in group_measures for v in _voices_of(ms[i])]
            if len(voices) > MAX_VOICES_PER_STAFF:
                raise SkipError(
                    source, f"measure {ref.number} would need {len(voices)} voices", "reduce"
                )
            for k, elements in enumerate(voices):
                voice = stream.Voice(id=str(k + 1))
                for offset, el in elements:
                    if len(voices) > 1:  # stems tell the voices apart, as in engraved piano
                        for note in [el, *getattr(el, "notes", ())]:
                            if hasattr(note, "stemDirection"):
                                note.stemDirection = "up" if k % 2 == 0 else "down"
                    voice.insert(offset, el)
                m.insert(0, voice)
            staff.insert(ref.offset, m)
        staves.append(_strip(staff))
    return staves


def _voices_of(measure) -> list[list[tuple[float, object]]]:
    """(offset in measure, note/rest/chord) lists, one per voice of a source measure.

    The elements are moved into the reduced score, not copied (copying was a tenth of a
    piece's build): the source score is not read again except for its tempo and meter,
    and an element in two streams exports alike (checked on 150 pieces of the corpus).
    """
    sources = list(measure.voices) or [measure]
    out = []
    for v in sources:
        base = float(v.offset) if v is not measure else 0.0
        items = [(base + float(el.offset), el) for el in v.notesAndRests]
        if any(not getattr(el.style, "hideObjectOnPrint", False) for _, el in items) or not out:
            out.append(items)
    return out


def _is_musicxml(source) -> bool:
    return source is not None and os.fspath(source).lower().endswith((".xml", ".mxl", ".musicxml"))


def _export(score, source) -> bytes:
    """MusicXML bytes without music21's makeNotation pass (a deep copy, 2/3 of the time).

    MusicXML sources already carry beams and accidentals, Humdrum ones beams; for
    those only the accidentals' display is worked out here, which gives the same
    LMX as makeNotation on the pieces checked, in 40% of the time.
    """
    from music21.musicxml.m21ToXml import GeneralObjectExporter
    from music21.stream.makeNotation import makeAccidentalsInMeasureStream

    try:
        if not _is_musicxml(source):
            for staff in score.parts:
                makeAccidentalsInMeasureStream(staff, cautionaryNotImmediateRepeat=False)
        exporter = GeneralObjectExporter(score)
        exporter.makeNotation = False
        return exporter.parse()
    except Exception as e:
        raise SkipError(source, f"music21 cannot export MusicXML ({e})", "reduce") from e


def first_qpm(score) -> float:
    """The first metronome mark; else DEFAULT_QPM beats of the meter's beat unit a minute
    (a half in 4/2, a dotted quarter in 6/8), so alla-breve music is not played at half speed."""
    from music21 import meter, tempo

    for mark in score.recurse().getElementsByClass(tempo.MetronomeMark):
        qpm = mark.getQuarterBPM()
        if qpm and 20 <= qpm <= 300:
            return float(qpm)
    for ts in score.recurse().getElementsByClass(meter.TimeSignature):
        beat = float(ts.beatDuration.quarterLength)
        if beat > 0:
            return min(max(DEFAULT_QPM * beat, 40.0), 240.0)
        break
    return DEFAULT_QPM


def score_notes(score) -> list[ScoreNote]:
    """Sounding notes with ties merged (a tie joins equal pitches that meet in time)."""
    events = []
    for onset, n in _timed_notes(score):
        grace = n.duration.isGrace
        length = float(n.duration.quarterLength)
        members = list(n.notes) if n.isChord else [n]
        for member in members:
            tie = member.tie or (n.tie if n.isChord else None)
            events.append((onset, length, member.pitch.midi, tie, grace, n.isChord))
    events.sort(key=lambda e: (e[0], e[2]))
    notes: list[ScoreNote] = []
    open_ties: dict[int, ScoreNote] = {}
    for onset, length, pitch, tie, grace, chord in events:
        kind = tie.type if tie is not None else None
        held = open_ties.get(pitch)
        if kind in ("stop", "continue") and held and abs(held.onset + held.duration - onset) < 1e-6:
            held.duration += length
            if kind == "stop":
                del open_ties[pitch]
            continue
        note = ScoreNote(onset, length, pitch, grace, chord)
        notes.append(note)
        if kind in ("start", "continue"):
            open_ties[pitch] = note
    return notes


def _timed_notes(score):
    """(quarter offset, note or chord) of every note, walking staves -> measures -> voices:
    linear, where asking music21 for each note's offset in the hierarchy is not."""
    for staff in score.parts:
        measures = list(staff.getElementsByClass("Measure"))
        if not measures:  # an unmeasured part: music21's own (slower) search
            yield from ((float(n.getOffsetInHierarchy(score)), n) for n in staff.flatten().notes)
            continue
        for m in measures:
            base = float(m.offset)
            holders = [(base, m)] + [(base + float(v.offset), v) for v in m.voices]
            for start, holder in holders:
                for n in holder.notes:
                    yield start + float(n.offset), n
