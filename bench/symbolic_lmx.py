"""Benchmark of LMX linearization: measures/s against music21's own MusicXML parse.

Both sides read the same files of music21's bundled corpus from disk (including
unzipping .mxl); music21's parse cache is bypassed (``forceSource=True``), so each
side does its full work once per file. Measures are counted per part, as LMX has
one "measure" token per part and measure.

    python -m bench.symbolic_lmx [--limit N] [--repeats R]
"""

from __future__ import annotations

import argparse
import json
import warnings
from collections.abc import Sequence

from bench.timing import best_time
from mt3_unified.vocab.lmx import lmx_to_musicxml, musicxml_to_lmx_parts


def corpus_paths(limit: int | None = 40) -> list[str]:
    """MusicXML files of music21's corpus; ``limit`` of them, evenly spread over composers."""
    import music21

    paths = sorted(
        str(p)
        for p in music21.corpus.getCorePaths()
        if str(p).endswith((".xml", ".mxl", ".musicxml"))
    )
    if limit is None or limit >= len(paths):
        return paths
    step = len(paths) / limit
    return [paths[int(i * step)] for i in range(limit)]


def _music21_parse(paths: Sequence[str]) -> None:
    import music21

    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # music21 warns about every untidy measure
        for path in paths:
            music21.converter.parse(path, forceSource=True)


def bench_lmx(paths: Sequence[str], repeats: int = 1) -> dict:
    """Times LMX linearization of ``paths`` and music21's parse of the same files.

    Returns files, parts, measures, tokens, lmx_s, lmx_measures_per_s, delinearize_s,
    delinearize_measures_per_s, music21_s, music21_measures_per_s and speedup
    (LMX linearization rate / music21 parse rate, wall clock; the target is at least
    10), plus lmx_cpu_s, music21_cpu_s and speedup_cpu from process CPU time.
    """
    sequences = [tokens for path in paths for tokens in musicxml_to_lmx_parts(path).values()]
    measures = sum(tokens.count("measure") for tokens in sequences)
    lmx_s, lmx_cpu_s = best_time(lambda: [musicxml_to_lmx_parts(p) for p in paths], repeats)
    delinearize_s, _ = best_time(lambda: [lmx_to_musicxml(t) for t in sequences], repeats)
    music21_s, music21_cpu_s = best_time(lambda: _music21_parse(paths), repeats)
    return {
        "files": len(paths),
        "parts": len(sequences),
        "measures": measures,
        "tokens": sum(len(t) for t in sequences),
        "lmx_s": lmx_s,
        "lmx_measures_per_s": measures / lmx_s,
        "delinearize_s": delinearize_s,
        "delinearize_measures_per_s": measures / delinearize_s,
        "music21_s": music21_s,
        "music21_measures_per_s": measures / music21_s,
        "speedup": music21_s / lmx_s,
        "lmx_cpu_s": lmx_cpu_s,
        "music21_cpu_s": music21_cpu_s,
        "speedup_cpu": music21_cpu_s / lmx_cpu_s,
    }


def main(argv=None) -> dict:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--limit", type=int, default=40, help="number of corpus files (0: all)")
    parser.add_argument("--repeats", type=int, default=1, help="timing repeats (best kept)")
    args = parser.parse_args(argv)
    result = bench_lmx(corpus_paths(args.limit or None), repeats=args.repeats)
    print(json.dumps(result, indent=2))
    return result


if __name__ == "__main__":
    main()
