"""The feature converter writes exactly the batch the model takes."""

import jax
import numpy as np
import tensorflow as tf

from mt3_unified.model.model import UnifiedModel
from mt3_unified.preprocessors.feature_converter import UnifiedFeatureConverter
from mt3_unified.preprocessors.frames import to_frames
from mt3_unified.preprocessors.tokenize import tokenize_symbolic
from mt3_unified.vocab.layout import EOS_ID, MODALITIES, TASKS
from tests.model.helpers import TINY
from tests.preprocessors.helpers import dataset_of, listed, raw_example, vocab

LENGTHS = {"inputs": 5, "targets": 4}


def frames_of(example, src, tgt):
    ds = tokenize_symbolic(dataset_of(example), vocabulary=vocab())
    return to_frames(ds, input_modality=src, output_modality=tgt, vocabulary=vocab())


def test_one_example_exactly():
    example = raw_example(lmx="measure", audio_codes=[[1, 2, 3], [4, 5, 6]])
    ds = UnifiedFeatureConverter(vocab())(frames_of(example, "audio", "lmx"), LENGTHS)
    (out,) = listed(ds)
    np.testing.assert_array_equal(
        out["encoder_input_tokens"],
        [[771, 788, 805], [774, 791, 808], [EOS_ID, 0, 0], [0, 0, 0], [0, 0, 0]],
    )
    np.testing.assert_array_equal(
        out["decoder_target_tokens"], [[20, 0, 0], [1, 0, 0], [0, 0, 0], [0, 0, 0]]
    )
    # BOS <to:lmx> = 17, then the targets shifted right.
    np.testing.assert_array_equal(
        out["decoder_input_tokens"], [[17, 0, 0], [20, 0, 0], [1, 0, 0], [0, 0, 0]]
    )
    np.testing.assert_array_equal(out["decoder_loss_weights"][:, 0], [1, 1, 0, 0])
    assert out["decoder_loss_weights"][:, 1:].sum() == 0
    assert (out["encoder_input_modality"], out["target_modality"], out["task"]) == (
        MODALITIES.index("audio"),
        MODALITIES.index("lmx"),
        TASKS.index("audio_to_lmx"),
    )


def test_rvq_targets_weigh_every_codebook():
    example = raw_example(lmx="measure", audio_codes=[[1, 2, 3]])
    (out,) = listed(UnifiedFeatureConverter(vocab())(frames_of(example, "lmx", "audio"), LENGTHS))
    np.testing.assert_array_equal(out["decoder_input_tokens"][:2], [[19, 0, 0], [771, 788, 805]])
    np.testing.assert_array_equal(
        out["decoder_loss_weights"][:3], [[1, 1, 1], [1, 0, 0], [0, 0, 0]]
    )


def test_a_converted_batch_passes_the_model():
    examples = [
        frames_of(raw_example(lmx="measure", audio_codes=[[1, 2, 3], [4, 5, 6]]), "audio", "lmx"),
        frames_of(raw_example(lmx="measure measure", image_codes=[[1, 2]]), "lmx", "image"),
        frames_of(
            raw_example(image_codes=[[3, 4], [5, 6]], audio_codes=[[7, 8, 9]]), "image", "audio"
        ),
    ]
    ds = examples[0].concatenate(examples[1]).concatenate(examples[2])
    batch = next(UnifiedFeatureConverter(vocab())(ds, LENGTHS).batch(3).as_numpy_iterator())
    model = UnifiedModel(TINY, vocab())
    params = model.init(jax.random.key(0))
    loss, metrics = model.loss_fn(params, batch)
    assert np.isfinite(float(loss))
    assert float(metrics["num_tokens"]) == 2 + 3 + 4


def test_continuous_converter_carries_the_features():
    ds = tf.data.Dataset.from_tensors(
        {
            "inputs": tf.constant([[3, 0, 0], [EOS_ID, 0, 0]]),
            "targets": tf.constant([[20, 0, 0], [EOS_ID, 0, 0]]),
            "continuous_inputs": tf.ones([2, 6]),
            "input_modality": 0,
            "target_modality": 1,
            "task": 0,
        }
    )
    lengths = {**LENGTHS, "continuous_inputs": 5}
    (out,) = listed(UnifiedFeatureConverter(vocab(), continuous=True)(ds, lengths))
    np.testing.assert_array_equal(out["encoder_continuous_inputs"].sum(1), [6, 6, 0, 0, 0])
