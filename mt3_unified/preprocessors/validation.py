"""Finding examples a pipeline must not train on: a reason string per example, a filter, counts.

`invalid_reason` names the first problem of an example ("" when it has none)
in REASONS order; `drop_invalid` keeps the valid ones (pure TF, no counters,
so the training pipeline stays checkpointable); `count_invalid` iterates a
dataset once on the host and counts the reasons, for the trainer's start-up
log or a CLI. Runs on segmented examples, before `frames.to_frames`. A
source that cannot decode an image yields an empty one: "image_empty".
"""

from __future__ import annotations

import collections
from collections.abc import Mapping

import tensorflow as tf

from mt3_unified.preprocessors.frames import (
    CODE_FEATURES,
    CONTINUOUS,
    sequence_length_of,
)
from mt3_unified.vocab.layout import CODE_MODALITIES

REASONS = (
    "no_audio",  # no code frames (or, for continuous inputs, no samples)
    "audio_nan",  # NaN or infinite samples
    "image_empty",  # no code frames, or no pixels (or none that decode) for continuous inputs
    "image_nan",  # NaN or infinite pixels
    "codes_out_of_range",  # a code outside its codebook, or another codebook count
    "empty_input",  # a symbolic input without tokens
    "empty_target",  # a symbolic target without tokens
    "too_long",  # does not fit its feature length (with its EOS frame)
)
VALID = "valid"


def _not_finite(values: tf.Tensor) -> tf.Tensor:
    return tf.reduce_any(~tf.math.is_finite(values))


def _modality_problems(example, modality, vocabulary, continuous) -> list:
    """(condition, reason) pairs of one side's modality, in REASONS order."""
    if modality not in CODE_MODALITIES:
        return []
    raw = example[modality]  # the waveform or the pixels
    codes = example[CODE_FEATURES[modality]]
    absent = tf.equal(tf.size(raw), 0) if continuous else tf.equal(tf.shape(codes)[0], 0)
    num_books, size = vocabulary.config.codebooks(modality)
    wrong_books = tf.not_equal(tf.shape(codes)[1], num_books)
    outside = tf.reduce_any((codes < 0) | (codes >= size))
    bad_codes = (not continuous) & (tf.shape(codes)[0] > 0) & (wrong_books | outside)
    empty, nan = ("no_audio", "audio_nan") if modality == "audio" else ("image_empty", "image_nan")
    return [(absent, empty), (_not_finite(raw), nan), (bad_codes, "codes_out_of_range")]


def invalid_reason(
    example: Mapping,
    *,
    input_modality: str,
    output_modality: str,
    vocabulary,
    sequence_length: Mapping[str, int] | None = None,
    continuous_input: bool = False,
) -> tf.Tensor:
    """The first of REASONS that applies to `example` (a tf.string), or "".

    `continuous_input`: the input is read from `continuous_inputs` (its waveform
    or pixels must be there, its codes need not). Without `sequence_length`
    nothing is "too_long" (e.g. where `to_frames` trims).
    """
    continuous = continuous_input and CONTINUOUS in example
    problems = _modality_problems(example, input_modality, vocabulary, continuous)
    problems += _modality_problems(example, output_modality, vocabulary, False)
    lengths = {
        "inputs": sequence_length_of(example, input_modality, continuous),
        "targets": sequence_length_of(example, output_modality),
    }
    problems.append((tf.equal(lengths["inputs"], 0), "empty_input"))
    problems.append((tf.equal(lengths["targets"], 0), "empty_target"))
    if sequence_length:
        too_long = [lengths[k] + 1 > sequence_length[k] for k in lengths if k in sequence_length]
        problems.append((tf.reduce_any(too_long), "too_long"))
    problems.sort(key=lambda p: REASONS.index(p[1]))
    reason = tf.constant("")
    for condition, name in reversed(problems):  # the first that applies wins
        reason = tf.where(condition, tf.constant(name), reason)
    return reason


def drop_invalid(dataset: tf.data.Dataset, **kwargs) -> tf.data.Dataset:
    """Keeps the examples whose `invalid_reason(example, **kwargs)` is ""."""
    return dataset.filter(lambda example: tf.equal(invalid_reason(example, **kwargs), ""))


def count_invalid(dataset: tf.data.Dataset, **kwargs) -> dict[str, int]:
    """{reason: examples} for every one of REASONS (zeros included) and VALID; reads the
    whole dataset once, on the host (not part of a training pipeline)."""
    counts = collections.Counter(
        reason.decode() or VALID
        for reason in dataset.map(
            lambda example: invalid_reason(example, **kwargs)
        ).as_numpy_iterator()
    )
    return {name: counts.get(name, 0) for name in (*REASONS, VALID)}
