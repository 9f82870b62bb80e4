"""Benchmark of the MIDI event codec: encode+decode notes/s against a MIDI file round trip.

The baseline is note_seq's own round trip of the same notes through a Standard MIDI
File (``note_sequence_to_midi_file`` then ``midi_file_to_note_sequence``), the
cheapest way the notes would otherwise travel between tools.

    python -m bench.symbolic_midi [--limit N] [--repeats R]
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import tempfile
import time
from collections.abc import Sequence

from bench.timing import best_time
from mt3_unified.vocab.midi_events import (
    DecodeStats,
    MidiEventConfig,
    canonical_notes,
    decode_segments,
    encode_note_sequence,
)
from mt3_unified.vocab.midi_io import load_midi


def corpus_note_sequences(limit: int = 20) -> list:
    """Render the first ``limit`` Bach chorales of music21's corpus to MIDI and read them back."""
    import music21

    paths = sorted(str(p) for p in music21.corpus.getComposer("bach"))
    out = []
    with tempfile.TemporaryDirectory() as tmp:
        for i, path in enumerate(paths):
            if len(out) >= limit:
                break
            midi_path = os.path.join(tmp, f"{i}.mid")
            try:
                music21.converter.parse(path).write("midi", fp=midi_path)
                out.append(load_midi(midi_path))
            except Exception as e:  # some corpus files do not expand; skip them
                print(f"skipping {path}: {e}", file=sys.stderr)
    return out


def bench_midi_events(
    note_sequences: Sequence,
    config: MidiEventConfig | None = None,
    repeats: int = 3,
) -> dict:
    """Time encode+decode of ``note_sequences`` and the MIDI-file baseline (best of ``repeats``).

    Returns notes, segments, tokens, encode_s, decode_s, codec_notes_per_s,
    baseline_s, baseline_notes_per_s, speedup_vs_midi_file (codec / baseline),
    round_trip_exact and decode_problems (sum of DecodeStats, 0 expected).
    """
    from note_seq import midi_io

    config = config or MidiEventConfig()
    num_notes = sum(len(ns.notes) for ns in note_sequences)
    encoded = [encode_note_sequence(ns, config) for ns in note_sequences]
    decoded = [decode_segments(segs, config) for segs in encoded]

    encode_s, _ = best_time(
        lambda: [encode_note_sequence(ns, config) for ns in note_sequences], repeats
    )
    decode_s, _ = best_time(lambda: [decode_segments(segs, config) for segs in encoded], repeats)

    with tempfile.TemporaryDirectory() as tmp:
        path = os.path.join(tmp, "x.mid")

        def midi_round_trip():
            for ns in note_sequences:
                midi_io.note_sequence_to_midi_file(ns, path)
                midi_io.midi_file_to_note_sequence(path)

        baseline_s, _ = best_time(midi_round_trip, repeats)

    stats = DecodeStats()
    for _, s in decoded:
        stats += s
    exact = all(
        canonical_notes(out, config) == canonical_notes(ns, config)
        for ns, (out, _) in zip(note_sequences, decoded, strict=True)
    )
    codec_s = encode_s + decode_s
    return {
        "pieces": len(note_sequences),
        "notes": num_notes,
        "segments": sum(len(s) for s in encoded),
        "tokens": sum(len(t) for s in encoded for t in s),
        "encode_s": encode_s,
        "decode_s": decode_s,
        "codec_notes_per_s": num_notes / codec_s if codec_s else float("inf"),
        "baseline_s": baseline_s,
        "baseline_notes_per_s": num_notes / baseline_s if baseline_s else float("inf"),
        "speedup_vs_midi_file": baseline_s / codec_s if codec_s else float("inf"),
        "round_trip_exact": exact,
        "decode_problems": sum(vars(stats).values()),
    }


def main(argv=None) -> dict:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--limit", type=int, default=20, help="number of corpus pieces")
    parser.add_argument("--repeats", type=int, default=3, help="timing repeats (best kept)")
    args = parser.parse_args(argv)
    t0 = time.perf_counter()
    note_sequences = corpus_note_sequences(args.limit)
    print(
        f"rendered {len(note_sequences)} pieces in {time.perf_counter() - t0:.1f} s",
        file=sys.stderr,
    )
    result = bench_midi_events(note_sequences, repeats=args.repeats)
    print(json.dumps(result, indent=2))
    return result


if __name__ == "__main__":
    main()
