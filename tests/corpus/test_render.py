"""The MIDI file that fluidsynth renders: exact bytes, and the layout pretty_midi writes."""

from __future__ import annotations

import io
import random

import pretty_midi

from mt3_unified.corpus.perform import PerformedNote
from mt3_unified.corpus.render import MIDI_QPM, MIDI_RESOLUTION, notes_to_midi_bytes


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
