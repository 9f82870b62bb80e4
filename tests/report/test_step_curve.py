"""`mt3u report step-curve`: one pair's rows against the model's steps, from hand-made eval dirs."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from mt3_unified.cli import main
from mt3_unified.report.step_curve import (
    RATIO,
    StepCurveError,
    spread_cell,
    step_curve,
    target_said,
)

COLUMNS = ["system", "onset F1 @50ms", "onset F1 @200ms", "FAD", "examples"]
JUDGE = {"model_dir": "runs/amt/model", "step": 4500}


def _eval_dir(root: Path, name: str, step: int, model: float, floor: float,
              paired_at_random: float | None = None,
              decoding: dict | None = None) -> str:  # fmt: skip
    rows = [["model", 0.0, model, 300.0, 32]]
    if paired_at_random is not None:
        rows.append(["model, paired at random", 0.0, paired_at_random, None, 32])
    rows += [["random pairing", 0.0, floor, None, 32], ["codec reconstruction", 0, 0.4, None, 32]]
    table = {"title": "Image → audio", "columns": COLUMNS, "rows": rows, "note": ""}
    results = {"model_dir": "runs/i2a/model", "step": step, "tables": [table],
               "transcriber": JUDGE, "reader": None,
               "decoding": {"temperature": 0.7} if decoding is None else decoding}  # fmt: skip
    folder = root / name
    folder.mkdir(parents=True)
    (folder / "results.json").write_text(json.dumps(results))
    return str(folder)


def test_the_dirs_of_one_step_are_one_point_in_step_order(tmp_path):
    late = _eval_dir(tmp_path, "late", 9000, 0.11, 0.1, paired_at_random=0.09)
    seed0 = _eval_dir(tmp_path, "seed0", 4500, 0.06, 0.12)
    seed1 = _eval_dir(tmp_path, "seed1", 4500, 0.1, 0.08, paired_at_random=0.07)
    curve = step_curve([late, seed0, seed1], "image_to_audio", "onset F1 @200ms")
    assert [p["step"] for p in curve] == [4500, 9000]
    assert curve[0]["dirs"] == [seed0, seed1]
    assert curve[0]["model"] == [0.06, 0.1]
    assert curve[0]["model, paired at random"] == [None, 0.07]
    assert curve[0][RATIO] == pytest.approx([0.5, 1.25])
    assert curve[1][RATIO] == pytest.approx([1.1])


def test_a_cell_is_the_mean_and_range_of_the_values_given():
    assert spread_cell([0.06, None, 0.1]) == "0.080 (0.060-0.100)"
    assert spread_cell([0.07]) == "0.070"
    assert spread_cell([None]) is None


def test_the_curve_is_written_with_its_table(tmp_path):
    dirs = [_eval_dir(tmp_path, "a", 4500, 0.06, 0.12), _eval_dir(tmp_path, "b", 4500, 0.1, 0.08),
            _eval_dir(tmp_path, "c", 9000, 0.11, 0.1, paired_at_random=0.09)]  # fmt: skip
    output = tmp_path / "out" / "curve.png"
    args = ["report", "step-curve", "--pair", "image_to_audio", "--metric", "onset F1 @200ms"]
    assert main([*args, *(f"--eval={d}" for d in dirs), "-o", str(output)]) == 0
    assert output.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    lines = output.with_suffix(".md").read_text().splitlines()
    assert lines[0] == ("| step | eval dirs | model | model, paired at random | random pairing "
                        "| model / random pairing |")  # fmt: skip
    assert lines[2] == ("| 4500 | 2 | 0.080 (0.060-0.100) | n/a | 0.100 (0.080-0.120) "
                        "| 0.875 (0.500-1.250) |")  # fmt: skip
    assert lines[3] == "| 9000 | 1 | 0.110 | 0.090 | 0.100 | 1.100 |"
    assert main([*args, *(f"--eval={d}" for d in dirs), "--target", "0.2", "-o", str(output)]) == 0
    assert output.with_suffix(".md").read_text().splitlines()[-1] == (
        "Target: 0.2 (dashed). The model does not reach it: 0.110 at step 9000, its last point."
    )


def _points(*rows: tuple[int, float | None, float | None]) -> list[dict]:
    return [{"step": step, "model": [model], "random pairing": [floor]}
            for step, model, floor in rows]  # fmt: skip


def test_the_target_is_reached_on_the_side_away_from_the_random_pairing():
    ser = _points((4500, 61.4, 80.9), (9000, 57.5, 80.9), (30000, 39.5, 80.9))
    assert target_said(ser, 40) == (
        "Target: 40 (dashed). The model reaches it at step 30000 (39.500)."
    )
    not_yet = "does not reach it: 57.500 at step 9000, its last point."
    assert target_said(ser[:2], 40).endswith(not_yet)
    f1 = _points((4500, 0.6, 0.1), (9000, 0.65, 0.1))
    assert target_said(f1, 0.6).endswith("reaches it at step 4500 (0.600).")
    assert target_said(_points((4500, 0.6, None)), 0.6) == "Target: 0.6 (dashed)."


def test_dirs_judged_or_decoded_otherwise_or_lacking_the_metric_are_refused_by_name(tmp_path):
    sampled = _eval_dir(tmp_path, "sampled", 4500, 0.1, 0.1)
    greedy = _eval_dir(tmp_path, "greedy", 9000, 0.1, 0.1, decoding={})
    with pytest.raises(StepCurveError, match="judged or decoded differently"):
        step_curve([sampled, greedy], "image_to_audio", "onset F1 @200ms")
    with pytest.raises(StepCurveError, match=r"sampled: no column 'SER' \(it has"):
        step_curve([sampled], "image_to_audio", "SER")
    with pytest.raises(StepCurveError, match="sampled: no 'OMR \\(image → LMX\\)' table"):
        step_curve([sampled], "image_to_lmx", "SER")
    no_pair = ["report", "step-curve", "--eval", sampled, "--metric", "x", "-o", "c.png"]
    assert main(no_pair) == 2
