"""Postprocessors and metric functions on hand-made outputs, with exact values."""

from __future__ import annotations

import numpy as np
import pytest
from note_seq.protobuf import music_pb2

from mt3_unified.tasks import metrics, postprocess
from mt3_unified.vocab.unified import EOS_ID, PAD_ID, UnifiedVocabulary, VocabularyConfig

VOCAB = UnifiedVocabulary(
    VocabularyConfig(image_codebooks=2, image_codebook_size=16, audio_codebooks=3,
                     audio_codebook_size=16)
)  # fmt: skip


def frames(ids, k=3):
    """Symbolic ids in slot 0 of [L, k] frames, then an EOS frame and a PAD frame."""
    out = np.zeros((len(ids) + 2, k), np.int32)
    out[: len(ids), 0] = ids
    out[len(ids), 0] = EOS_ID
    return out


def test_lmx_output_becomes_its_tokens_and_musicxml():
    tokens = ["measure", "key:fifths:0", "time", "beats:3", "beat-type:4"]
    output = frames(VOCAB.encode_lmx(tokens))
    assert postprocess.lmx_tokens(output, VOCAB) == tokens
    # A flat id list and the token string decode the same way.
    assert postprocess.lmx_tokens(VOCAB.encode_lmx(tokens) + [EOS_ID, 99], VOCAB) == tokens
    assert postprocess.lmx_tokens(" ".join(tokens), VOCAB) == tokens
    xml = postprocess.lmx_musicxml(output, VOCAB)
    assert "<beats>3</beats>" in xml and "<fifths>0</fifths>" in xml


def test_midi_output_becomes_notes_at_the_example_start_time():
    codec = VOCAB.midi_codec
    events = [
        codec.encode_event("velocity", 127),
        codec.encode_event("pitch", 60),
        codec.encode_event("shift", 50),
        codec.encode_event("velocity", 0),
        codec.encode_event("pitch", 60),
    ]
    output = frames([VOCAB.encode_midi([codec.encode_event("tie")])[0], *VOCAB.encode_midi(events)])
    ns = postprocess.midi_note_sequence(output, VOCAB, start_time=2.0)
    assert [(n.pitch, n.start_time, n.end_time) for n in ns.notes] == [(60, 2.0, 2.5)]


def test_code_output_becomes_raw_codes_up_to_its_eos_frame():
    lo = [VOCAB.id_range("audio", k)[0] for k in range(3)]
    ids = np.array([[lo[0] + 1, lo[1] + 2, lo[2] + 3], [lo[0] + 4, lo[1] + 5, lo[2] + 6],
                    [EOS_ID, PAD_ID, PAD_ID], [PAD_ID, PAD_ID, PAD_ID]])  # fmt: skip
    np.testing.assert_array_equal(
        postprocess.code_frames(ids, "audio", VOCAB), [[1, 2, 3], [4, 5, 6]]
    )
    # Image frames use 2 of the 3 slots.
    img = [VOCAB.id_range("image", k)[0] for k in range(2)]
    image_ids = np.array([[img[0] + 7, img[1] + 8, PAD_ID], [EOS_ID, PAD_ID, PAD_ID]])
    np.testing.assert_array_equal(postprocess.code_frames(image_ids, "image", VOCAB), [[7, 8]])


def test_lmx_metrics_pool_ser_and_drop_tuplet_tokens():
    refs = [["measure", "C4", "quarter", "tuplet:start"], ["measure", "D4"]]
    hyps = [["measure", "C4", "half"], ["measure", "D4"]]
    # Errors: 2 (substitution, deletion) of 6 tokens; without tuplet tokens 1 of 5.
    assert metrics.lmx_metrics(refs, hyps) == {
        "ser": 100 * 2 / 6,
        "ser_no_tuplets": 100 * 1 / 5,
        "ser_pitch_masked": 100 * 2 / 6,  # both errors are of durations and tuplets
    }


def _notes(*notes):
    ns = music_pb2.NoteSequence()
    for onset, offset, pitch in notes:
        ns.notes.add(pitch=pitch, start_time=onset, end_time=offset, velocity=80)
    ns.total_time = max((n[1] for n in notes), default=0.0)
    return ns


def test_midi_metrics_pool_examples_without_matching_across_them():
    refs = [_notes((0.0, 1.0, 60), (1.0, 2.0, 62)), _notes((0.0, 0.5, 64))]
    ests = [_notes((0.0, 1.0, 60), (1.15, 2.0, 62)), _notes((0.0, 0.5, 60))]
    got = metrics.midi_metrics(refs, ests)
    # 62 is 150 ms late: matched only at 200 ms; the second example's 60 matches nothing
    # (the first example's 60 lies 2 s + gap away).
    assert got["onset_f1@50ms"] == pytest.approx(1 / 3)
    assert got["onset_f1@100ms"] == pytest.approx(1 / 3)
    assert got["onset_f1@200ms"] == pytest.approx(2 / 3)
    assert got["onset_offset_f1@200ms"] == pytest.approx(2 / 3)
    assert got["num_reference_notes"] == 3 and got["num_estimate_notes"] == 3


def test_code_metrics_count_per_codebook_and_missing_frames_as_wrong():
    targets = [np.array([[1, 2], [3, 4]]), np.array([[5, 6], [7, 8]])]
    predictions = [np.array([[1, 0], [3, 4], [9, 9]]), np.array([[5, 6]])]
    got = metrics.code_metrics(targets, predictions)
    # Book 0: 1, 3, 5 right of 4 target frames; book 1: 4, 6 right.
    assert got == {
        "code_accuracy_k0": 0.75,
        "code_accuracy_k1": 0.5,
        "code_accuracy": 5 / 8,
        "code_length_ratio": 1.0,
    }


def test_each_output_modality_has_its_postprocessor_and_metrics():
    assert metrics.metric_fns_for("lmx") == [metrics.lmx_metrics]
    assert metrics.metric_fns_for("midi") == [metrics.midi_metrics]
    assert (
        metrics.metric_fns_for("image") == metrics.metric_fns_for("audio") == [metrics.code_metrics]
    )
    assert postprocess.postprocessor_for("audio").__name__ == "postprocess_audio"
    with pytest.raises(ValueError, match="unknown modality 'text'"):
        metrics.metric_fns_for("text")


def test_decoded_metrics_through_a_codec_score_a_perfect_and_an_empty_prediction():
    from tests.codecs.test_bake import _encoders

    image_encoder, audio_encoder = _encoders()
    rng = np.random.default_rng(0)
    image = rng.uniform(size=(48, 32)).astype(np.float32)
    image_codes, _ = image_encoder(image)
    audio_codes = audio_encoder(rng.uniform(-0.5, 0.5, 256).astype(np.float32))
    # The same codes decode to the same pixels and samples: PSNR at its 100 dB cap, mel 0.
    assert metrics.decoded_image_metrics([image_codes], [image_codes], image_encoder) == {
        "decoded_psnr_db": 100.0
    }
    assert metrics.decoded_audio_metrics([audio_codes], [audio_codes], audio_encoder) == {
        "decoded_mel_distance": 0.0
    }
    # No frames at all: a white page against the decoded target, and silence.
    reference = postprocess.decode_image(image_codes, image_encoder)
    white = 10.0 * np.log10(1.0 / np.mean((1.0 - reference) ** 2))
    empty = np.zeros((0, image_codes.shape[1]), np.int32)
    psnr = metrics.decoded_image_metrics([image_codes], [empty], image_encoder)["decoded_psnr_db"]
    assert psnr == pytest.approx(white, rel=1e-5)
    no_frames = np.zeros((0, audio_codes.shape[1]), np.int32)
    silence = metrics.decoded_audio_metrics([audio_codes], [no_frames], audio_encoder)
    assert silence["decoded_mel_distance"] > 0.0
