"""Note sequences made by hand, and the music21 pieces the MIDI tests read."""

from __future__ import annotations

from note_seq.protobuf import music_pb2

PIECES = ("bach/bwv66.6", "bach/bwv4.8", "corelli/opus3no1/1grave")


def make_ns(notes, total_time=None):
    """notes: (pitch, velocity, start, end, program, is_drum)."""
    ns = music_pb2.NoteSequence(ticks_per_quarter=220)
    ns.tempos.add(qpm=120.0)
    for pitch, velocity, start, end, program, is_drum in notes:
        ns.notes.add(
            pitch=pitch,
            velocity=velocity,
            start_time=start,
            end_time=end,
            program=program,
            is_drum=is_drum,
            instrument=9 if is_drum else program,
        )
    ns.total_time = max([n.end_time for n in ns.notes] + [total_time or 0.0])
    return ns
