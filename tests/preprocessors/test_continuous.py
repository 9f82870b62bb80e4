"""Log-mel frames and image patches as continuous inputs."""

import numpy as np
import tensorflow as tf

from mt3_unified.preprocessors.continuous import (
    add_continuous_inputs,
    image_patches,
    log_mel_frames,
    patches_to_image,
)
from mt3_unified.preprocessors.frames import CONTINUOUS_MARKER, to_frames
from mt3_unified.vocab.layout import EOS_ID
from tests.preprocessors.helpers import dataset_of, listed, raw_example, vocab


def test_patches_go_column_by_column():
    image = tf.reshape(tf.range(16, dtype=tf.float32), [4, 4])
    patches = image_patches(image, image_height=4, patch_size=2).numpy()
    np.testing.assert_array_equal(
        patches, [[0, 1, 4, 5], [8, 9, 12, 13], [2, 3, 6, 7], [10, 11, 14, 15]]
    )


def test_patches_as_high_as_the_image_are_column_strips():
    image = tf.reshape(tf.range(12, dtype=tf.float32), [3, 4])
    strips = image_patches(image, image_height=3, patch_size=2, patch_height=3).numpy()
    np.testing.assert_array_equal(strips, [[0, 1, 4, 5, 8, 9], [2, 3, 6, 7, 10, 11]])
    tall = image_patches(tf.zeros([4, 2]), image_height=4, patch_size=1, patch_height=2)
    assert tall.shape == (4, 2)  # 2 columns of 2 rows of 2 x 1 patches


def test_patches_put_back_together_give_the_image():
    image = np.arange(24, dtype=np.float32).reshape(4, 6)
    for size, height in ((2, None), (2, 4), (3, 2)):
        patches = image_patches(tf.constant(image), image_height=4, patch_size=size,
                                patch_height=height).numpy()  # fmt: skip
        back = patches_to_image(patches, image_height=4, patch_size=size, patch_height=height)
        np.testing.assert_array_equal(back, image)


def test_patches_pad_the_width_with_white():
    patches = image_patches(tf.zeros([2, 3]), image_height=2, patch_size=2).numpy()
    np.testing.assert_array_equal(patches, [[0, 0, 0, 0], [0, 1, 0, 1]])


def test_log_mel_frame_count_and_a_tone():
    sr = 8000
    tone = np.sin(2 * np.pi * 1000 * np.arange(sr) / sr).astype(np.float32)
    mel = log_mel_frames(tone, sample_rate=sr, frame_rate=50, num_mel_bins=16, fft_size=256).numpy()
    assert mel.shape == (50, 16)
    assert int(np.argmax(mel[10])) == int(np.argmax(mel[40]))  # a steady tone: one loudest bin
    empty = log_mel_frames(
        np.zeros(0, np.float32), sample_rate=sr, frame_rate=50, num_mel_bins=16, fft_size=256
    )
    assert empty.shape == (0, 16)


def test_continuous_inputs_become_marker_frames():
    example = raw_example(image=np.zeros((4, 4), np.float32), lmx="measure")
    ds = add_continuous_inputs(
        dataset_of(example), modality="image", image_height=4, patch_size=2, feature_dim=6
    )
    ds = ds.map(lambda ex: {**ex, "lmx_ids": tf.constant([20])})
    (out,) = listed(
        to_frames(
            ds,
            input_modality="image",
            output_modality="lmx",
            vocabulary=vocab(),
            continuous_input=True,
        )
    )
    np.testing.assert_array_equal(out["inputs"][:, 0], [CONTINUOUS_MARKER] * 4 + [EOS_ID])
    assert out["continuous_inputs"].shape == (5, 6)
    np.testing.assert_array_equal(out["continuous_inputs"][-1], 0)


def test_strip_inputs_have_one_frame_a_column_and_the_strips_width():
    example = raw_example(image=np.zeros((4, 6), np.float32), lmx="measure")
    ds = add_continuous_inputs(
        dataset_of(example), modality="image", image_height=4, patch_size=2, patch_height=4
    )
    (out,) = listed(ds)
    assert out["continuous_inputs"].shape == (3, 8)


def test_symbolic_inputs_in_a_continuous_run_carry_zero_rows_of_its_width():
    ds = dataset_of(raw_example(lmx="measure")).map(
        lambda ex: {**ex, "lmx_ids": tf.constant([20, 21, 22]), "midi_ids": tf.constant([20])}
    )
    (out,) = listed(
        to_frames(
            ds, input_modality="lmx", output_modality="midi", vocabulary=vocab(),
            continuous_width=6,
        )
    )  # fmt: skip
    np.testing.assert_array_equal(out["continuous_inputs"], np.zeros((4, 6)))  # 3 ids + EOS
    (plain,) = listed(
        to_frames(ds, input_modality="lmx", output_modality="midi", vocabulary=vocab())
    )
    assert "continuous_inputs" not in plain


def test_zero_rows_fit_the_input_length_that_seqio_trims_the_inputs_to():
    ds = dataset_of(raw_example(lmx="measure")).map(
        lambda ex: {**ex, "lmx_ids": tf.constant([20, 21, 22]), "midi_ids": tf.constant([20])}
    )
    (out,) = listed(
        to_frames(
            ds, {"inputs": 3, "targets": 8}, input_modality="lmx", output_modality="midi",
            vocabulary=vocab(), continuous_width=6,
        )
    )  # fmt: skip
    # 3 ids + EOS are 4 frames, which seqio cuts to 3; the zero rows are 3 already.
    assert len(out["inputs"]) == 4
    np.testing.assert_array_equal(out["continuous_inputs"], np.zeros((3, 6)))
