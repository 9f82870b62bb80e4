"""Tests of MIDI file reading and writing: bad files raise MidiError naming the file."""

from __future__ import annotations

import pytest

from mt3_unified.errors import MidiError
from mt3_unified.vocab.midi_io import load_midi, note_sequence_to_midi_bytes
from tests.vocab.midi_helpers import make_ns


def test_garbage_empty_truncated_files_raise_midi_error(corpus_midi, tmp_path):
    good = corpus_midi["bach/bwv66.6"].read_bytes()
    files = {
        "garbage.mid": b"this is not a midi file at all" * 5,
        "empty.mid": b"",
        "truncated.mid": good[: len(good) // 2],
        "header_only.mid": good[:14],
    }
    for name, data in files.items():
        path = tmp_path / name
        path.write_bytes(data)
        with pytest.raises(MidiError, match=name):
            load_midi(path)
        with pytest.raises(MidiError, match=name):
            load_midi(str(path))
    with pytest.raises(MidiError, match="bytes in memory"):
        load_midi(b"MThd garbage")
    with pytest.raises(MidiError, match="missing.mid"):
        load_midi(tmp_path / "missing.mid")


def test_midi_without_notes(tmp_path):
    path = tmp_path / "silent.mid"
    path.write_bytes(note_sequence_to_midi_bytes(make_ns([])))
    with pytest.raises(MidiError, match="silent.mid.*no notes"):
        load_midi(path)
    assert len(load_midi(path, allow_empty=True).notes) == 0
