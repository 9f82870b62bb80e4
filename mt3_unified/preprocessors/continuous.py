"""Continuous inputs instead of codes, where a config asks: log-mel frames of audio, patches of
images.

`add_continuous_inputs` adds `continuous_inputs` float32 [L, D]; `frames.to_frames`
(with `continuous_input=True`) then gives `inputs` frames that only mark the L
frames present, and the model projects the features (ModelConfig's
`continuous_input_dim` must be D, `continuous_modalities` must list the
modality). One model taking both mel frames and patches needs one D:
`feature_dim` zero-pads the features to it. Pure TF (tf.signal): runs after the
cache point, after segmenting, so that windows of audio are cut first.
"""

from __future__ import annotations

import numpy as np
import tensorflow as tf

from mt3_unified.preprocessors.frames import CONTINUOUS


def feature_width(
    modality: str, *, num_mel_bins: int, patch_size: int, patch_height: int | None = None
) -> int:
    """D of a modality's continuous features: log-mel bins, or a patch's pixels (patches
    `patch_height` high, default square, and `patch_size` wide)."""
    if modality == "audio":
        return num_mel_bins
    return (patch_height or patch_size) * patch_size


def log_mel_frames(
    audio: tf.Tensor, *, sample_rate: int, frame_rate: float, num_mel_bins: int, fft_size: int
) -> tf.Tensor:
    """float32 [ceil(samples / hop), num_mel_bins] log-mel frames, hop = sample_rate / frame_rate
    (rounded to samples); window `fft_size` samples, the last frame padded with silence."""
    hop = int(round(sample_rate / frame_rate))
    stft = tf.signal.stft(
        tf.cast(audio, tf.float32), frame_length=fft_size, frame_step=hop, pad_end=True
    )
    frames = (tf.size(audio) + hop - 1) // hop  # pad_end adds frames past the last hop
    power = tf.abs(stft[:frames])
    mel = tf.signal.linear_to_mel_weight_matrix(
        num_mel_bins, fft_size // 2 + 1, sample_rate, 20.0, sample_rate / 2
    )
    return tf.math.log(tf.matmul(power, mel) + 1e-6)


def image_patches(
    image: tf.Tensor, *, image_height: int, patch_size: int, patch_height: int | None = None
) -> tf.Tensor:
    """float32 [columns * rows, patch_height * patch_size] patches of a gray image resized to
    `image_height` (aspect kept, width padded with white to whole patches), column by column
    left to right, top to bottom within a column (the image codes' order). Patches are
    `patch_size` wide and `patch_height` high (default: square); at `image_height` each
    patch is a whole column strip, one frame a column, as end-to-end OMR reads a staff."""
    patch_height = patch_height or patch_size
    if image_height % patch_height:
        raise ValueError(f"image_height {image_height} is not a multiple of {patch_height}")
    shape = tf.shape(image)
    width = tf.cast(tf.math.ceil(shape[1] * image_height / tf.maximum(shape[0], 1)), tf.int32)
    resized = tf.image.resize(image[:, :, None], [image_height, width])[:, :, 0]
    columns = (width + patch_size - 1) // patch_size
    resized = tf.pad(resized, [[0, 0], [0, columns * patch_size - width]], constant_values=1.0)
    rows = image_height // patch_height
    grid = tf.reshape(resized, [rows, patch_height, columns, patch_size])
    grid = tf.transpose(grid, [2, 0, 1, 3])  # columns, rows, patch rows, patch columns
    return tf.reshape(grid, [columns * rows, patch_height * patch_size])


def patches_to_image(
    patches: np.ndarray, *, image_height: int, patch_size: int, patch_height: int | None = None
) -> np.ndarray:
    """The [image_height, columns * patch_size] image that `image_patches` cut into
    ``patches`` [columns * rows, patch_height * patch_size] (its white padding included)."""
    patch_height = patch_height or patch_size
    rows = image_height // patch_height
    columns = len(patches) // rows
    grid = np.asarray(patches)[: columns * rows].reshape(columns, rows, patch_height, patch_size)
    return grid.transpose(1, 2, 0, 3).reshape(image_height, columns * patch_size)


def add_continuous_inputs(
    dataset: tf.data.Dataset,
    *,
    modality: str,
    sample_rate: int = 16000,
    frame_rate: float = 100.0,
    num_mel_bins: int = 128,
    fft_size: int = 1024,
    image_height: int = 64,
    patch_size: int = 8,
    patch_height: int | None = None,
    feature_dim: int | None = None,
) -> tf.data.Dataset:
    """Adds `continuous_inputs` float32 [L, D] of the example's `audio` (log-mel, D =
    num_mel_bins) or `image` (patches, D = patch_height * patch_size, patch_height
    defaulting to patch_size); empty material gives L = 0
    (validation drops it). Audio must come at `sample_rate`."""
    if modality == "audio":
        features = lambda ex: log_mel_frames(
            ex["audio"],
            sample_rate=sample_rate,
            frame_rate=frame_rate,
            num_mel_bins=num_mel_bins,
            fft_size=fft_size,
        )
        dim = num_mel_bins
    elif modality == "image":
        dim = feature_width(
            "image", num_mel_bins=num_mel_bins, patch_size=patch_size, patch_height=patch_height
        )

        def features(ex):
            empty = tf.equal(tf.size(ex["image"]), 0)
            return tf.cond(
                empty,
                lambda: tf.zeros([0, dim]),
                lambda: image_patches(
                    ex["image"],
                    image_height=image_height,
                    patch_size=patch_size,
                    patch_height=patch_height,
                ),
            )

    else:
        raise ValueError(f"continuous inputs are audio or image, not {modality!r}")
    if feature_dim is not None and feature_dim < dim:
        raise ValueError(f"feature_dim {feature_dim} is below the {modality} features' {dim}")
    pad = 0 if feature_dim is None else feature_dim - dim

    def add(example):
        values = tf.ensure_shape(features(example), [None, dim])
        return {**example, CONTINUOUS: tf.pad(values, [[0, 0], [0, pad]])}

    return dataset.map(add, num_parallel_calls=tf.data.AUTOTUNE)
