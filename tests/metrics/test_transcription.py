"""Tests of note transcription metrics: exact values worked out by hand."""

from __future__ import annotations

import copy
import math

import mir_eval
import music21
import numpy as np
import pytest
from note_seq.protobuf import music_pb2

from mt3_unified.metrics.transcription import multi_instrument_metrics, transcription_metrics
from mt3_unified.vocab.midi_events import MidiEventConfig, decode_segments, encode_note_sequence
from mt3_unified.vocab.midi_io import load_midi, note_sequence_to_midi_bytes

TOLERANCES = ("50ms", "100ms", "200ms")


def make_ns(notes):
    """notes: (pitch, start, end) or (pitch, start, end, program, is_drum)."""
    ns = music_pb2.NoteSequence(ticks_per_quarter=220)
    ns.tempos.add(qpm=120.0)
    for note in notes:
        pitch, start, end, program, is_drum = (*note, 0, False)[:5]
        ns.notes.add(
            pitch=pitch,
            velocity=100,
            start_time=start,
            end_time=end,
            program=program,
            is_drum=is_drum,
            instrument=9 if is_drum else program,
        )
    ns.total_time = max([n.end_time for n in ns.notes], default=0.0)
    return ns


def shifted(ns, seconds):
    out = copy.deepcopy(ns)
    for n in out.notes:
        n.start_time += seconds
        n.end_time += seconds
    return out


@pytest.fixture(scope="module")
def chorale_path(tmp_path_factory):
    path = tmp_path_factory.mktemp("midi") / "bwv66.6.mid"
    music21.corpus.parse("bach/bwv66.6").write("midi", fp=str(path))
    return path


def test_midi_against_itself_scores_one(chorale_path):
    scores = transcription_metrics(chorale_path, str(chorale_path))
    assert scores["num_reference_notes"] == scores["num_estimate_notes"] == 163
    for tol in TOLERANCES:
        for kind in ("onset", "onset_offset"):
            for measure in ("precision", "recall", "f1"):
                assert scores[f"{kind}_{measure}@{tol}"] == 1.0
    assert len(scores) == 2 * 3 * 3 + 2


def test_encode_decode_round_trip_scores_one(chorale_path):
    config = MidiEventConfig()
    ns = load_midi(chorale_path)
    decoded, _ = decode_segments(encode_note_sequence(ns, config), config)
    # Quantization moves a time by at most 5 ms; unison notes of two voices merge.
    scores = transcription_metrics(ns, note_sequence_to_midi_bytes(decoded))
    assert scores["onset_precision@50ms"] == 1.0
    assert scores["onset_offset_precision@50ms"] == 1.0


# Two long notes (offset tolerance 0.2 * 1.0 s = 200 ms) and two short ones
# (0.2 * 0.25 s = 50 ms < 70 ms, so their offsets miss once shifted by 70 ms).
FOUR_NOTES = [(60, 0.0, 1.0), (64, 1.0, 2.0), (67, 2.0, 2.25), (72, 3.0, 3.25)]


def test_shift_by_70ms_scores_worked_out_by_hand():
    ref = make_ns(FOUR_NOTES)
    scores = transcription_metrics(ref, shifted(ref, 0.07))
    # onset: 70 ms misses a 50 ms tolerance, meets 100 and 200 ms.
    expected = {"50ms": 0.0, "100ms": 1.0, "200ms": 1.0}
    # onset+offset: onsets as above, then only the two long notes keep their offsets.
    expected_offset = {"50ms": 0.0, "100ms": 0.5, "200ms": 0.5}
    for tol in TOLERANCES:
        for measure in ("precision", "recall", "f1"):
            assert scores[f"onset_{measure}@{tol}"] == expected[tol]
            assert scores[f"onset_offset_{measure}@{tol}"] == expected_offset[tol]


def test_real_midi_shifted_by_70ms(chorale_path):
    ref = load_midi(chorale_path)
    scores = transcription_metrics(ref, shifted(ref, 0.07))
    assert scores["onset_f1@50ms"] == 0.0
    assert scores["onset_f1@100ms"] == 1.0
    assert scores["onset_f1@200ms"] == 1.0


def test_one_missing_note():
    ref = make_ns(FOUR_NOTES)
    est = make_ns(FOUR_NOTES[:2] + FOUR_NOTES[3:])
    scores = transcription_metrics(ref, est)
    # 3 matches, 3 estimated, 4 reference: P = 1, R = 3/4, F1 = 2 * 3/4 / (7/4) = 6/7.
    for tol in TOLERANCES:
        for kind in ("onset", "onset_offset"):
            assert scores[f"{kind}_precision@{tol}"] == 1.0
            assert scores[f"{kind}_recall@{tol}"] == 0.75
            assert scores[f"{kind}_f1@{tol}"] == pytest.approx(6 / 7, abs=1e-12)
    # and one extra note instead: P = 4/5, R = 1, F1 = 8/9.
    scores = transcription_metrics(ref, make_ns([*FOUR_NOTES, (50, 5.0, 6.0)]))
    assert scores["onset_precision@50ms"] == 0.8
    assert scores["onset_recall@50ms"] == 1.0
    assert scores["onset_f1@50ms"] == pytest.approx(8 / 9, abs=1e-12)


def test_agrees_with_mir_eval_directly(chorale_path):
    ref = load_midi(chorale_path)
    est = copy.deepcopy(ref)
    rng = np.random.default_rng(0)
    del est.notes[::5]
    for n in est.notes:
        jitter = rng.normal(0, 0.04)
        n.start_time = max(0.0, n.start_time + jitter)
        n.end_time += jitter + rng.normal(0, 0.05)
        n.end_time = max(n.end_time, n.start_time + 0.01)
    scores = transcription_metrics(ref, est)

    def arrays(ns):
        iv = np.array([[n.start_time, n.end_time] for n in ns.notes])
        return iv, mir_eval.util.midi_to_hz(np.array([n.pitch for n in ns.notes], dtype=float))

    (ri, rp), (ei, ep) = arrays(ref), arrays(est)
    for tol in (0.05, 0.1, 0.2):
        name = f"{round(tol * 1000)}ms"
        p, r, f, _ = mir_eval.transcription.precision_recall_f1_overlap(
            ri, rp, ei, ep, onset_tolerance=tol, offset_ratio=None
        )
        assert (scores[f"onset_precision@{name}"], scores[f"onset_recall@{name}"]) == (p, r)
        assert scores[f"onset_f1@{name}"] == pytest.approx(f, abs=1e-12)
        p, r, f, _ = mir_eval.transcription.precision_recall_f1_overlap(
            ri, rp, ei, ep, onset_tolerance=tol, offset_ratio=0.2, offset_min_tolerance=0.05
        )
        assert (
            scores[f"onset_offset_precision@{name}"],
            scores[f"onset_offset_recall@{name}"],
        ) == (
            p,
            r,
        )
        assert scores[f"onset_offset_f1@{name}"] == pytest.approx(f, abs=1e-12)
    assert 0.0 < scores["onset_f1@50ms"] < scores["onset_f1@200ms"] < 1.0


def test_empty_reference_or_estimate():
    notes = make_ns(FOUR_NOTES)
    empty = make_ns([])
    cases = {
        (0, 0): (1.0, 1.0, 1.0),  # nothing to find, nothing found: perfect
        (0, 1): (0.0, 1.0, 0.0),  # only false positives
        (1, 0): (1.0, 0.0, 0.0),  # only misses
    }
    for (has_ref, has_est), (p, r, f) in cases.items():
        scores = transcription_metrics(notes if has_ref else empty, notes if has_est else empty)
        assert not any(math.isnan(v) for v in scores.values())
        for tol in TOLERANCES:
            for kind in ("onset", "onset_offset"):
                assert scores[f"{kind}_precision@{tol}"] == p
                assert scores[f"{kind}_recall@{tol}"] == r
                assert scores[f"{kind}_f1@{tol}"] == f


def test_drums_are_onset_only():
    ref = make_ns([(60, 0.0, 1.0), (36, 1.0, 1.01, 0, True), (38, 2.0, 2.01, 0, True)])
    # Drum hits with other durations still match; a pitched 38 does not match a drum 38.
    est = make_ns([(60, 0.0, 1.0), (36, 1.0, 3.0, 0, True), (38, 2.0, 2.01)])
    scores = transcription_metrics(ref, est)
    # onset: matches 60 and drum 36 -> 2 of 3 both ways.
    assert scores["onset_precision@50ms"] == scores["onset_recall@50ms"] == 2 / 3
    # onset+offset: pitched notes only: ref {60}, est {60, 38} -> P = 1/2, R = 1.
    assert scores["onset_offset_precision@50ms"] == 0.5
    assert scores["onset_offset_recall@50ms"] == 1.0
    assert scores["onset_offset_f1@50ms"] == pytest.approx(2 / 3, abs=1e-12)
    # Drums only: onset+offset has nothing to score on either side -> 1.0 by convention.
    drums = make_ns([(36, 1.0, 1.01, 0, True)])
    assert transcription_metrics(drums, drums)["onset_offset_f1@50ms"] == 1.0


def test_multi_instrument_requires_the_same_program():
    ref = make_ns([(60, 0.0, 1.0, 0, False), (64, 0.0, 1.0, 40, False)])
    est = make_ns([(60, 0.0, 1.0, 0, False), (64, 0.0, 1.0, 41, False)])
    assert transcription_metrics(ref, est)["onset_offset_f1@50ms"] == 1.0
    multi = multi_instrument_metrics(ref, est)
    assert multi["multi_onset_offset_precision@50ms"] == 0.5
    assert multi["multi_onset_offset_recall@50ms"] == 0.5
    assert multi["multi_onset_f1@200ms"] == 0.5


def test_unreadable_midi_raises(tmp_path):
    from mt3_unified.errors import MidiError

    bad = tmp_path / "bad.mid"
    bad.write_bytes(b"garbage")
    with pytest.raises(MidiError, match="bad.mid"):
        transcription_metrics(bad, make_ns(FOUR_NOTES))
