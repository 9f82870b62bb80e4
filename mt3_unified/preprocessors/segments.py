"""Cutting material into examples that fit the feature lengths: audio windows with their notes'
MIDI events, or whole units.

Audio <-> MIDI: a unit's audio is cut into windows of `L - 1` frames (the
audio side's feature length less its EOS frame), and each window gets the
MIDI events of the same time span, MT3's way (`midi_window`): a tie section
for the notes held over from before, times counted from the window's start.
In training each unit yields one window at a seeded random offset
(`variants.unit_choice`: the same unit, seed and pass over the data, the same
window; each pass, `variants.EPOCH`, draws again); in evaluation every window
in order, covering the unit from its start to its end, the last one left open
so that every note lands in exactly one window.
Each window's `start_time` is the unit's plus the window's offset, for stitching.

Image and LMX units (score systems) stay whole (`unit_midi`): one example per
unit; one longer than the feature lengths is dropped by
`validation.drop_invalid` and counted there as "too_long".

Pure TF: these run after the cache point.
"""

from __future__ import annotations

from collections.abc import Mapping

import tensorflow as tf

from mt3_unified.preprocessors.midi_window import OPEN, midi_window_ids
from mt3_unified.preprocessors.tokenize import MIDI_EVENTS, MIDI_SPANS
from mt3_unified.preprocessors.variants import unit_choice


def _step(seconds, vocabulary) -> tf.Tensor:
    """Seconds -> MIDI grid step, rounding half up as the event codec's `quantize`."""
    sps = float(vocabulary.config.midi.steps_per_second)
    return tf.cast(tf.maximum(tf.floor(seconds * sps + 0.5), 0.0), tf.int32)


def _index(seconds, rate) -> tf.Tensor:
    return tf.cast(tf.round(seconds * tf.cast(rate, tf.float64)), tf.int32)


def _window_frames(example, frame_rate) -> tuple[tf.Tensor, tf.Tensor]:
    """(frames the unit spans, frames a second): the audio codes' own, or with `frame_rate`
    (continuous inputs) the waveform's length at that rate."""
    if frame_rate is None:
        return tf.shape(example["audio_codes"])[0], tf.cast(example["audio_frame_rate"], tf.float64)
    rate = tf.constant(float(frame_rate), tf.float64)
    samples = tf.cast(tf.size(example["audio"]), tf.float64)
    seconds = samples / tf.maximum(tf.cast(example["sample_rate"], tf.float64), 1.0)
    return tf.cast(tf.math.ceil(seconds * rate), tf.int32), rate


def _cut(example, first_frame, frames, rate, open_end, vocabulary) -> dict:
    """The window of `frames` frames from `first_frame`: audio codes, samples and MIDI ids."""
    rate = tf.maximum(rate, 1e-9)  # a unit without audio has rate 0: validation drops it
    t0 = tf.cast(first_frame, tf.float64) / rate
    t1 = tf.cast(first_frame + frames, tf.float64) / rate
    out = dict(example)
    code_rate = tf.cast(example["audio_frame_rate"], tf.float64)
    out["audio_codes"] = example["audio_codes"][_index(t0, code_rate) : _index(t1, code_rate)]
    sample_rate = example["sample_rate"]
    out["audio"] = example["audio"][_index(t0, sample_rate) : _index(t1, sample_rate)]
    end = tf.where(open_end, OPEN, _step(t1, vocabulary))
    out["midi_ids"] = midi_window_ids(
        example[MIDI_EVENTS], example[MIDI_SPANS], _step(t0, vocabulary), end, vocabulary
    )
    out["start_time"] = example["start_time"] + tf.cast(t0, tf.float32)
    return out


def segment_audio_and_notes(
    dataset: tf.data.Dataset,
    sequence_length: Mapping[str, int],
    *,
    training: bool,
    audio_side: str,
    vocabulary,
    frame_rate: float | None = None,
    seed: int = 0,
) -> tf.data.Dataset:
    """Audio windows with the MIDI ids (`midi_ids`) of their time span (module docstring).

    `audio_side` ("inputs" or "targets") names the feature the audio becomes: its
    length less one EOS frame is the window. In training one window a unit, at an offset
    keyed by the unit, `seed` and the example's pass (`variants.EPOCH`, 0 without one).
    Windows count audio code frames at the example's `audio_frame_rate`, or with
    `frame_rate` (continuous inputs: mel frames a second) the waveform's frames at that
    rate; codes and samples are both cut to the window's time span where present.
    """
    frames = int(sequence_length[audio_side]) - 1
    if frames < 1:
        raise ValueError(f"sequence_length[{audio_side!r}] must be at least 2, got {frames + 1}")

    if training:

        def crop(example):
            total, rate = _window_frames(example, frame_rate)
            offsets = tf.maximum(total - frames, 0) + 1
            first = tf.cast(unit_choice(example, offsets, seed=seed, salt="segment"), tf.int32)
            return _cut(example, first, frames, rate, tf.constant(False), vocabulary)

        return dataset.map(crop, num_parallel_calls=tf.data.AUTOTUNE)

    def every_window(example):
        total, rate = _window_frames(example, frame_rate)
        firsts = tf.range(0, tf.maximum(total, 1), frames)
        last = tf.size(firsts) - 1
        windows = tf.data.Dataset.from_tensor_slices((firsts, tf.range(tf.size(firsts))))
        return windows.map(
            lambda first, i: _cut(example, first, frames, rate, tf.equal(i, last), vocabulary)
        )

    return dataset.flat_map(every_window)


def unit_midi(dataset: tf.data.Dataset, *, vocabulary) -> tf.data.Dataset:
    """Adds `midi_ids` of a whole unit (the window from its start, open-ended)."""

    def whole(example):
        ids = midi_window_ids(example[MIDI_EVENTS], example[MIDI_SPANS], 0, OPEN, vocabulary)
        return {**example, "midi_ids": ids}

    return dataset.map(whole, num_parallel_calls=tf.data.AUTOTUNE)
