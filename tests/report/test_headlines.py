"""An eval dir's results tables read by pair, as the side-by-side reports read them."""

from __future__ import annotations

import json

import pytest

from mt3_unified.report.headlines import PairRows, read_pairs
from tests.report.test_comparison import _amt, _eval_dir, _midi_to_lmx


def test_each_titled_table_is_read_by_pair_with_the_results_own_fields(tmp_path):
    second_amt = {**_amt(0.5, 9), "rows": [["model", 0.5, 0, 0, 0, 9]]}
    not_a_pair = {"title": "not a pair", "columns": ["system"], "rows": [["model"]]}
    tables = [_amt(0.25, 32), _midi_to_lmx(), second_amt, not_a_pair]
    eval_dir = _eval_dir(tmp_path, "all", "test_heldout", "synthetic_demo_all", 4500, tables)
    pairs = read_pairs(eval_dir)
    assert list(pairs) == ["audio_to_midi", "midi_to_lmx"]  # in TITLES' order
    judged = json.dumps({"decoding": {}, "reader": None, "transcriber": None}, sort_keys=True)
    assert pairs["audio_to_midi"] == PairRows(
        rows={  # the first table of a title counts
            "model": {
                "system": "model",
                "onset F1 @50ms": 0.25,
                "onset-offset F1 @50ms": 0.01,
                "onset F1 @100ms": 0.1,
                "onset F1 @200ms": 0.2,
                "examples": 32,
            },
            "random pairing": {
                "system": "random pairing",
                "onset F1 @50ms": 0.004,
                "onset-offset F1 @50ms": 0,
                "onset F1 @100ms": 0,
                "onset F1 @200ms": 0,
                "examples": 32,
            },
        },
        split="test_heldout",
        step=4500,
        model="synthetic_demo_all",
        judged=judged,
    )


def test_a_run_without_a_mixture_is_named_by_its_model_dir_and_its_judge_counts(tmp_path):
    eval_dir = _eval_dir(tmp_path, "amt", "test", None, 100, [_amt(0.5, 3)])
    results_path = tmp_path / "amt" / "results.json"
    results = json.loads(results_path.read_text())
    results_path.write_text(json.dumps({**results, "transcriber": "runs/judge"}))
    table = read_pairs(eval_dir)["audio_to_midi"]
    assert table.model == "runs/amt/model"
    assert json.loads(table.judged) == {"decoding": {}, "reader": None, "transcriber": "runs/judge"}


def test_a_dir_without_results_names_the_file_it_looked_for(tmp_path):
    with pytest.raises(FileNotFoundError, match=str(tmp_path / "results.json")):
        read_pairs(tmp_path)
