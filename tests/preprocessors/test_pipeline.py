"""The whole post-cache chain is pure TF: its iterator's position saves and restores."""

import numpy as np
import pytest
import tensorflow as tf

from mt3_unified.preprocessors import feature_converter, frames, segments, tokenize, validation
from mt3_unified.preprocessors.variants import number_passes, select_variant
from tests.preprocessors.helpers import dataset_of, raw_example, vocab

LENGTHS = {"inputs": 11, "targets": 32}


def pipeline(passes: bool = False):
    """The chain on a unit's 2 variants; with `passes` a training one: seqio's endless
    repeat at the cache point as numbered passes, a variant and a window drawn in each."""
    v = vocab()
    units = [
        raw_example(
            piece_id="p",
            unit_index=i,
            variant=k,
            audio_codes=np.full((25, 3), i + k, np.int32),
            audio_frame_rate=10.0,
            notes=[(0.5, 1.5, 60, 100, 0, False)],
        )
        for i in range(4)
        for k in range(2)
    ]
    # What the cache holds, read back without Python: the saved state needs no py_function.
    cached = list(tokenize.tokenize_symbolic(dataset_of(*units), vocabulary=v))
    ds = tf.data.Dataset.from_tensors(cached[0])
    for example in cached[1:]:
        ds = ds.concatenate(tf.data.Dataset.from_tensors(example))
    if passes:
        ds = number_passes(ds.repeat())
    ds = select_variant(ds, training=True, num_variants=2, seed=3)
    ds = segments.segment_audio_and_notes(
        ds, LENGTHS, training=passes, audio_side="inputs", vocabulary=v, seed=3
    )
    pair = {"input_modality": "audio", "output_modality": "midi", "vocabulary": v}
    ds = validation.drop_invalid(ds, sequence_length=LENGTHS, **pair)
    ds = frames.to_frames(ds, LENGTHS, **pair)
    converted = feature_converter.UnifiedFeatureConverter(v)(ds, LENGTHS)
    # Batches cross the passes' boundaries: 4 units a pass, 3 a batch.
    return converted.batch(3) if passes else converted.repeat()


@pytest.mark.parametrize("passes", [False, True])
def test_restored_iterator_continues_where_it_was(tmp_path, passes):
    batches = pipeline(passes).take(16).as_numpy_iterator()
    uninterrupted = [b["encoder_input_tokens"] for b in batches]
    if passes:  # the passes draw windows anew: the fourth pass is not the first again
        assert not np.array_equal(uninterrupted[4], uninterrupted[0])
    iterator = iter(pipeline(passes))
    for _ in range(5):
        next(iterator)
    path = tf.train.Checkpoint(ds=iterator).save(str(tmp_path / "input"))
    restored = iter(pipeline(passes))
    tf.train.Checkpoint(ds=restored).restore(path)
    for expected in uninterrupted[5:]:
        np.testing.assert_array_equal(next(restored)["encoder_input_tokens"], expected)
