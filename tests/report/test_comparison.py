"""`mt3u report compare`: single-task against all-task mixtures, from hand-made eval dirs."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from mt3_unified.cli import main
from mt3_unified.report.comparison import ComparisonError, compare, markdown, write_comparison

SER = ["system", "SER (%)", "SER w/o tuplets (%)", "examples"]
NOTES = ["system", "onset F1 @50ms", "onset-offset F1 @50ms", "onset F1 @100ms",
         "onset F1 @200ms", "examples"]  # fmt: skip


def _omr(ser: float, examples: int) -> dict:
    rows = [["model", ser, ser - 1.0, examples], ["random pairing", 79.3, 79.0, examples]]
    return {"title": "OMR (image → LMX)", "columns": SER, "rows": rows, "note": ""}


def _amt(f1: float, examples: int) -> dict:
    rows = [["model", f1, 0.01, 0.1, 0.2, examples], ["random pairing", 0.004, 0, 0, 0, examples]]
    return {"title": "AMT (audio → MIDI)", "columns": NOTES, "rows": rows, "note": ""}


def _midi_to_lmx() -> dict:  # not a headline pair: left out of the table
    return {"title": "MIDI → LMX", "columns": SER, "rows": [["model", 63.3, 63.0, 32]]}


def _eval_dir(root: Path, name: str, split: str, mixture: str | None, step: int, tables) -> str:
    folder = root / name
    folder.mkdir(parents=True)
    results = {"model_dir": f"runs/{name}/model", "step": step, "split": split, "tables": tables}
    if mixture is not None:
        results["mixture"] = mixture
    (folder / "results.json").write_text(json.dumps(results))
    return str(folder)


@pytest.fixture
def eval_dirs(tmp_path):
    single = [
        _eval_dir(tmp_path, "omr", "test", "synthetic_demo_omr", 6000, [_omr(70.25, 32)]),
        _eval_dir(tmp_path, "omr_h", "test_heldout", "synthetic_demo_omr", 6000, [_omr(71.0, 30)]),
        _eval_dir(tmp_path, "amt", "test", "synthetic_demo_amt", 6000, [_amt(0.02, 32)]),
        _eval_dir(tmp_path, "amt_h", "test_heldout", None, 6000, [_amt(0.03, 32)]),
    ]
    together = [
        _eval_dir(tmp_path, "all", "test", "synthetic_demo_all", 6000,
                  [_omr(67.0, 32), _amt(0.035, 32), _midi_to_lmx()]),
        _eval_dir(tmp_path, "all_h", "test_heldout", "synthetic_demo_all", 6000,
                  [_omr(64.2, 30), _amt(0.04, 32)]),
    ]  # fmt: skip
    return single, together


def test_the_table_puts_each_single_task_value_beside_the_all_task_one(eval_dirs, tmp_path):
    single, together = eval_dirs
    # The order of the dirs does not matter: rows go by pair (OMR, AMT), then split.
    text = markdown(compare(single[::-1], together))
    expected = f"""# Single-task against all-task mixture

Each model trained with the same gin and steps; each single-task model evaluated on its own pair, the all-task model on every pair, on the same examples.

| task | metric | split | single-task mixture | all-task mixture | all - single | examples (single / all) | step (single / all) |
|---|---|---|---|---|---|---|---|
| OMR | SER (%), lower is better | test | 70.25 | 67 | -3.25 | 32 / 32 | 6000 / 6000 |
| OMR | SER (%), lower is better | held-out style (test_heldout) | 71 | 64.2 | -6.8 | 30 / 30 | 6000 / 6000 |
| AMT | onset F1 @50ms, higher is better | test | 0.02 | 0.035 | 0.015 | 32 / 32 | 6000 / 6000 |
| AMT | onset F1 @50ms, higher is better | held-out style (test_heldout) | 0.03 | 0.04 | 0.01 | 32 / 32 | 6000 / 6000 |

## Sources

| task | split | single-task model | eval dir | all-task model | eval dir |
|---|---|---|---|---|---|
| OMR | test | synthetic_demo_omr | {single[0]} | synthetic_demo_all | {together[0]} |
| OMR | held-out style (test_heldout) | synthetic_demo_omr | {single[1]} | synthetic_demo_all | {together[1]} |
| AMT | test | synthetic_demo_amt | {single[2]} | synthetic_demo_all | {together[0]} |
| AMT | held-out style (test_heldout) | runs/amt_h/model | {single[3]} | synthetic_demo_all | {together[1]} |
"""  # noqa: E501
    assert text == expected


def test_the_json_holds_every_value_with_its_source(eval_dirs, tmp_path):
    single, together = eval_dirs
    output = tmp_path / "out" / "comparison.md"
    assert main(["report", "compare", "-o", str(output), *sum(
        (["--single-task", d] for d in single), []), "--all-task", together[0],
        "--all-task", together[1]]) == 0  # fmt: skip
    assert output.read_text() == markdown(compare(single, together))
    found = json.loads(output.with_suffix(".json").read_text())
    assert [(r["task"], r["split"], r["difference"]) for r in found["rows"]] == [
        ("OMR", "test", -3.25), ("OMR", "test_heldout", -6.8),
        ("AMT", "test", 0.015), ("AMT", "test_heldout", 0.01),
    ]  # fmt: skip
    assert found["rows"][0] == {
        "task": "OMR", "pair": "image_to_lmx", "metric": "SER (%)", "better": "lower",
        "split": "test", "difference": -3.25,
        "single_task": {"value": 70.25, "examples": 32, "step": 6000,
                        "model": "synthetic_demo_omr", "eval_dir": single[0]},
        "all_task": {"value": 67.0, "examples": 32, "step": 6000,
                     "model": "synthetic_demo_all", "eval_dir": together[0]},
    }  # fmt: skip


def test_a_missing_all_task_split_and_different_steps_are_said(tmp_path):
    single = [_eval_dir(tmp_path, "omr", "test_heldout", "m_omr", 20, [_omr(90.0, 2)])]
    together = [_eval_dir(tmp_path, "all", "test", "m_all", 6000, [_omr(67.0, 32)])]
    text = markdown(compare(single, together))
    assert (
        "| OMR | SER (%), lower is better | held-out style (test_heldout) | 90 | n/a | n/a "
        "| 2 / n/a | 20 / n/a |"
    ) in text
    single.append(_eval_dir(tmp_path, "omr2", "test", "m_omr", 20, [_omr(91.0, 2)]))
    text = markdown(compare(single, together))
    budget = "trained for different steps (20, 6000): this is not a comparison at the same budget"
    assert budget in text


def test_eval_dirs_that_cannot_make_a_table_are_named(tmp_path):
    together = [_eval_dir(tmp_path, "all", "test", "m_all", 1, [_omr(67.0, 32)])]
    only_other = [_eval_dir(tmp_path, "m2l", "test", "m", 1, [_midi_to_lmx()])]
    with pytest.raises(ComparisonError, match="no OMR or AMT model row"):
        compare(only_other, together)
    twice = [_eval_dir(tmp_path, "a", "test", "m", 1, [_omr(1.0, 1)]),
             _eval_dir(tmp_path, "b", "test", "m", 1, [_omr(2.0, 1)])]  # fmt: skip
    with pytest.raises(ComparisonError, match="both give image_to_lmx on test"):
        write_comparison(twice, together, tmp_path / "c.md")
    assert not (tmp_path / "c.md").exists()


def test_the_command_asks_for_what_it_lacks(tmp_path, capsys):
    assert main(["report", "compare", "--all-task", str(tmp_path)]) == 2
    assert "give --single-task EVAL_DIR and --all-task EVAL_DIR" in capsys.readouterr().err
