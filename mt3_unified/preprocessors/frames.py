"""Frames of unified ids for one (input, output) modality pair: what the feature converter takes.

Every sequence becomes [L, K] frames (K = the vocabulary's largest codebook
count): symbolic ids in slot 0 with PAD in the others; RVQ frames with
codebook k's raw code offset into `vocabulary.id_range(modality, k)`. Both
`inputs` and `targets` end with an EOS frame [EOS, PAD, ...]; the BOS frame
is the feature converter's job. Pure TF: runs after the cache point.
"""

from __future__ import annotations

from collections.abc import Mapping

import tensorflow as tf

from mt3_unified.vocab.layout import (
    CODE_MODALITIES,
    EOS_ID,
    MODALITIES,
    PAD_ID,
    SEP_ID,
    TASKS,
)

# Where each modality's content lives in a tokenized, segmented example.
SYMBOLIC_FEATURES = {"lmx": "lmx_ids", "midi": "midi_ids"}
CODE_FEATURES = {"image": "image_codes", "audio": "audio_codes"}
CONTINUOUS = "continuous_inputs"
# Slot 0 of a continuous input's frames: marks the frame present (the encoder masks PAD ones).
CONTINUOUS_MARKER = SEP_ID
# What an example carries from here on.
FRAME_FEATURES = (
    "inputs",
    "targets",
    "input_modality",
    "target_modality",
    "task",
    "piece_id",
    "start_time",
)


def k_max(vocabulary) -> int:
    """Slots a frame has: the largest codebook count of any modality."""
    return max(vocabulary.num_codebooks(m) for m in MODALITIES)


def code_ids(codes: tf.Tensor, modality: str, vocabulary) -> tf.Tensor:
    """[T, K_m] raw codes -> [T, K_m] unified ids (codebook k offset into its range)."""
    offsets = [
        vocabulary.id_range(modality, k)[0] for k in range(vocabulary.num_codebooks(modality))
    ]
    return tf.cast(codes, tf.int32) + tf.constant(offsets, tf.int32)


def sequence_length_of(example: Mapping, modality: str, continuous: bool = False) -> tf.Tensor:
    """Frames the modality's content becomes, without the EOS frame."""
    if continuous:
        return tf.shape(example[CONTINUOUS])[0]
    if modality in CODE_MODALITIES:
        return tf.shape(example[CODE_FEATURES[modality]])[0]
    return tf.size(example[SYMBOLIC_FEATURES[modality]])


def modality_frames(
    example: Mapping, modality: str, vocabulary, continuous: bool = False
) -> tf.Tensor:
    """[T, K] frames of the modality's content (no EOS)."""
    slots = k_max(vocabulary)
    if continuous:
        length = tf.shape(example[CONTINUOUS])[0]
        marker = tf.fill([length, 1], CONTINUOUS_MARKER)
        return tf.pad(marker, [[0, 0], [0, slots - 1]])
    if modality in CODE_MODALITIES:
        ids = code_ids(example[CODE_FEATURES[modality]], modality, vocabulary)
        ids = tf.ensure_shape(ids, [None, vocabulary.num_codebooks(modality)])
        return tf.pad(ids, [[0, 0], [0, slots - vocabulary.num_codebooks(modality)]])
    ids = tf.cast(example[SYMBOLIC_FEATURES[modality]], tf.int32)
    return tf.pad(ids[:, None], [[0, 0], [0, slots - 1]])


def _with_eos(frames: tf.Tensor, length: int | None, trim: bool) -> tf.Tensor:
    """Frames cut to `length - 1` (when `trim`) with the EOS frame appended."""
    if trim and length is not None:
        frames = frames[: length - 1]
    eos = tf.one_hot([0], tf.shape(frames)[1], on_value=EOS_ID, off_value=PAD_ID, dtype=tf.int32)
    return tf.concat([frames, eos], axis=0)


def to_frames(
    dataset: tf.data.Dataset,
    sequence_length: Mapping[str, int] | None = None,
    *,
    input_modality: str,
    output_modality: str,
    vocabulary,
    trim: bool = False,
    continuous_input: bool = False,
    continuous_width: int = 0,
) -> tf.data.Dataset:
    """Each example as FRAME_FEATURES (module docstring), plus `continuous_inputs` with a zero
    row for the EOS frame where `continuous_input` (the `inputs` frames then only mark presence).
    A `continuous_width` D > 0 gives the examples of code or symbol inputs zero
    `continuous_inputs` [L, D] (the model ignores them): a run with continuous inputs for
    some modalities can then mix every task in one tf.data structure.

    `trim` cuts a sequence longer than its feature length to fit (MT3 trims the
    MIDI of dense audio windows so); without it a too-long example should have
    been dropped by `validation.drop_invalid` (seqio would trim it, EOS and all).
    """
    task = TASKS.index(f"{input_modality}_to_{output_modality}")
    lengths = dict(sequence_length or {})

    def convert(example):
        inputs = modality_frames(example, input_modality, vocabulary, continuous_input)
        targets = modality_frames(example, output_modality, vocabulary)
        out = {
            "inputs": _with_eos(inputs, lengths.get("inputs"), trim),
            "targets": _with_eos(targets, lengths.get("targets"), trim),
            "input_modality": tf.constant(MODALITIES.index(input_modality), tf.int32),
            "target_modality": tf.constant(MODALITIES.index(output_modality), tf.int32),
            "task": tf.constant(task, tf.int32),
            "piece_id": example["piece_id"],
            "start_time": tf.cast(example["start_time"], tf.float32),
        }
        if continuous_input:
            rows = tf.shape(out["inputs"])[0] - 1
            values = tf.cast(example[CONTINUOUS], tf.float32)[:rows]
            out[CONTINUOUS] = tf.pad(values, [[0, 1], [0, 0]])
        elif continuous_width:
            # As many rows as the inputs keep once seqio trims them to their length: an
            # input of exactly that many frames (an inference unit cut to fit) has one more
            # with its EOS, which seqio cuts from `inputs` but not from these rows.
            rows = tf.shape(out["inputs"])[0]
            if lengths.get("inputs"):
                rows = tf.minimum(rows, lengths["inputs"])
            out[CONTINUOUS] = tf.zeros([rows, continuous_width])
        return out

    return dataset.map(convert, num_parallel_calls=tf.data.AUTOTUNE)
