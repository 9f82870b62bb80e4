"""bench/tasks.py's pieces on the hand-made corpus: examples kept, pipeline rates, batches."""

from __future__ import annotations

import importlib.util
from pathlib import Path

from mt3_unified.tasks.registry import task_name
from tests.tasks.conftest import AUDIO_BOOKS, HANDMADE

LENGTHS = {"inputs": 32, "targets": 40}


def _bench():
    path = Path(__file__).resolve().parents[2] / "bench" / "tasks.py"
    spec = importlib.util.spec_from_file_location("bench_tasks", path)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def test_bench_counts_and_times_a_tasks_pipeline(handmade_gin):
    bench = _bench()
    name = task_name(HANDMADE, "image", "audio")
    assert bench.valid_examples(name, LENGTHS) == {name: 3}
    cold, warm, batch = bench.pipeline_rates(name, LENGTHS, 2, per_epoch=3, warm=2)
    assert cold > 0 and warm > 0
    assert batch["encoder_input_tokens"].shape == (2, LENGTHS["inputs"], AUDIO_BOOKS)
    assert batch["decoder_target_tokens"].shape == (2, LENGTHS["targets"], AUDIO_BOOKS)
