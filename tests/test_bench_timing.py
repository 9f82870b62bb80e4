"""bench/timing.py: untimed warm-up rounds, then the best of each function's timed runs."""

import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "bench"))
import timing  # noqa: E402


def test_interleaved_runs_warm_up_then_take_turns_and_keep_each_best(monkeypatch):
    clock = iter(range(1000))
    monkeypatch.setattr(timing.time, "perf_counter", lambda: next(clock))
    calls = []
    durations = {"a": iter([5, 2, 4]), "b": iter([1, 3, 2])}

    def make(name):
        def fn():
            calls.append(name)
            if len(calls) > 4:  # timed: let the fake clock run for this call's duration
                for _ in range(next(durations[name]) - 1):
                    next(clock)

        return fn

    best = timing.best_times_interleaved({"a": make("a"), "b": make("b")}, 3, warmup_rounds=2)
    assert calls == ["a", "b"] * 5
    assert best == {"a": 2, "b": 1}
