"""Benchmark of the synthetic corpus build: systems per second and the share of each stage.

    python bench/corpus.py --config full --every 100 --workers 1

builds every 100th music21 score (a spread-out sample) into a temporary cache and
prints systems/s, pieces/s, CPU seconds (this process, its workers and fluidsynth),
the share of each stage (read+reduce, layout, png, lmx, audio), skip counts and the
peak memory of the process (and its largest worker). Then it times the TFDS write of
the sample (`build_synthetic` on the filled cache: the config and its `_pieces` twin)
and prints its CPU seconds, wall time and the CPU share of each step (the cache check,
each dataset), unless --no-write. `full_build_estimate` scales both CPU totals by the
config's piece count over the sample's and halves them: the wall time of the whole
build on two free cores, if both stages kept both cores busy.
"""

from __future__ import annotations

import argparse
import contextlib
import json
import resource
import sys
import tempfile
import time

from mt3_unified.corpus import synthetic


def main(argv=None) -> dict:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--config", default="full", choices=sorted(synthetic.CONFIGS))
    parser.add_argument("--every", type=int, default=100, help="take every N-th source")
    parser.add_argument("--start", type=int, default=0, help="first source of the sample")
    parser.add_argument("--workers", type=int, default=1)
    parser.add_argument("--data-dir", default=None, help="default: a temporary folder")
    parser.add_argument("--no-write", action="store_true", help="time the cache step only")
    parser.add_argument(
        "--write-workers", type=int, default=None, help="the write's processes (default: --workers)"
    )
    args = parser.parse_args(argv)

    config = synthetic.CONFIGS[args.config]
    all_sources = synthetic.list_sources(config)
    sources = all_sources[args.start :: args.every]
    write = None
    with tempfile.TemporaryDirectory(prefix="mt3u_bench_corpus_") as tmp:
        data_dir = args.data_dir or tmp
        cpu_start = synthetic.cpu_seconds()
        start = time.perf_counter()
        summary = synthetic.prepare(config, data_dir, num_workers=args.workers, sources=sources)
        wall = time.perf_counter() - start
        cpu = synthetic.cpu_seconds() - cpu_start
        if not args.no_write:
            write = _time_write(args, data_dir, sources)
    stage_total = sum(summary["stage_seconds"].values()) or 1.0
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
        "peak_rss_mib": _peak_rss_mib(),
    }
    if write is not None:
        report["write"] = write
        scale = len(all_sources) / max(len(sources), 1)
        total = (cpu + write["cpu_seconds"]) * scale
        report["full_build_estimate"] = {
            "pieces": len(all_sources),
            "cpu_seconds": round(total, 1),
            "wall_minutes_on_2_cores": round(total / 2 / 60, 1),
        }
    print(json.dumps(report, indent=1))
    return report


def _time_write(args, data_dir, sources) -> dict:
    """CPU, wall and per-step CPU shares of build_synthetic on the sample's filled cache."""
    from mt3_unified.corpus.builders.synthetic_scores import build_synthetic

    workers = args.workers if args.write_workers is None else args.write_workers
    cpu_start = synthetic.cpu_seconds()
    start = time.perf_counter()
    with contextlib.redirect_stdout(sys.stderr):  # TFDS prints; stdout is for the report
        summary = build_synthetic(
            args.config, data_dir, num_workers=workers, progress=False, sources=sources
        )
    wall = time.perf_counter() - start
    cpu = synthetic.cpu_seconds() - cpu_start
    steps = summary["step_cpu_seconds"]
    return {
        "datasets": sorted(summary["datasets"]),
        "workers": workers,
        "wall_seconds": round(wall, 1),
        "cpu_seconds": round(cpu, 1),
        "step_cpu_seconds": steps,
        "step_share": {k: round(v / (sum(steps.values()) or 1.0), 3) for k, v in steps.items()},
        "peak_rss_mib": _peak_rss_mib(),
    }


def _peak_rss_mib() -> float:
    """Peak resident memory of this process or of its largest finished child, MiB."""
    peak_kib = max(
        resource.getrusage(resource.RUSAGE_SELF).ru_maxrss,
        resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss,
    )
    return round(peak_kib / 1024, 1)


if __name__ == "__main__":
    main()
