"""Timing helpers shared by the benchmarks."""

from __future__ import annotations

import time
from collections.abc import Callable


def best_time(
    fn: Callable[[], object], repeats: int = 1, *, warmup: bool = False
) -> tuple[float, float]:
    """Best (wall, CPU) seconds over `repeats` runs of `fn`.

    The best run is the one least disturbed by other work; CPU time of this
    process also resists a busy shared machine better than wall time. With
    `warmup`, one untimed run goes first (JIT compilation, caches).
    """
    if warmup:
        fn()
    best_wall = best_cpu = float("inf")
    for _ in range(max(repeats, 1)):
        wall, cpu = time.perf_counter(), time.process_time()
        fn()
        best_wall = min(best_wall, time.perf_counter() - wall)
        best_cpu = min(best_cpu, time.process_time() - cpu)
    return best_wall, best_cpu


def best_times_interleaved(
    fns: dict[str, Callable[[], object]], rounds: int = 2, *, warmup_rounds: int = 1
) -> dict[str, float]:
    """Best wall seconds of each function, run in turn round after round, after
    `warmup_rounds` untimed rounds.

    Comparing two implementations on a shared machine: taking turns gives both
    the same spells of load, where timing one after the other does not.
    """
    for _ in range(warmup_rounds):
        for fn in fns.values():
            fn()
    best = dict.fromkeys(fns, float("inf"))
    for _ in range(max(rounds, 1)):
        for name, fn in fns.items():
            start = time.perf_counter()
            fn()
            best[name] = min(best[name], time.perf_counter() - start)
    return best
