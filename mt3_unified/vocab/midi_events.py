"""MIDI note events codec: NoteSequence <-> segments of event ids, in the manner of MT3.

Local id layout (ids are contiguous from 0; ``event_range`` gives the half-open
range [lo, hi) like every range in the vocabulary; the unified vocabulary adds one
offset to all of them). With the default
config (100 steps/s, 10 s shift range, 127 velocity bins, programs, drums):

    ====================  ==================  ============================
    type (value range)    ids                 meaning
    ====================  ==================  ============================
    shift:0..1000         0 .. 1000           time within the segment
    pitch:0..127          1001 .. 1128        note-on / note-off of a pitch
    velocity:0..127       1129 .. 1256        velocity bin; 0 = note-off
    tie                   1257                end of the tie section
    program:0..127        1258 .. 1385        GM program (if include_programs)
    drum:0..127           1386 .. 1513        drum hit (if include_drums)
    ====================  ==================  ============================

In general: shift has ``max_shift_steps + 1`` ids, velocity ``num_velocity_bins + 1``;
program and drum ranges are left out when disabled (later ranges move down).

Grammar of one segment (MT3 style)::

    [program:p] pitch:n ... tie              tie section: notes held over
    ( shift:a shift:b ... )? event ...       body

* Time: a run of consecutive shift tokens sums to the *absolute* step of the
  following events, counted from the segment start (runs exist only because one
  token reaches at most ``max_shift_steps``). Events at the segment start need no
  shift. A run that would move time backwards is invalid.
* Program and velocity are states: ``program:p`` / ``velocity:v`` hold until the
  next one; the encoder writes them only when they change. Both reset at each
  segment start (program to 0 in the decoder, velocity to "unset": a pitch before
  any velocity token is invalid). The program state carries from the tie section
  into the body.
* ``velocity:0 pitch:n`` ends note n of the current program; ``velocity:v>0 pitch:n``
  starts one. ``velocity:v drum:n`` is a drum hit (drums have onsets only; a
  decoded hit lasts one step and has program 0).
* Within one time step the encoder writes note-offs first, then note-ons sorted
  by (program, velocity, pitch), then drum hits sorted by (velocity, pitch).

Segments: segment k covers steps ``[b_k, b_k+1)`` for onsets and ``(b_k, b_k+1]``
for offsets, where ``b_k = round(k * segment_seconds * steps_per_second)`` (or the
caller's ``segment_starts``). A note ending exactly on a boundary therefore
closes in the segment before it; a note with ``onset < b_k < offset`` is listed
in segment k's tie section (sorted by program, pitch) and its offset comes in the
segment where it ends, however many segments later.

Canonical notes (what a round trip preserves exactly, see ``canonical_notes``):
times are rounded half-up to the step grid; a note shorter than one step after
rounding lasts one step; for two notes of the same (program, pitch) that
overlap, the earlier one is cut at the later one's onset, and of notes starting on
the same step only the one ending last survives; duplicate drum hits on one step
collapse to the loudest. Velocities come back as their bin's top velocity.
"""

from __future__ import annotations

import dataclasses
import functools
import math
from collections.abc import Iterable, Sequence
from typing import TYPE_CHECKING, NamedTuple

import gin

from mt3_unified.errors import VocabularyError

if TYPE_CHECKING:  # importing note_seq loads librosa, pandas and more: only where needed
    from note_seq.protobuf import music_pb2

NUM_PITCHES = 128
NUM_PROGRAMS = 128
DEFAULT_TIED_VELOCITY = 100  # velocity given to a held-over note whose onset was never seen

SHIFT, PITCH, VELOCITY, TIE, PROGRAM, DRUM = "shift", "pitch", "velocity", "tie", "program", "drum"


@gin.configurable
@dataclasses.dataclass(frozen=True)
class MidiEventConfig:
    """How notes become events: time grid, shift range, velocity bins, segments (gin-bound)."""

    steps_per_second: int = 100
    max_shift_seconds: float = 10.0
    num_velocity_bins: int = 127
    segment_seconds: float = 4.096
    include_programs: bool = True
    include_drums: bool = True

    def __post_init__(self):
        if self.steps_per_second <= 0:
            raise ValueError(f"steps_per_second must be positive, got {self.steps_per_second}")
        if self.max_shift_steps < 1:
            raise ValueError(f"max_shift_seconds too small: {self.max_shift_seconds}")
        if not 1 <= self.num_velocity_bins <= 127:
            raise ValueError(f"num_velocity_bins must be in 1..127, got {self.num_velocity_bins}")
        if self.segment_seconds * self.steps_per_second < 1:
            raise ValueError(f"segment_seconds shorter than one step: {self.segment_seconds}")

    @property
    def max_shift_steps(self) -> int:
        return int(round(self.max_shift_seconds * self.steps_per_second))

    def quantize(self, seconds: float) -> int:
        """Seconds -> grid step, rounding half up; negative times clamp to 0."""
        return max(0, math.floor(seconds * self.steps_per_second + 0.5))

    def default_boundary(self, k: int) -> int:
        """Start step of segment k when segments are regular."""
        return self.quantize(k * self.segment_seconds)


class Event(NamedTuple):
    type: str
    value: int = 0


class EventRange(NamedTuple):
    """The values an event type takes: the half-open range [start, stop)."""

    type: str
    start: int
    stop: int

    @property
    def size(self) -> int:
        return self.stop - self.start


def velocity_to_bin(velocity: int, num_bins: int) -> int:
    """MIDI velocity 1..127 -> bin 1..num_bins (0 stays 0: note-off)."""
    if velocity <= 0:
        return 0
    return min(num_bins, max(1, math.ceil(velocity * num_bins / 127)))


def bin_to_velocity(velocity_bin: int, num_bins: int) -> int:
    """Bin -> the highest MIDI velocity that maps to it (so the bin round-trips)."""
    return (velocity_bin * 127) // num_bins


class EventCodec:
    """Typed events <-> contiguous local ids 0..num_classes-1 (layout: module docstring)."""

    def __init__(self, config: MidiEventConfig = MidiEventConfig()):
        self.config = config
        ranges = [
            EventRange(SHIFT, 0, config.max_shift_steps + 1),
            EventRange(PITCH, 0, NUM_PITCHES),
            EventRange(VELOCITY, 0, config.num_velocity_bins + 1),
            EventRange(TIE, 0, 1),
        ]
        if config.include_programs:
            ranges.append(EventRange(PROGRAM, 0, NUM_PROGRAMS))
        if config.include_drums:
            ranges.append(EventRange(DRUM, 0, NUM_PITCHES))
        self.ranges: tuple[EventRange, ...] = tuple(ranges)
        self._offsets: dict[str, int] = {}
        self._by_type: dict[str, EventRange] = {}
        offset = 0
        for r in self.ranges:
            self._offsets[r.type] = offset
            self._by_type[r.type] = r
            offset += r.size
        self.num_classes: int = offset
        # id -> (type, value), for fast decoding
        self._table: list[tuple[str, int]] = [
            (r.type, v) for r in self.ranges for v in range(r.start, r.stop)
        ]

    @property
    def event_types(self) -> tuple[str, ...]:
        return tuple(r.type for r in self.ranges)

    def event_range(self, event_type: str) -> tuple[int, int]:
        """Half-open id range [lo, hi) of one event type."""
        size = self._range(event_type).size
        lo = self._offsets[event_type]
        return lo, lo + size

    def encode_event(self, event_type: str | Event, value: int = 0) -> int:
        """(type, value) or an Event -> local id."""
        if isinstance(event_type, Event):
            event_type, value = event_type
        r = self._range(event_type)
        if not r.start <= value < r.stop:
            raise VocabularyError(f"{event_type} value {value} outside [{r.start}, {r.stop})")
        return self._offsets[event_type] + value - r.start

    def decode_event(self, index: int) -> Event:
        """Local id -> Event; VocabularyError outside [0, num_classes)."""
        if not 0 <= index < self.num_classes:
            raise VocabularyError(f"MIDI event id {index} outside [0, {self.num_classes})")
        return Event(*self._table[index])

    def token_strings(self) -> list[str]:
        """Readable name of every id, in id order ("shift:12", "pitch:60", "tie", ...)."""
        return [t if t == TIE else f"{t}:{v}" for t, v in self._table]

    def _range(self, event_type: str) -> EventRange:
        try:
            return self._by_type[event_type]
        except KeyError:
            raise VocabularyError(
                f"unknown MIDI event type {event_type!r} (have {self.event_types})"
            ) from None


@functools.lru_cache(maxsize=32)
def get_codec(config: MidiEventConfig) -> EventCodec:
    """The (shared, read-only) codec of a config."""
    return EventCodec(config)


class CanonicalNote(NamedTuple):
    """A note on the step grid. ``offset_step`` is None for drum hits."""

    onset_step: int
    offset_step: int | None
    program: int
    pitch: int
    velocity_bin: int
    is_drum: bool


def canonical_notes(ns: music_pb2.NoteSequence, config: MidiEventConfig) -> list[CanonicalNote]:
    """The notes of ``ns`` as the codec sees them (rules in the module docstring), sorted."""
    nbins = config.num_velocity_bins
    sps = config.steps_per_second
    floor = math.floor
    by_key: dict[tuple[int, int], list[tuple[int, int, int]]] = {}
    drums: dict[tuple[int, int], int] = {}
    for note in ns.notes:
        if not 0 <= note.pitch < NUM_PITCHES:
            continue
        on = max(0, floor(note.start_time * sps + 0.5))  # == config.quantize, inlined
        vbin = max(1, velocity_to_bin(note.velocity, nbins))
        if note.is_drum:
            if config.include_drums:
                key = (on, note.pitch)
                drums[key] = max(drums.get(key, 0), vbin)
            continue
        off = max(floor(note.end_time * sps + 0.5), on + 1)
        program = note.program if config.include_programs else 0
        by_key.setdefault((program, note.pitch), []).append((on, off, vbin))
    notes = [CanonicalNote(on, None, 0, pitch, vbin, True) for (on, pitch), vbin in drums.items()]
    for (program, pitch), spans in by_key.items():
        spans.sort()
        for i, (on, off, vbin) in enumerate(spans):
            if i + 1 < len(spans):
                next_on = spans[i + 1][0]
                if next_on == on:
                    continue  # a later note starts on the same step: it wins
                off = min(off, next_on)
            notes.append(CanonicalNote(on, off, program, pitch, vbin, False))
    notes.sort(key=lambda n: (n.onset_step, n.is_drum, n.program, n.pitch))
    return notes


def _boundaries(
    config: MidiEventConfig, segment_starts: Sequence[float] | None, num_segments: int
) -> tuple[list[int], int | None]:
    """Start steps of the segments and the end step of the last one (None: open)."""
    if segment_starts is None:
        starts = [config.default_boundary(k) for k in range(num_segments + 1)]
        return starts[:-1], starts[-1]
    starts = [config.quantize(t) for t in segment_starts]
    if any(b <= a for a, b in zip(starts, starts[1:], strict=False)):
        raise ValueError(f"segment_starts must increase by at least one step: {segment_starts}")
    return starts, None


def encode_note_sequence(
    ns: music_pb2.NoteSequence,
    config: MidiEventConfig = MidiEventConfig(),
    segment_starts: Sequence[float] | None = None,
) -> list[list[int]]:
    """Cut ``ns`` into segments and encode each as local event ids (tie section first).

    With ``segment_starts=None`` segments are regular (``segment_seconds`` long) and
    cover both every note and ``ns.total_time``; there is always at least one. With
    explicit starts (seconds, increasing), notes before the first start are left
    out except for those still sounding there (tied), and the last segment takes
    everything after its start.
    """
    codec = get_codec(config)
    notes = canonical_notes(ns, config)

    # (step, kind, program, velocity_bin, pitch); kind 0 off, 1 on, 2 drum
    events = []
    end_step = config.quantize(ns.total_time)
    for n in notes:
        if n.is_drum:
            events.append((n.onset_step, 2, 0, n.velocity_bin, n.pitch))
            end_step = max(end_step, n.onset_step + 1)
        else:
            events.append((n.onset_step, 1, n.program, n.velocity_bin, n.pitch))
            events.append((n.offset_step, 0, n.program, 0, n.pitch))
            end_step = max(end_step, n.offset_step)
    events.sort()

    if segment_starts is None:
        num_segments = 1
        while config.default_boundary(num_segments) < end_step:
            num_segments += 1
        starts, last_end = _boundaries(config, None, num_segments)
    else:
        starts, last_end = _boundaries(config, segment_starts, len(segment_starts))
        if not starts:
            return []

    shift_lo = codec.event_range(SHIFT)[0]
    pitch_lo = codec.event_range(PITCH)[0]
    vel_lo = codec.event_range(VELOCITY)[0]
    tie_id = codec.encode_event(TIE)
    prog_lo = codec.event_range(PROGRAM)[0] if config.include_programs else None
    drum_lo = codec.event_range(DRUM)[0] if config.include_drums else None
    max_shift = config.max_shift_steps

    active: set[tuple[int, int]] = set()  # (program, pitch) sounding at the current step
    i = 0
    # Events before the first segment only build the set of held-over notes.
    while i < len(events) and (
        events[i][0] < starts[0] or (events[i][0] == starts[0] and events[i][1] == 0)
    ):
        step, kind, program, _, pitch = events[i]
        if kind == 1:
            active.add((program, pitch))
        elif kind == 0:
            active.discard((program, pitch))
        i += 1

    segments = []
    for k, start in enumerate(starts):
        end = starts[k + 1] if k + 1 < len(starts) else last_end
        tokens = []
        program_state = -1
        for program, pitch in sorted(active):
            if prog_lo is not None and program != program_state:
                tokens.append(prog_lo + program)
                program_state = program
            tokens.append(pitch_lo + pitch)
        tokens.append(tie_id)
        velocity_state = -1
        cur = start
        while i < len(events):
            step, kind, program, vbin, pitch = events[i]
            if end is not None and (step > end or (step == end and kind != 0)):
                break
            i += 1
            if step != cur:
                rel = step - start
                while rel > 0:
                    chunk = min(max_shift, rel)
                    tokens.append(shift_lo + chunk)
                    rel -= chunk
                cur = step
            if kind == 2:
                if vbin != velocity_state:
                    tokens.append(vel_lo + vbin)
                    velocity_state = vbin
                tokens.append(drum_lo + pitch)
                continue
            if prog_lo is not None and program != program_state:
                tokens.append(prog_lo + program)
                program_state = program
            if vbin != velocity_state:
                tokens.append(vel_lo + vbin)
                velocity_state = vbin
            tokens.append(pitch_lo + pitch)
            if kind == 1:
                active.add((program, pitch))
            else:
                active.discard((program, pitch))
        segments.append(tokens)
    return segments


@dataclasses.dataclass
class DecodeStats:
    """What decoding had to repair or drop; all zero for the encoder's own output.

    invalid_events: tokens that break the grammar and were skipped: unknown id,
      a shift run moving time backwards, note-off of a note not sounding, pitch or
      drum before any velocity, drum with velocity 0, ``tie`` outside the tie
      section, a missing ``tie`` marker (counted once per segment).
    dropped_events: tokens after a shift run past the segment's end (skipped).
    dropped_unclosed_notes: notes still sounding when decoding ended without an
      end time (they are left out of the result).
    closed_at_end: notes still sounding at a given ``end_time``, closed there.
    unmatched_ties: tie-section notes that were not sounding; started at the
      segment start (expected when a segment is decoded on its own).
    closed_untied_notes: sounding notes that a segment's tie section did not list;
      closed at that segment's start.
    """

    invalid_events: int = 0
    dropped_events: int = 0
    dropped_unclosed_notes: int = 0
    closed_at_end: int = 0
    unmatched_ties: int = 0
    closed_untied_notes: int = 0

    def __iadd__(self, other: DecodeStats) -> DecodeStats:
        for f in dataclasses.fields(self):
            setattr(self, f.name, getattr(self, f.name) + getattr(other, f.name))
        return self


class _Decoder:
    """Decoding state carried across segments."""

    def __init__(self, config: MidiEventConfig):
        self.config = config
        self.codec = get_codec(config)
        self.active: dict[tuple[int, int], tuple[int, int]] = {}  # (prog, pitch) -> (on, vbin)
        self.notes: list[CanonicalNote] = []
        self.stats = DecodeStats()
        self.tied_velocity = max(
            1, velocity_to_bin(DEFAULT_TIED_VELOCITY, config.num_velocity_bins)
        )

    def _close(self, key: tuple[int, int], step: int) -> None:
        on, vbin = self.active.pop(key)
        self.notes.append(CanonicalNote(on, max(step, on + 1), key[0], key[1], vbin, False))

    def segment(self, tokens: Iterable[int], start: int, end: int | None) -> None:
        table = self.codec._table
        num_classes = self.codec.num_classes
        stats = self.stats
        tokens = [int(t) for t in tokens]
        program = 0
        velocity = None
        in_tie = True
        tied: set[tuple[int, int]] = set()
        cur = start
        run = None  # sum of the current shift run, None outside a run

        def end_tie():
            for key in [k for k in self.active if k not in tied]:
                stats.closed_untied_notes += 1
                self._close(key, start)
            for key in sorted(tied):
                if key not in self.active:
                    stats.unmatched_ties += 1
                    self.active[key] = (start, self.tied_velocity)

        for idx, token in enumerate(tokens):
            if not 0 <= token < num_classes:
                stats.invalid_events += 1
                continue
            etype, value = table[token]
            if in_tie:
                if etype == PROGRAM:
                    program = value
                    continue
                if etype == PITCH:
                    tied.add((program, value))
                    continue
                in_tie = False
                end_tie()
                if etype == TIE:
                    continue
                stats.invalid_events += 1  # missing tie marker; read the token as body
            if etype == SHIFT:
                run = value if run is None else run + value
                continue
            if run is not None:
                target, run = start + run, None
                if target < cur:
                    stats.invalid_events += 1
                elif end is not None and target > end:
                    stats.dropped_events += len(tokens) - idx
                    break
                else:
                    cur = target
            if etype == PROGRAM:
                program = value
            elif etype == VELOCITY:
                velocity = value
            elif etype == PITCH:
                key = (program, value)
                if velocity is None:
                    stats.invalid_events += 1
                elif velocity == 0:
                    if key in self.active:
                        self._close(key, cur)
                    else:
                        stats.invalid_events += 1
                else:
                    # Re-onset of a sounding note ends it here; on the same step the
                    # new onset simply replaces the old one.
                    if key in self.active and self.active[key][0] < cur:
                        self._close(key, cur)
                    self.active[key] = (cur, velocity)
            elif etype == DRUM:
                if not velocity:
                    stats.invalid_events += 1
                else:
                    self.notes.append(CanonicalNote(cur, None, 0, value, velocity, True))
            else:  # a tie token in the body
                stats.invalid_events += 1
        else:
            if in_tie:
                stats.invalid_events += 1
                end_tie()
            elif run is not None and start + run < cur:
                stats.invalid_events += 1

    def finish(self, end: int | None) -> music_pb2.NoteSequence:
        for key in list(self.active):
            if end is None:
                self.stats.dropped_unclosed_notes += 1
                del self.active[key]
            else:
                self.stats.closed_at_end += 1
                self._close(key, end)
        return notes_to_note_sequence(self.notes, self.config)


def notes_to_note_sequence(
    notes: Iterable[CanonicalNote], config: MidiEventConfig
) -> music_pb2.NoteSequence:
    """Grid notes -> NoteSequence (drum hits last one step; drums on instrument 9)."""
    from note_seq.protobuf import music_pb2

    sps = config.steps_per_second
    nbins = config.num_velocity_bins
    ns = music_pb2.NoteSequence(ticks_per_quarter=220)
    ns.tempos.add(qpm=120.0)
    total = 0
    for n in sorted(notes, key=lambda n: (n.onset_step, n.is_drum, n.program, n.pitch)):
        off = n.onset_step + 1 if n.offset_step is None else n.offset_step
        ns.notes.add(
            pitch=n.pitch,
            velocity=bin_to_velocity(n.velocity_bin, nbins),
            start_time=n.onset_step / sps,
            end_time=off / sps,
            program=n.program,
            instrument=9 if n.is_drum else n.program,
            is_drum=n.is_drum,
        )
        total = max(total, off)
    ns.total_time = total / sps
    return ns


def decode_tokens(
    tokens: Iterable[int],
    config: MidiEventConfig = MidiEventConfig(),
    start_time: float = 0.0,
    end_time: float | None = None,
) -> tuple[music_pb2.NoteSequence, DecodeStats]:
    """Decode one segment on its own.

    Tie-section notes start at ``start_time`` (counted as ``unmatched_ties``).
    With ``end_time``, tokens past it are dropped and notes still sounding close
    there; without it, notes still sounding are dropped. Never raises on bad ids.
    """
    decoder = _Decoder(config)
    start = config.quantize(start_time)
    end = None if end_time is None else config.quantize(end_time)
    decoder.segment(tokens, start, end)
    ns = decoder.finish(end)
    return ns, decoder.stats


def decode_segments(
    token_segments: Sequence[Iterable[int]],
    config: MidiEventConfig = MidiEventConfig(),
    segment_starts: Sequence[float] | None = None,
) -> tuple[music_pb2.NoteSequence, DecodeStats]:
    """Decode consecutive segments into one NoteSequence, joining notes through ties.

    ``segment_starts`` (seconds) defaults to the regular grid of ``segment_seconds``;
    then the last segment ends at the next grid boundary, else it is open-ended.
    Notes still sounding after the last segment are dropped and counted.
    """
    if segment_starts is not None and len(segment_starts) != len(token_segments):
        raise ValueError(f"{len(segment_starts)} segment_starts for {len(token_segments)} segments")
    starts, last_end = _boundaries(config, segment_starts, len(token_segments))
    decoder = _Decoder(config)
    for k, tokens in enumerate(token_segments):
        end = starts[k + 1] if k + 1 < len(starts) else last_end
        decoder.segment(tokens, starts[k], end)
    ns = decoder.finish(None)
    return ns, decoder.stats
