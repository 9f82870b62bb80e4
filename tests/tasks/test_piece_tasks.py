"""Tasks on whole pieces (`synthetic_<config>_pieces`): windows that cover each piece in order and
stitch back into the piece's notes."""

from __future__ import annotations

import math

import gin
import numpy as np
import pytest

from mt3_unified.tasks import postprocess
from mt3_unified.tasks.registry import get_task_or_mixture, registered_pairs, task_name
from mt3_unified.tasks.synthetic import synthetic_pieces_dataset
from mt3_unified.vocab import midi_events
from mt3_unified.vocab.unified import unified_vocabulary
from tests.corpus.conftest import needs_fluidsynth
from tests.tasks.test_synthetic_tasks import _note_sequence

pytestmark = needs_fluidsynth
MEL_FRAMES_A_SECOND = 100.0
LENGTHS = {"inputs": 256, "targets": 1024}  # windows of 255 mel frames: 2.55 s


@pytest.fixture
def pieces_gin(tiny_gin):
    # Log-mel inputs: the audio -> MIDI task reads the TFDS pieces, no bake needed.
    gin.bind_parameter("ContinuousInputs.modalities", ("audio",))
    gin.bind_parameter("ContinuousInputs.frame_rate", MEL_FRAMES_A_SECOND)
    return tiny_gin


def test_pieces_datasets_register_the_pairs_that_cut_in_time():
    assert registered_pairs(synthetic_pieces_dataset("tiny")) == ["audio_to_midi", "midi_to_audio"]
    assert synthetic_pieces_dataset("demo") == "synthetic_demo_pieces"


def test_eval_windows_cover_each_piece_in_order_and_stitch_back_into_its_notes(pieces_gin):
    from mt3_unified.codecs.data import load_corpus

    vocab = unified_vocabulary()
    task = get_task_or_mixture(task_name("synthetic_tiny_pieces", "audio", "midi", "eval"))
    examples = list(
        task.get_dataset(LENGTHS, split="train", shuffle=False, seed=0).as_numpy_iterator()
    )
    pieces = {
        p["piece_id"].decode(): p
        for p in load_corpus("synthetic_scores/tiny_pieces", "train", str(pieces_gin))
    }
    assert pieces and examples
    window = (LENGTHS["inputs"] - 1) / MEL_FRAMES_A_SECOND
    starts: dict[str, list[float]] = {}
    for ex in examples:
        starts.setdefault(ex["piece_id"].decode(), []).append(float(ex["start_time"]))
    assert set(starts) == set(pieces)
    for piece_id, piece in pieces.items():
        # Every window of the piece, in order, from 0 to past its audio's end.
        seconds = piece["audio"].size / float(piece["sample_rate"])
        count = math.ceil(math.ceil(seconds * MEL_FRAMES_A_SECOND) / (LENGTHS["inputs"] - 1))
        np.testing.assert_allclose(starts[piece_id], window * np.arange(count), atol=1e-4)
    targets = [ex["targets"] for ex in examples]
    stitched = postprocess.stitch_midi(targets, examples, vocab)
    sps = vocab.config.midi.steps_per_second
    for piece_id, piece in pieces.items():
        expected = midi_events.canonical_notes(_note_sequence(piece["notes"]), vocab.config.midi)
        got = stitched[piece_id].notes
        # Notes held across a window boundary come back whole, through the tie sections.
        assert sorted(
            (n.pitch, round(n.start_time * sps), round(n.end_time * sps)) for n in got
        ) == sorted((n.pitch, n.onset_step, n.offset_step) for n in expected)


def test_stitch_midi_orders_windows_by_start_time_and_joins_a_held_note():
    from note_seq.protobuf import music_pb2

    vocab = unified_vocabulary()
    ns = music_pb2.NoteSequence(total_time=3.0)
    ns.notes.add(start_time=0.5, end_time=3.0, pitch=60, velocity=100)
    first, second = (
        np.asarray(vocab.encode_midi(ids), np.int32)
        for ids in midi_events.encode_note_sequence(ns, vocab.config.midi, [0.0, 2.0])
    )
    # Given second window first: placed by start time, the note held over 2 s is one note.
    examples = [{"piece_id": b"p", "start_time": 2.0}, {"piece_id": b"p", "start_time": 0.0}]
    stitched = postprocess.stitch_midi([second, first], examples, vocab)
    assert [(n.pitch, n.start_time, n.end_time) for n in stitched["p"].notes] == [(60, 0.5, 3.0)]
    with pytest.raises(ValueError, match="1 outputs for 2 examples"):
        postprocess.stitch_midi([first], examples, vocab)
