"""Tests of the MIDI event codec: pinned layout, round trips on real MIDI, robustness."""

from __future__ import annotations

import dataclasses

import numpy as np
import pytest

from mt3_unified.errors import VocabularyError
from mt3_unified.vocab.midi_events import (
    CanonicalNote,
    DecodeStats,
    Event,
    EventCodec,
    MidiEventConfig,
    bin_to_velocity,
    canonical_notes,
    decode_segments,
    decode_tokens,
    encode_note_sequence,
    velocity_to_bin,
)
from mt3_unified.vocab.midi_io import load_midi, note_sequence_to_midi_bytes
from tests.vocab.midi_helpers import PIECES, make_ns

# --------------------------------------------------------------------------- layout


def test_default_layout_is_pinned():
    codec = EventCodec(MidiEventConfig())
    assert codec.num_classes == 1514
    # Half-open [first id, last id + 1), like every range in the vocabulary.
    assert [(t, codec.event_range(t)) for t in codec.event_types] == [
        ("shift", (0, 1000 + 1)),
        ("pitch", (1001, 1128 + 1)),
        ("velocity", (1129, 1256 + 1)),
        ("tie", (1257, 1257 + 1)),
        ("program", (1258, 1385 + 1)),
        ("drum", (1386, 1513 + 1)),
    ]
    names = codec.token_strings()
    assert len(names) == codec.num_classes
    assert names[12] == "shift:12"
    assert names[1061] == "pitch:60"
    assert names[1129 + 64] == "velocity:64"
    assert names[1257] == "tie"
    assert names[1258] == "program:0"
    assert names[1386 + 36] == "drum:36"
    assert codec.encode_event("pitch", 60) == 1061
    assert codec.encode_event(Event("drum", 36)) == 1422
    assert codec.decode_event(1298) == Event("program", 40)
    assert codec.decode_event(1257) == Event("tie", 0)


def test_small_layout_without_programs_drums_velocity():
    config = MidiEventConfig(
        num_velocity_bins=1, include_programs=False, include_drums=False, max_shift_seconds=2
    )
    codec = EventCodec(config)
    assert codec.num_classes == 201 + 128 + 2 + 1
    assert codec.token_strings()[-4:] == ["pitch:127", "velocity:0", "velocity:1", "tie"]
    with pytest.raises(VocabularyError):
        codec.event_range("program")
    with pytest.raises(VocabularyError):
        codec.encode_event("shift", 201)
    with pytest.raises(VocabularyError):
        codec.decode_event(codec.num_classes)


def test_config_validation():
    with pytest.raises(ValueError):
        MidiEventConfig(num_velocity_bins=0)
    with pytest.raises(ValueError):
        MidiEventConfig(segment_seconds=0.001)
    with pytest.raises(ValueError):
        MidiEventConfig(max_shift_seconds=0)


def test_velocity_bins_round_trip():
    for nbins in (1, 4, 32, 127):
        for b in range(1, nbins + 1):
            assert velocity_to_bin(bin_to_velocity(b, nbins), nbins) == b
    assert velocity_to_bin(0, 127) == 0
    assert [velocity_to_bin(v, 127) for v in (1, 64, 127)] == [1, 64, 127]
    assert bin_to_velocity(1, 1) == 127


# ----------------------------------------------------------------------- literal ids

# Two notes (program 0), a chord (program 40), a drum; 1 s segments. Note 62 is
# held from 0.5 s to 1.2 s, across the boundary at 1.0 s.
HAND_MADE = [
    (60, 100, 0.0, 0.5, 0, False),
    (62, 100, 0.5, 1.2, 0, False),
    (64, 80, 1.0, 1.5, 40, False),
    (67, 80, 1.0, 1.5, 40, False),
    (36, 127, 0.25, 0.35, 0, True),
]


def test_encode_literal_ids():
    config = MidiEventConfig(segment_seconds=1.0)
    segments = encode_note_sequence(make_ns(HAND_MADE), config)
    assert segments == [
        # tie, program:0, velocity:100, pitch:60, shift:25, velocity:127, drum:36,
        # shift:50, velocity:0, pitch:60, velocity:100, pitch:62
        [1257, 1258, 1229, 1061, 25, 1256, 1422, 50, 1129, 1061, 1229, 1063],
        # program:0, pitch:62, tie, program:40, velocity:80, pitch:64, pitch:67,
        # shift:20, program:0, velocity:0, pitch:62, shift:50, program:40, pitch:64, pitch:67
        [1258, 1063, 1257, 1298, 1209, 1065, 1068, 20, 1258, 1129, 1063, 50, 1298, 1065, 1068],
    ]
    names = EventCodec(config).token_strings()
    assert [names[i] for i in segments[1][:7]] == [
        "program:0",
        "pitch:62",
        "tie",
        "program:40",
        "velocity:80",
        "pitch:64",
        "pitch:67",
    ]
    ns, stats = decode_segments(segments, config)
    assert stats == DecodeStats()
    assert canonical_notes(ns, config) == [
        CanonicalNote(0, 50, 0, 60, 100, False),
        CanonicalNote(25, None, 0, 36, 127, True),
        CanonicalNote(50, 120, 0, 62, 100, False),
        CanonicalNote(100, 150, 40, 64, 80, False),
        CanonicalNote(100, 150, 40, 67, 80, False),
    ]


def test_encode_literal_ids_no_velocity_no_programs():
    config = MidiEventConfig(
        segment_seconds=2.0, num_velocity_bins=1, include_programs=False, max_shift_seconds=1.0
    )
    segments = encode_note_sequence(make_ns(HAND_MADE), config)
    # shift 0..100, pitch 101..228, velocity 229..230, tie 231, drum 232..359
    assert segments == [
        [231, 230, 161, 25, 268, 50, 229, 161, 230, 163]
        + [100, 165, 168, 100, 20, 229, 163, 100, 50, 165, 168],
    ]
    # 1.5 s is past max_shift (1 s): shift:100 shift:50 is one run meaning step 150.
    ns, stats = decode_segments(segments, config)
    assert stats == DecodeStats()
    assert [(n.pitch, n.start_time, n.end_time, n.velocity) for n in ns.notes] == [
        (60, 0.0, 0.5, 127),
        (36, 0.25, 0.26, 127),
        (62, 0.5, 1.2, 127),
        (64, 1.0, 1.5, 127),
        (67, 1.0, 1.5, 127),
    ]


def test_shift_runs_longer_than_max_shift():
    config = MidiEventConfig(max_shift_seconds=1.0, segment_seconds=4.0)
    ns = make_ns([(60, 64, 2.5, 3.0, 0, False)])
    (segment,) = encode_note_sequence(ns, config)
    names = EventCodec(config).token_strings()
    assert [names[i] for i in segment] == [
        "tie",
        "shift:100",
        "shift:100",
        "shift:50",
        "program:0",
        "velocity:64",
        "pitch:60",
        "shift:100",
        "shift:100",
        "shift:100",
        "velocity:0",
        "pitch:60",
    ]
    decoded, stats = decode_segments([segment], config)
    assert stats == DecodeStats()
    assert canonical_notes(decoded, config) == canonical_notes(ns, config)


# ------------------------------------------------------------------ documented rules


def test_zero_length_and_overlapping_notes():
    config = MidiEventConfig()
    ns = make_ns(
        [
            (50, 90, 1.0, 1.0, 0, False),  # zero length -> one step
            (51, 90, 1.004, 1.0049, 0, False),  # rounds to one step 100
            (60, 90, 0.0, 1.0, 0, False),  # cut at the next onset of 60
            (60, 70, 0.5, 1.5, 0, False),
            (62, 90, 2.0, 2.3, 0, False),  # same onset: the one ending last wins
            (62, 91, 2.0, 2.7, 0, False),
            (60, 90, 0.2, 0.8, 40, False),  # other program: independent
            (38, 60, 3.0, 3.1, 0, True),  # duplicate drum hits -> the loudest
            (38, 90, 3.001, 3.1, 0, True),
        ]
    )
    expected = [
        CanonicalNote(0, 50, 0, 60, 90, False),
        CanonicalNote(20, 80, 40, 60, 90, False),
        CanonicalNote(50, 150, 0, 60, 70, False),
        CanonicalNote(100, 101, 0, 50, 90, False),
        CanonicalNote(100, 101, 0, 51, 90, False),
        CanonicalNote(200, 270, 0, 62, 91, False),
        CanonicalNote(300, None, 0, 38, 90, True),
    ]
    assert canonical_notes(ns, config) == expected
    decoded, stats = decode_segments(encode_note_sequence(ns, config), config)
    assert stats == DecodeStats()
    assert canonical_notes(decoded, config) == expected


def test_note_longer_than_several_segments():
    config = MidiEventConfig()  # 4.096 s segments: boundaries at steps 410, 819, 1229
    ns = make_ns([(60, 100, 0.0, 13.0, 0, False), (72, 100, 9.0, 9.5, 5, False)])
    segments = encode_note_sequence(ns, config)
    assert len(segments) == 4
    tie_only = [1258, 1061, 1257]  # program:0 pitch:60 tie
    assert segments[1] == tie_only
    assert segments[2][:3] == tie_only
    assert segments[3] == tie_only + [71, 1129, 1061]  # shift to 13.0 s - 12.29 s, note-off
    decoded, stats = decode_segments(segments, config)
    assert stats == DecodeStats()
    assert canonical_notes(decoded, config) == canonical_notes(ns, config)
    # A note ending exactly on a boundary closes in the earlier segment.
    ns = make_ns([(60, 100, 0.0, 4.1, 0, False)])
    assert len(encode_note_sequence(ns, config)) == 1
    assert len(encode_note_sequence(make_ns([], total_time=4.11), config)) == 2


def test_empty_note_sequence():
    config = MidiEventConfig()
    assert encode_note_sequence(make_ns([]), config) == [[1257]]
    ns, stats = decode_segments([[1257]], config)
    assert len(ns.notes) == 0 and stats == DecodeStats()


# --------------------------------------------------------------- round trips on MIDI

CONFIGS = {
    "default": MidiEventConfig(),
    "short_segments": MidiEventConfig(segment_seconds=0.37),
    "small_shift": MidiEventConfig(max_shift_seconds=0.5, segment_seconds=3.0),
    "mt3_no_velocity": MidiEventConfig(num_velocity_bins=1, include_programs=False),
}


def naive_quantized(ns, sps=100):
    """Rounded (onset, offset, program, pitch, is_drum) of every note, written independently."""
    out = set()
    for n in ns.notes:
        on = int(np.floor(n.start_time * sps + 0.5))
        off = None if n.is_drum else int(np.floor(n.end_time * sps + 0.5))
        out.add((on, off, 0 if n.is_drum else n.program, n.pitch, n.is_drum))
    return out


@pytest.mark.parametrize("config_name", sorted(CONFIGS))
@pytest.mark.parametrize("piece", [*PIECES, "programs+drums"])
def test_round_trip_stitched(corpus_midi, piece, config_name):
    config = CONFIGS[config_name]
    ns = load_midi(corpus_midi[piece])
    segments = encode_note_sequence(ns, config)
    decoded, stats = decode_segments(segments, config)
    assert stats == DecodeStats()
    expected = canonical_notes(ns, config)
    assert canonical_notes(decoded, config) == expected
    # Independently of canonical_notes: every onset comes back on the 10 ms grid,
    # and so does every offset of a note no other note of its key overlaps.
    if config.include_programs:
        naive = naive_quantized(ns)
        got = naive_quantized(decoded)
        assert {k[0::2] for k in naive} == {k[0::2] for k in got}
        keys = {}
        for on, off, program, pitch, is_drum in naive:
            keys.setdefault((program, pitch, is_drum), []).append((on, off))
        for key, spans in keys.items():
            if key[2]:
                continue
            spans.sort()
            for i, (on, off) in enumerate(spans):
                overlapped = (i + 1 < len(spans) and spans[i + 1][0] < off) or (
                    i > 0 and spans[i - 1][1] > on
                )
                if not overlapped and off > on:
                    assert (on, off, key[0], key[1], False) in got
    if piece == "programs+drums":
        assert {n.program for n in decoded.notes if not n.is_drum} == (
            {40, 41, 42} if config.include_programs else {0}
        )
        assert sum(n.is_drum for n in decoded.notes) > 50


@pytest.mark.parametrize("piece", PIECES)
def test_round_trip_segment_by_segment(corpus_midi, piece):
    config = MidiEventConfig(segment_seconds=1.37)
    ns = load_midi(corpus_midi[piece])
    expected = canonical_notes(ns, config)
    segments = encode_note_sequence(ns, config)
    crossing = 0
    for k, tokens in enumerate(segments):
        start = config.default_boundary(k)
        end = config.default_boundary(k + 1)
        decoded, stats = decode_tokens(tokens, config, start_time=start / 100, end_time=end / 100)
        want = set()
        tied = 0
        for n in expected:
            if n.is_drum:
                if start <= n.onset_step < end:
                    want.add((n.onset_step, None, n.pitch))
            elif n.onset_step < end and n.offset_step > start:
                want.add((max(n.onset_step, start), min(n.offset_step, end), n.pitch))
                tied += n.onset_step < start
        got = {
            (round(n.start_time * 100), None if n.is_drum else round(n.end_time * 100), n.pitch)
            for n in decoded.notes
        }
        assert got == want, f"segment {k}"
        assert stats.invalid_events == 0 and stats.dropped_events == 0
        assert stats.unmatched_ties == tied
        crossing += tied
    assert crossing >= 5  # the pieces do hold notes across boundaries


def test_round_trip_explicit_segment_starts(corpus_midi):
    config = MidiEventConfig()
    ns = load_midi(corpus_midi["bach/bwv66.6"])
    starts = [0.0, 1.3, 2.0, 7.77, 15.0]  # e.g. system boundaries; the last is open-ended
    segments = encode_note_sequence(ns, config, segment_starts=starts)
    assert len(segments) == len(starts)
    decoded, stats = decode_segments(segments, config, segment_starts=starts)
    assert stats == DecodeStats()
    assert canonical_notes(decoded, config) == canonical_notes(ns, config)
    with pytest.raises(ValueError):
        decode_segments(segments, config, segment_starts=starts[:-1])


def test_decoded_sequence_writes_to_midi(corpus_midi, tmp_path):
    config = MidiEventConfig()
    ns = load_midi(corpus_midi["programs+drums"])
    decoded, _ = decode_segments(encode_note_sequence(ns, config), config)
    path = tmp_path / "decoded.mid"
    path.write_bytes(note_sequence_to_midi_bytes(decoded))
    assert canonical_notes(load_midi(path), config) == canonical_notes(ns, config)


# ---------------------------------------------------------------- malformed tokens


@pytest.mark.parametrize(
    "config", [MidiEventConfig(), MidiEventConfig(num_velocity_bins=1, include_programs=False)]
)
def test_random_token_sequences_never_raise(config):
    rng = np.random.default_rng(1234)
    n = EventCodec(config).num_classes
    for _ in range(200):
        segments = [
            rng.integers(-5, n + 5, size=rng.integers(0, 60)) for _ in range(rng.integers(1, 5))
        ]
        ns, stats = decode_segments(segments, config)
        for note in ns.notes:
            assert note.end_time > note.start_time
        assert min(dataclasses.astuple(stats)) >= 0
        ns, stats = decode_tokens(segments[0], config, start_time=1.0, end_time=3.0)
        assert all(1.0 <= note.start_time <= 3.0 for note in ns.notes)


def test_invalid_events_are_counted():
    config = MidiEventConfig()
    tie, p0, v0, v100 = 1257, 1258, 1129, 1229
    pitch = lambda n: 1001 + n
    cases = {
        "unknown id": ([tie, -1, 1514, 99999], dict(invalid_events=3)),
        "note-off without on": ([tie, v0, pitch(60)], dict(invalid_events=1)),
        "pitch before velocity": ([tie, pitch(60)], dict(invalid_events=1)),
        "backwards shift": (
            [tie, 50, p0, v100, pitch(60), 20, v0, pitch(60)],
            dict(invalid_events=1),
        ),
        "tie in body": ([tie, tie], dict(invalid_events=1)),
        "missing tie": ([v100, pitch(60), 10, v0, pitch(60)], dict(invalid_events=1)),
        "drum with velocity 0": ([tie, v0, 1386 + 36], dict(invalid_events=1)),
        "unclosed note": ([tie, v100, pitch(60)], dict(dropped_unclosed_notes=1)),
        "past segment end": ([tie, 500, v100, pitch(60)], dict(dropped_events=2)),
    }
    for name, (tokens, want) in cases.items():
        _, stats = decode_segments([tokens], config)
        assert stats == DecodeStats(**want), name


def test_tie_inconsistencies_are_counted():
    config = MidiEventConfig(segment_seconds=1.0)
    tie, p0, v0, v100 = 1257, 1258, 1129, 1229
    first = [tie, p0, v100, 1061, 1062]  # pitches 60 and 61 start at 0 and stay on
    second = [p0, 1061, 1063, tie, 50, v0, 1061, 1063]  # lists 60 and 62 (never started)
    ns, stats = decode_segments([first, second], config)
    assert stats == DecodeStats(unmatched_ties=1, closed_untied_notes=1)
    assert [(n.pitch, n.start_time, n.end_time) for n in ns.notes] == [
        (60, 0.0, 1.5),
        (61, 0.0, 1.0),
        (62, 1.0, 1.5),
    ]
