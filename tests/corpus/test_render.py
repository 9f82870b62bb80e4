"""The MIDI file fluidsynth plays (exact bytes, pretty_midi's layout) and its rendering."""

from __future__ import annotations

import io
import random
import shutil

import numpy as np
import pretty_midi
import pytest

from mt3_unified.corpus.perform import PerformedNote
from mt3_unified.corpus.render import MIDI_QPM, MIDI_RESOLUTION, notes_to_midi_bytes

from .conftest import needs_fluidsynth


def test_two_notes_give_these_bytes():
    midi = notes_to_midi_bytes([PerformedNote(0.0, 0.5, 60, 80), PerformedNote(0.5, 1.25, 64, 70)])
    expected = (
        "4d546864000000060001000201f4"  # format 1, 2 tracks, 500 ticks a quarter
        "4d54726b0000001300ff510307a12000ff58040402180801ff2f00"  # 120 qpm, 4/4
        "4d54726b00000016"
        "00c000"  # program 0
        "00903c50"  # tick 0: C4 on, velocity 80
        "83743c00"  # tick 500: C4 off (velocity 0), running status
        "004046"  # tick 500: E4 on, velocity 70
        "856e4000"  # tick 1250: E4 off
        "01ff2f00"
    )
    assert midi.hex() == expected


def _pretty_midi_bytes(notes) -> bytes:
    """What pretty_midi writes for the notes (the writer the project used before)."""
    pm = pretty_midi.PrettyMIDI(resolution=MIDI_RESOLUTION, initial_tempo=MIDI_QPM)
    instruments = {}
    for n in notes:
        key = (n.program, n.is_drum)
        if key not in instruments:
            instruments[key] = pretty_midi.Instrument(program=key[0], is_drum=key[1])
        instruments[key].notes.append(
            pretty_midi.Note(velocity=n.velocity, pitch=n.pitch, start=n.onset, end=n.offset)
        )
    pm.instruments = [instruments[k] for k in sorted(instruments)]
    buf = io.BytesIO()
    pm.write(buf)
    return buf.getvalue()


def test_same_bytes_as_pretty_midi_on_seeded_notes():
    rng = random.Random(7)
    for trial in range(40):
        notes = []
        for _ in range(rng.randint(1, 120)):
            onset = round(rng.uniform(0, 300), 3)
            length = rng.choice([0.001, 0.002, round(rng.uniform(0.001, 4), 3)])
            program = rng.choice([0, 0, 40]) if trial % 2 else 0
            drum = trial % 5 == 0 and rng.random() < 0.3
            notes.append(
                PerformedNote(
                    onset, round(onset + length, 3), rng.randint(21, 108), rng.randint(1, 127)
                )
            )
            notes[-1].program, notes[-1].is_drum = program, drum
        assert notes_to_midi_bytes(notes) == _pretty_midi_bytes(notes), trial


@needs_fluidsynth
def test_library_renders_what_the_command_renders_and_the_same_every_time():
    from mt3_unified.corpus.render import (
        DEFAULT_SOUNDFONT,
        _render_midi_command,
        render_midi,
        synthesizer,
    )

    if synthesizer() != "libfluidsynth" or shutil.which("fluidsynth") is None:
        pytest.skip("needs both libfluidsynth and the fluidsynth command")
    notes = [PerformedNote(0.1 * i, 0.1 * i + 0.4, 48 + 2 * i, 60 + i) for i in range(12)]
    midi = notes_to_midi_bytes(notes)
    first = render_midi(midi, 16000, 32000)
    render_midi(notes_to_midi_bytes([PerformedNote(0.0, 1.9, 30, 127)]), 16000, 31999)
    again = render_midi(midi, 16000, 32000)  # after another piece: same samples
    command = _render_midi_command(midi, 16000, 32000, DEFAULT_SOUNDFONT, 0.5)
    assert first.dtype == np.float32 and first.shape == (32000,)
    assert np.array_equal(first, again)
    assert np.abs(first).max() > 0.05
    # The command writes a 16-bit WAV (rounding, 3e-5); where a note ends and another
    # starts in the same 64-sample block the two dispatch them a little differently.
    blocks = np.abs(first - command).reshape(-1, 64).max(axis=1)
    assert (blocks > 1e-4).sum() <= 2 and blocks.max() < 0.01
