"""The MIDI event ids of one time window, written in pure TF from `tokenize`'s events.

The same tokens as the Python codec's `encode_note_sequence` with explicit
segment starts (`vocab/midi_events.py` states the grammar): a tie section
listing the notes sounding at the window's start, then the body, whose shift
runs count steps from the window's start; program and velocity tokens only
where their state changes, both states reset at the window's start. Runs after
the cache point, so windows can be chosen there (a random crop, or every
segment of a piece).
"""

from __future__ import annotations

import tensorflow as tf

from mt3_unified.preprocessors.tokenize import DRUM, OFF
from mt3_unified.vocab.midi_events import DRUM as DRUM_TYPE
from mt3_unified.vocab.midi_events import PITCH, PROGRAM, SHIFT, TIE, VELOCITY

OPEN = -1  # an end step that leaves the window open: every later event belongs to it


def midi_window_ids(events, spans, start_step, end_step, vocabulary) -> tf.Tensor:
    """Unified int32 ids of the window [start_step, end_step] (steps of the MIDI grid).

    Onsets and drum hits in [start, end), offsets in (start, end] (a note ending
    on the boundary closes before it); `end_step` OPEN takes everything after start.
    """
    config = vocabulary.config.midi
    codec = vocabulary.midi_codec
    base = vocabulary.id_range("midi")[0]
    shift_lo = base + codec.event_range(SHIFT)[0]
    pitch_lo = base + codec.event_range(PITCH)[0]
    velocity_lo = base + codec.event_range(VELOCITY)[0]
    tie_id = base + codec.encode_event(TIE)
    programs_on = config.include_programs
    program_lo = base + codec.event_range(PROGRAM)[0] if programs_on else 0
    drum_lo = base + codec.event_range(DRUM_TYPE)[0] if config.include_drums else 0
    max_shift = config.max_shift_steps
    start = tf.cast(start_step, tf.int32)
    end = tf.cast(end_step, tf.int32)

    # Tie section: pitched notes sounding at the start, by (program, pitch).
    sounding = tf.boolean_mask(spans, (spans[:, 0] < start) & (spans[:, 1] > start))
    order = tf.argsort(sounding[:, 2] * 128 + sounding[:, 3], stable=True)
    sounding = tf.gather(sounding, order)
    tie_programs, tie_pitches = sounding[:, 2], sounding[:, 3]
    previous = tf.concat([[-1], tie_programs[:-1]], axis=0)
    new_program = tf.not_equal(tie_programs, previous) & programs_on
    tie_rows = tf.stack([program_lo + tie_programs, pitch_lo + tie_pitches], axis=1)
    tie_mask = tf.stack([new_program, tf.ones_like(new_program)], axis=1)
    tie_section = tf.concat([tf.boolean_mask(tie_rows, tie_mask), [tie_id]], axis=0)
    program_after_ties = tf.cond(
        tf.size(tie_programs) > 0, lambda: tie_programs[-1], lambda: tf.constant(-1)
    )

    # Body: the events of the window, in the codec's order (tokenize sorted them).
    step, kind = events[:, 0], events[:, 1]
    after_start = (step > start) | ((step == start) & (kind != OFF))
    before_end = (end == OPEN) | (step < end) | ((step == end) & (kind == OFF))
    body = tf.boolean_mask(events, after_start & before_end)
    step, kind, program, velocity, pitch = tf.unstack(body, num=5, axis=1)
    is_drum = tf.equal(kind, DRUM)

    # Shift runs where the step changes: [max_shift, ..., remainder] summing to step - start.
    previous_step = tf.concat([[start], step[:-1]], axis=0)
    relative = step - start
    runs = tf.where(step != previous_step, (relative + max_shift - 1) // max_shift, 0)
    width = tf.maximum(tf.reduce_max(tf.concat([runs, [0]], 0)), 0)
    j = tf.range(width)[None, :]
    shift_tokens = shift_lo + tf.minimum(max_shift, relative[:, None] - j * max_shift)
    shift_mask = j < runs[:, None]

    # Program state: the program of the last pitched event before, else the tie section's.
    pitched_programs = tf.boolean_mask(program, ~is_drum)
    pitched_before = tf.cumsum(tf.cast(~is_drum, tf.int32), exclusive=True)
    state = tf.gather(tf.concat([[program_after_ties], pitched_programs], 0), pitched_before)
    new_program = (~is_drum) & tf.not_equal(program, state) & programs_on
    # Velocity state: every event leaves its own velocity bin (0 for a note-off).
    new_velocity = tf.not_equal(velocity, tf.concat([[-1], velocity[:-1]], axis=0))
    main = tf.where(is_drum, drum_lo + pitch, pitch_lo + pitch)

    rows = tf.concat(
        [shift_tokens, tf.stack([program_lo + program, velocity_lo + velocity, main], 1)], axis=1
    )
    mask = tf.concat(
        [shift_mask, tf.stack([new_program, new_velocity, tf.ones_like(is_drum)], 1)], axis=1
    )
    return tf.concat([tie_section, tf.boolean_mask(rows, mask)], axis=0)
