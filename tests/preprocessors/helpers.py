"""Hand-made raw examples and the small vocabulary the preprocessor tests share."""

from __future__ import annotations

import functools

import numpy as np
import tensorflow as tf

from mt3_unified.corpus.notes import note_arrays
from mt3_unified.preprocessors.raw import NOTE_PREFIX, empty_raw_example
from mt3_unified.vocab.midi_events import MidiEventConfig
from mt3_unified.vocab.unified import UnifiedVocabulary, VocabularyConfig

# 2 image codebooks of 16, 3 audio codebooks of 16 (K = 3); 1 s shift range, 4 velocity bins.
SMALL = VocabularyConfig(
    image_codebooks=2,
    image_codebook_size=16,
    audio_codebooks=3,
    audio_codebook_size=16,
    midi=MidiEventConfig(max_shift_seconds=1.0, num_velocity_bins=4),
)


@functools.cache
def vocab() -> UnifiedVocabulary:
    return UnifiedVocabulary(SMALL)


def raw_example(**values) -> dict[str, tf.Tensor]:
    """empty_raw_example() with `values` filled in; `notes` takes rows
    (onset, offset, pitch, velocity, program, is_drum)."""
    example = empty_raw_example()
    for field, array in note_arrays(values.pop("notes", [])).items():
        example[NOTE_PREFIX + field] = tf.constant(array)
    for name, value in values.items():
        example[name] = tf.constant(value, dtype=example[name].dtype)
    return example


def dataset_of(*examples) -> tf.data.Dataset:
    """A dataset of raw examples (their shapes may differ)."""

    def generate():
        yield from examples

    first = examples[0]
    spec = {name: tf.TensorSpec([None] * v.shape.rank, v.dtype) for name, v in first.items()}
    return tf.data.Dataset.from_generator(generate, output_signature=spec)


def listed(dataset: tf.data.Dataset) -> list[dict]:
    return list(dataset.as_numpy_iterator())


def midi(vocabulary, *events) -> list[int]:
    """Unified ids of ("shift", 5), ("pitch", 60), ("tie",) ... events."""
    codec = vocabulary.midi_codec
    lo = vocabulary.id_range("midi")[0]
    return [lo + codec.encode_event(e[0], e[1] if len(e) > 1 else 0) for e in events]


def codes(rows) -> np.ndarray:
    return np.asarray(rows, np.int32)
