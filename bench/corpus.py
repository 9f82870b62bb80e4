"""Benchmark of the synthetic corpus build: systems per second and the share of each stage.

    python bench/corpus.py --config full --every 100 --workers 1

builds every 100th music21 score (a spread-out sample) into a temporary cache and
prints systems/s, pieces/s, CPU seconds (this process, its workers and fluidsynth),
the share of each stage (read+reduce, layout, png, lmx, audio), skip counts and the
peak memory of the process (and its largest worker).
"""

from __future__ import annotations

import argparse
import json
import resource
import tempfile
import time

from mt3_unified.corpus import synthetic


def main(argv=None) -> dict:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--config", default="full", choices=sorted(synthetic.CONFIGS))
    parser.add_argument("--every", type=int, default=100, help="take every N-th source")
    parser.add_argument("--start", type=int, default=0, help="first source of the sample")
    parser.add_argument("--workers", type=int, default=1)
    parser.add_argument("--data_dir", default=None, help="default: a temporary folder")
    args = parser.parse_args(argv)

    config = synthetic.CONFIGS[args.config]
    sources = synthetic.list_sources(config)[args.start :: args.every]
    with tempfile.TemporaryDirectory(prefix="mt3u_bench_corpus_") as tmp:
        cpu_start = _cpu_seconds()
        start = time.perf_counter()
        summary = synthetic.prepare(
            config, args.data_dir or tmp, num_workers=args.workers, sources=sources
        )
        wall = time.perf_counter() - start
        cpu = _cpu_seconds() - cpu_start
    stage_total = sum(summary["stage_seconds"].values()) or 1.0
    peak_kib = max(
        resource.getrusage(resource.RUSAGE_SELF).ru_maxrss,
        resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss,
    )
    report = {
        "config": args.config,
        "workers": args.workers,
        "sample": f"sources[{args.start}::{args.every}]",
        "pieces_tried": len(sources),
        "pieces": summary["pieces"],
        "pieces_skipped": summary["pieces_skipped"],
        "systems": summary["systems"],
        "systems_skipped": summary["systems_skipped"],
        "skipped_by_stage": summary["skipped_by_stage"],
        "wall_seconds": round(wall, 1),
        # CPU of this process, its workers and their fluidsynth runs: on a shared machine
        # wall time depends on the others' load, CPU time much less; cpu / 2 is the wall
        # time two free cores would take.
        "cpu_seconds": round(cpu, 1),
        "systems_per_cpu_second": round(summary["systems"] / cpu, 3) if cpu else None,
        "systems_per_second": round(summary["systems"] / wall, 3),
        "pieces_per_second": round(len(sources) / wall, 3),
        "stage_share": {
            k: round(v / stage_total, 3) for k, v in sorted(summary["stage_seconds"].items())
        },
        "peak_rss_mib": round(peak_kib / 1024, 1),
    }
    print(json.dumps(report, indent=1))
    return report


def _cpu_seconds() -> float:
    """User + system CPU of this process and its finished children (the pool's workers,
    which waited for their own fluidsynth runs)."""
    total = 0.0
    for who in (resource.RUSAGE_SELF, resource.RUSAGE_CHILDREN):
        usage = resource.getrusage(who)
        total += usage.ru_utime + usage.ru_stime
    return total


if __name__ == "__main__":
    main()
