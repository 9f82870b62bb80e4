"""MIDI files <-> NoteSequences: reading with errors that name the file, and writing."""

from __future__ import annotations

import io
import os
from typing import TYPE_CHECKING

from mt3_unified.errors import MidiError

if TYPE_CHECKING:  # importing note_seq loads librosa, pandas and more: only where needed
    from note_seq.protobuf import music_pb2


def load_midi(
    source: str | os.PathLike | bytes,
    *,
    apply_sustain: bool = False,
    allow_empty: bool = False,
) -> music_pb2.NoteSequence:
    """Read a MIDI file (path or bytes) into a NoteSequence.

    Raises MidiError naming the file for unreadable, empty (0 bytes), garbage or
    truncated files, and for files without notes unless ``allow_empty``.
    """
    if isinstance(source, (bytes, bytearray)):
        data = bytes(source)
    else:
        try:
            with open(source, "rb") as f:
                data = f.read()
        except OSError as e:
            raise MidiError(source, f"cannot read file ({e.strerror or e})") from e
    if not data:
        raise MidiError(source, "empty file (0 bytes)")
    if not data.startswith(b"MThd"):
        raise MidiError(source, "not a MIDI file (no MThd header)")
    from note_seq import midi_io as note_seq_midi  # a heavy import, only needed here

    try:
        ns = note_seq_midi.midi_to_note_sequence(data)
    except Exception as e:  # the parsers below raise many types on corrupt input
        cause = e.__cause__ or e
        detail = f"{type(cause).__name__}: {cause}" if str(cause) else type(cause).__name__
        if isinstance(cause, EOFError):
            detail = "file ends early (truncated)"
        raise MidiError(source, f"cannot parse MIDI ({detail})") from e
    if apply_sustain:
        from note_seq import sequences_lib

        ns = sequences_lib.apply_sustain_control_changes(ns)
    if not ns.notes and not allow_empty:
        raise MidiError(source, "holds no notes")
    return ns


def note_sequence_to_midi_bytes(ns: music_pb2.NoteSequence) -> bytes:
    """Write a NoteSequence as Standard MIDI File bytes."""
    from note_seq import midi_io as note_seq_midi

    buf = io.BytesIO()
    note_seq_midi.note_sequence_to_pretty_midi(ns).write(buf)
    return buf.getvalue()
