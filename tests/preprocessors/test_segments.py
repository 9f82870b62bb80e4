"""Audio windows with their notes' MIDI events; whole units."""

import numpy as np
import tensorflow as tf

from mt3_unified.preprocessors.segments import segment_audio_and_notes, unit_midi
from mt3_unified.preprocessors.tokenize import tokenize_symbolic
from mt3_unified.preprocessors.variants import EPOCH, number_passes, unit_choice
from tests.preprocessors.helpers import dataset_of, listed, midi, raw_example, vocab

LENGTHS = {"inputs": 11, "targets": 64}  # 10 audio frames (1 s at 10 frames/s) + EOS
NOTES = [(0.5, 1.5, 60, 127, 0, False), (2.2, 2.3, 62, 127, 0, False)]


def unit(piece="p", index=0, frames=25, start=3.0):
    audio_codes = np.arange(frames * 3, dtype=np.int32).reshape(frames, 3) % 16
    return raw_example(
        piece_id=piece,
        unit_index=index,
        start_time=start,
        audio_codes=audio_codes,
        audio_frame_rate=10.0,
        notes=NOTES,
    )


def windows(examples, training, seed=0, passes=None):
    ds = tokenize_symbolic(dataset_of(*examples), vocabulary=vocab())
    if passes is not None:
        ds = number_passes(ds.repeat(passes))
    return listed(
        segment_audio_and_notes(
            ds, LENGTHS, training=training, audio_side="inputs", vocabulary=vocab(), seed=seed
        )
    )


def test_evaluation_covers_the_unit_in_order():
    v = vocab()
    out = windows([unit()], training=False)
    assert [float(w["start_time"]) for w in out] == [3.0, 4.0, 5.0]
    np.testing.assert_array_equal(
        np.concatenate([w["audio_codes"] for w in out]), unit()["audio_codes"]
    )
    assert [len(w["audio_codes"]) for w in out] == [10, 10, 5]
    on = [("program", 0), ("velocity", 4)]
    assert out[0]["midi_ids"].tolist() == midi(v, ("tie",), ("shift", 50), *on, ("pitch", 60))
    # The note held over the boundary at 1 s: listed in the tie section, ended at 0.5 s.
    assert out[1]["midi_ids"].tolist() == midi(
        v, ("program", 0), ("pitch", 60), ("tie",), ("shift", 50), ("velocity", 0), ("pitch", 60)
    )
    assert out[2]["midi_ids"].tolist() == midi(
        v,
        ("tie",),
        ("shift", 20),
        *on,
        ("pitch", 62),
        ("shift", 30),
        ("velocity", 0),
        ("pitch", 62),
    )


def test_training_crops_one_seeded_window_per_unit():
    units = [unit(index=i) for i in range(6)]
    first = windows(units, training=True, seed=1)
    assert len(first) == 6
    assert all(len(w["audio_codes"]) == 10 for w in first)
    offsets = [round((float(w["start_time"]) - 3.0) * 10) for w in first]
    assert all(0 <= o <= 15 for o in offsets)
    for w, o in zip(first, offsets, strict=True):
        np.testing.assert_array_equal(w["audio_codes"], unit()["audio_codes"][o : o + 10])
    assert offsets == [round((float(w["start_time"]) - 3.0) * 10) for w in windows(units, True, 1)]
    assert offsets != [round((float(w["start_time"]) - 3.0) * 10) for w in windows(units, True, 2)]
    assert len(set(offsets)) > 1


def test_training_crops_another_window_in_each_pass_the_same_for_the_same_seed():
    passes = 8
    units = [unit(index=i) for i in range(6)]
    drawn = windows(units, training=True, seed=1, passes=passes)
    again = windows(units, training=True, seed=1, passes=passes)
    assert len(drawn) == 6 * passes
    offsets = {}
    for w, w_again in zip(drawn, again, strict=True):
        np.testing.assert_array_equal(w["audio_codes"], w_again["audio_codes"])
        offset = round((float(w["start_time"]) - 3.0) * 10)
        assert offset == round((float(w_again["start_time"]) - 3.0) * 10)
        # 25 frames, windows of 10: 16 offsets, the one keyed by (unit, pass, seed).
        key = {name: tf.constant(w[name]) for name in ("piece_id", "unit_index", EPOCH)}
        assert offset == int(unit_choice(key, 16, seed=1, salt="segment"))
        np.testing.assert_array_equal(w["audio_codes"], unit()["audio_codes"][offset:][:10])
        offsets.setdefault(int(w["unit_index"]), []).append(offset)
    assert sorted(offsets) == list(range(6))
    assert all(len(set(seen)) > 1 for seen in offsets.values())  # not one window for ever
    # Pass 0 crops as a single pass does.
    assert [o[0] for o in offsets.values()] == [
        round((float(w["start_time"]) - 3.0) * 10) for w in windows(units, True, 1)
    ]


def test_whole_unit_midi():
    v = vocab()
    ds = tokenize_symbolic(dataset_of(unit()), vocabulary=v)
    (out,) = listed(unit_midi(ds, vocabulary=v))
    assert out["midi_ids"].tolist() == midi(
        v,
        ("tie",),
        ("shift", 50),
        ("program", 0),
        ("velocity", 4),
        ("pitch", 60),
        ("shift", 100),
        ("shift", 50),
        ("velocity", 0),
        ("pitch", 60),
        ("shift", 100),
        ("shift", 100),
        ("shift", 20),
        ("velocity", 4),
        ("pitch", 62),
        ("shift", 100),
        ("shift", 100),
        ("shift", 30),
        ("velocity", 0),
        ("pitch", 62),
    )
