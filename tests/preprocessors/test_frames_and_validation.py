"""Frames of unified ids, and the reasons an example is dropped, with exact values."""

import numpy as np
import pytest

from mt3_unified.preprocessors.frames import to_frames
from mt3_unified.preprocessors.tokenize import tokenize_symbolic
from mt3_unified.preprocessors.validation import REASONS, count_invalid, drop_invalid
from mt3_unified.vocab.layout import EOS_ID, MODALITIES, TASKS
from tests.preprocessors.helpers import dataset_of, listed, raw_example, vocab

KW = {"input_modality": "lmx", "output_modality": "image", "vocabulary": vocab()}


def tokenized(*examples):
    return tokenize_symbolic(dataset_of(*examples), vocabulary=vocab())


def test_lmx_to_image_frames():
    example = raw_example(
        piece_id="p", start_time=2.5, lmx="measure key:fifths:-7", image_codes=[[1, 2], [15, 0]]
    )
    (out,) = listed(to_frames(tokenized(example), **KW))
    # lmx ids from 20; image codebook 0 from 738, codebook 1 from 754; K = 3.
    np.testing.assert_array_equal(out["inputs"], [[20, 0, 0], [21, 0, 0], [EOS_ID, 0, 0]])
    np.testing.assert_array_equal(out["targets"], [[739, 756, 0], [753, 754, 0], [EOS_ID, 0, 0]])
    assert out["input_modality"] == MODALITIES.index("lmx")
    assert out["target_modality"] == MODALITIES.index("image")
    assert out["task"] == TASKS.index("lmx_to_image")
    assert out["piece_id"] == b"p" and out["start_time"] == 2.5


def test_trim_keeps_the_eos_frame():
    example = raw_example(lmx="measure measure measure", image_codes=[[1, 2]] * 5)
    lengths = {"inputs": 3, "targets": 4}
    (out,) = listed(to_frames(tokenized(example), lengths, trim=True, **KW))
    np.testing.assert_array_equal(out["inputs"], [[20, 0, 0], [20, 0, 0], [EOS_ID, 0, 0]])
    np.testing.assert_array_equal(out["targets"][:, 0], [739, 739, 739, EOS_ID])


BAD = {
    "image_empty": raw_example(lmx="measure"),
    "codes_out_of_range": raw_example(lmx="measure", image_codes=[[1, 16]]),
    "empty_input": raw_example(image_codes=[[1, 2]]),
    "too_long": raw_example(lmx="measure " * 8, image_codes=[[1, 2]]),
}


@pytest.mark.parametrize("reason", sorted(BAD))
def test_each_reason_drops_its_example(reason):
    good = raw_example(lmx="measure", image_codes=[[1, 2]])
    ds = tokenized(good, BAD[reason], good)
    lengths = {"inputs": 6, "targets": 6}
    counts = count_invalid(ds, sequence_length=lengths, **KW)
    assert counts == {**dict.fromkeys(REASONS, 0), reason: 1, "valid": 2}
    assert len(listed(drop_invalid(ds, sequence_length=lengths, **KW))) == 2


def test_audio_reasons_and_empty_target():
    kw = {"input_modality": "audio", "output_modality": "midi", "vocabulary": vocab()}
    examples = [
        raw_example(audio_codes=np.zeros((0, 3), np.int32), notes=[(0.1, 0.2, 60, 90, 0, False)]),
        raw_example(
            audio_codes=[[1, 2, 3]],
            audio=[0.0, np.nan],
            sample_rate=8,
            notes=[(0.1, 0.2, 60, 90, 0, False)],
        ),
        raw_example(audio_codes=[[1, 2]], notes=[(0.1, 0.2, 60, 90, 0, False)]),
        raw_example(audio_codes=[[1, 2, 3]], notes=[(0.1, 0.2, 60, 90, 0, False)]),
    ]
    ds = tokenized(*examples).map(lambda ex: {**ex, "midi_ids": ex["midi_spans"][:, 0]})
    counts = count_invalid(ds, **kw)
    expected = {"no_audio": 1, "audio_nan": 1, "codes_out_of_range": 1, "valid": 1}
    assert counts == {**dict.fromkeys(REASONS, 0), **expected}
    no_notes = tokenized(raw_example(audio_codes=[[1, 2, 3]])).map(
        lambda ex: {**ex, "midi_ids": ex["midi_spans"][:, 0]}
    )
    assert count_invalid(no_notes, **kw)["empty_target"] == 1
