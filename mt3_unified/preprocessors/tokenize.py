"""Symbolic tokens of a raw example: LMX ids (a TF table) and the notes' MIDI events (pre-cache).

`tokenize_symbolic` runs before the cache point: the notes go through the
Python event codec's `canonical_notes` (tf.numpy_function), which fixes the
step grid, overlaps and duplicates once per unit. What it stores is
window-free: the sorted note events and the sounding spans, from which
`midi_window.midi_window_ids` writes any time window's event ids in pure TF
after the cache point (segments are chosen there).
"""

from __future__ import annotations

from typing import NamedTuple

import numpy as np
import tensorflow as tf

from mt3_unified.preprocessors.raw import NOTE_PREFIX
from mt3_unified.vocab.layout import UNK_ID
from mt3_unified.vocab.lmx.tokens import LMX_TOKENS
from mt3_unified.vocab.midi_events import canonical_notes
from mt3_unified.vocab.unified import UnifiedVocabulary

# [E, 5] rows (step, kind, program, velocity_bin, pitch) in the codec's order; kind 0 off,
# 1 on, 2 drum hit.
MIDI_EVENTS = "midi_events"
# [N, 4] rows (onset_step, offset_step, program, pitch) of the pitched notes: the tie sections.
MIDI_SPANS = "midi_spans"
OFF, ON, DRUM = 0, 1, 2


class _Note(NamedTuple):
    """The fields of a NoteSequence note that `canonical_notes` reads."""

    start_time: float
    end_time: float
    pitch: int
    velocity: int
    program: int
    is_drum: bool


class _Notes(NamedTuple):
    notes: list


def note_events(notes: dict[str, np.ndarray], vocabulary) -> tuple[np.ndarray, np.ndarray]:
    """(events [E, 5], spans [N, 4]) int32 of raw note arrays (`notes/*` without the prefix),
    on the vocabulary's MIDI step grid, sorted as the event codec writes them."""
    rows = zip(
        notes["onset"],
        notes["offset"],
        notes["pitch"],
        notes["velocity"],
        notes["program"],
        notes["is_drum"],
        strict=True,
    )
    sequence = _Notes(
        [_Note(float(a), float(b), int(p), int(v), int(g), bool(d)) for a, b, p, v, g, d in rows]
    )
    canonical = canonical_notes(sequence, vocabulary.config.midi)
    events, spans = [], []
    for n in canonical:
        if n.is_drum:
            events.append((n.onset_step, DRUM, 0, n.velocity_bin, n.pitch))
        else:
            events.append((n.onset_step, ON, n.program, n.velocity_bin, n.pitch))
            events.append((n.offset_step, OFF, n.program, 0, n.pitch))
            spans.append((n.onset_step, n.offset_step, n.program, n.pitch))
    events.sort()
    return (
        np.asarray(events, np.int32).reshape(-1, 5),
        np.asarray(spans, np.int32).reshape(-1, 4),
    )


def lmx_table(vocabulary) -> tf.lookup.StaticHashTable:
    """LMX token -> unified id, <unk> for any other word.

    Built eagerly, once per pipeline, and captured by the map: a table first
    made inside a dataset function would belong to that function's graph.
    """
    lo, hi = vocabulary.id_range("lmx")
    keys = tf.constant(list(LMX_TOKENS))
    values = tf.range(lo, hi, dtype=tf.int32)
    return tf.lookup.StaticHashTable(tf.lookup.KeyValueTensorInitializer(keys, values), UNK_ID)


def lmx_ids(lmx: tf.Tensor, table: tf.lookup.StaticHashTable) -> tf.Tensor:
    """int32 [N] ids of a space-joined LMX string (`lmx_table`'s lookup)."""
    return table.lookup(tf.strings.split(lmx))


def tokenize_symbolic(dataset: tf.data.Dataset, *, vocabulary: UnifiedVocabulary):
    """Adds `lmx_ids` (int32 [N]) and the notes' `midi_events` / `midi_spans` (see above).

    Pre-cache: the MIDI part calls Python (tf.numpy_function). The raw `notes/*`
    features stay, for sources that want them later.
    """
    table = lmx_table(vocabulary)
    names = ("onset", "offset", "pitch", "velocity", "program", "is_drum")

    def python_events(*arrays):
        return note_events(dict(zip(names, arrays, strict=True)), vocabulary)

    def tokenize(example):
        events, spans = tf.numpy_function(
            python_events,
            [example[NOTE_PREFIX + name] for name in names],
            [tf.int32, tf.int32],
            stateful=False,
        )
        return {
            **example,
            "lmx_ids": lmx_ids(example["lmx"], table),
            MIDI_EVENTS: tf.ensure_shape(events, [None, 5]),
            MIDI_SPANS: tf.ensure_shape(spans, [None, 4]),
        }

    return dataset.map(tokenize, num_parallel_calls=tf.data.AUTOTUNE)
