"""Fixtures shared by the MIDI event codec and MIDI file tests."""

from __future__ import annotations

import random

import music21
import pytest

from mt3_unified.vocab.midi_io import load_midi, note_sequence_to_midi_bytes
from tests.vocab.midi_helpers import PIECES


@pytest.fixture(scope="module")
def corpus_midi(tmp_path_factory):
    """Real MIDI files written by music21, plus one with several programs and drums."""
    root = tmp_path_factory.mktemp("midi")
    paths = {}
    for name in PIECES:
        path = root / (name.replace("/", "_") + ".mid")
        music21.corpus.parse(name).write("midi", fp=str(path))
        paths[name] = path
    # Corelli with one GM program per part and a drum track over it.
    ns = load_midi(paths["corelli/opus3no1/1grave"])
    for note in ns.notes:
        note.program = (40, 41, 42, 0)[note.instrument % 4]
    rng = random.Random(0)
    for _ in range(60):
        t = round(rng.uniform(0, ns.total_time - 1), 3)
        ns.notes.add(
            pitch=rng.choice([36, 38, 42, 46]),
            velocity=rng.randint(30, 127),
            start_time=t,
            end_time=t + 0.1,
            is_drum=True,
            instrument=9,
        )
    path = root / "corelli_programs_drums.mid"
    path.write_bytes(note_sequence_to_midi_bytes(ns))
    paths["programs+drums"] = path
    return paths
