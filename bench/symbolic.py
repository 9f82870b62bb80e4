"""Symbolic-core benchmark: LMX linearization vs music21's parse, MIDI codec vs a MIDI file trip.

    python -m bench.symbolic [--lmx-files N] [--midi-pieces N] [--repeats R]

`--lmx-files 0` takes every MusicXML file of music21's corpus.
"""

from __future__ import annotations

import argparse
import json

from bench.symbolic_lmx import bench_lmx, corpus_paths
from bench.symbolic_midi import bench_midi_events, corpus_note_sequences


def main(argv=None) -> dict:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--lmx-files", type=int, default=80)
    parser.add_argument("--midi-pieces", type=int, default=20)
    parser.add_argument("--repeats", type=int, default=2)
    args = parser.parse_args(argv)
    lmx = bench_lmx(corpus_paths(args.lmx_files or None), repeats=args.repeats)
    midi = bench_midi_events(corpus_note_sequences(args.midi_pieces), repeats=args.repeats)
    result = {"lmx": lmx, "midi_events": midi}
    print(json.dumps(result, indent=2))
    return result


if __name__ == "__main__":
    main()
