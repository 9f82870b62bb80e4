"""The raw example every task source yields, whatever the corpus: the preprocessors' input.

One raw example is one unit of music (a score system, a recording, a user's pair
of files) seen in every modality its source holds. A modality the source lacks is
present all the same, empty (an empty string, zero notes, zero frames), so that
every source yields the same structure and one preprocessor chain serves them all.
Code features come from a baked corpus (`mt3_unified.codecs.baked`), waveform and
pixels from a TFDS corpus or the user's files; a source fills what it has.
"""

from __future__ import annotations

import tensorflow as tf

from mt3_unified.corpus.notes import NOTE_DTYPES

NOTE_PREFIX = "notes/"

# name -> spec; "?" axes differ from example to example.
RAW_FEATURES: dict[str, tf.TensorSpec] = {
    "piece_id": tf.TensorSpec([], tf.string),  # the piece (or recording) it belongs to
    "unit_index": tf.TensorSpec([], tf.int32),  # its place in the piece (system number, ...)
    "start_time": tf.TensorSpec([], tf.float32),  # seconds from the piece's start
    "lmx": tf.TensorSpec([], tf.string),  # LMX tokens joined by single spaces
    **{
        NOTE_PREFIX + name: tf.TensorSpec([None], tf.as_dtype(dtype))
        for name, dtype in NOTE_DTYPES.items()
    },  # performed notes, seconds from start_time
    "image_codes": tf.TensorSpec([None, None], tf.int32),  # [T, K] raw codes (not ids)
    "audio_codes": tf.TensorSpec([None, None], tf.int32),  # [T, K] raw codes (not ids)
    "audio_frame_rate": tf.TensorSpec([], tf.float32),  # audio code frames a second; 0: none
    "variant": tf.TensorSpec([], tf.int32),  # shift variant of the codes; 0 unshifted
    "image": tf.TensorSpec([None, None], tf.float32),  # [H, W] gray in [0, 1], 1 white
    "audio": tf.TensorSpec([None], tf.float32),  # mono samples in [-1, 1]
    "sample_rate": tf.TensorSpec([], tf.int32),  # of `audio`; 0: none
}


def empty_raw_example() -> dict[str, tf.Tensor]:
    """A raw example holding nothing: sources start from it and fill what they have."""
    return {
        name: tf.zeros([0 if d is None else d for d in spec.shape], spec.dtype)
        if spec.shape.rank
        else tf.zeros([], spec.dtype)
        for name, spec in RAW_FEATURES.items()
    }
