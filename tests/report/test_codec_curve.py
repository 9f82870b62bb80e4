"""`mt3u report codec-curve`: what a codec keeps of the notes by step, from hand-made eval dirs."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from mt3_unified.cli import main
from mt3_unified.report.codec_curve import CodecCurveError, codec_curve, kept_point

NOTES = ["system", "onset F1 @50ms", "onset-offset F1 @50ms", "onset F1 @100ms",
         "onset F1 @200ms", "examples"]  # fmt: skip


def _eval_dir(root: Path, name: str, original: float, reconstruction: float | None,
              judge_step: int = 1500) -> str:  # fmt: skip
    rows = [["model", 0.39, 0.1, 0.5, 0.6, 32], ["random pairing", 0, 0, 0, 0, 32],
            ["GT audio, whole systems", original, 0.1, 0.4, 0.6, 16]]  # fmt: skip
    if reconstruction is not None:
        rows.append(["codec reconstruction, whole systems", reconstruction, 0.01, 0.1, 0.2, 16])
    table = {"title": "AMT (audio → MIDI)", "columns": NOTES, "rows": rows, "note": ""}
    folder = root / name
    folder.mkdir(parents=True)
    results = {"model_dir": "runs/amt/model", "step": judge_step, "split": "test",
               "tables": [table]}  # fmt: skip
    (folder / "results.json").write_text(json.dumps(results))
    return str(folder)


def test_a_point_is_the_reconstruction_over_the_original(tmp_path):
    point = kept_point(_eval_dir(tmp_path, "a", 0.32, 0.08))
    assert point == {"original": 0.32, "reconstruction": 0.08, "kept": 0.25, "systems": 16,
                     "judge": "runs/amt/model (1500)"}  # fmt: skip


def test_the_curve_is_in_step_order_and_written_with_its_table(tmp_path):
    late, early = _eval_dir(tmp_path, "late", 0.4, 0.2), _eval_dir(tmp_path, "early", 0.4, 0.1)
    curve = codec_curve({4000: late, 1000: early})
    assert [(p["step"], p["kept"]) for p in curve] == [(1000, 0.25), (4000, 0.5)]
    output = tmp_path / "out" / "codec_curve.png"
    assert main(["report", "codec-curve", "--point", f"4000={late}", "--point",
                 f"1000={early}", "-o", str(output)]) == 0  # fmt: skip
    assert output.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    lines = output.with_suffix(".md").read_text().splitlines()
    assert lines[2].startswith("| 1000 | 0.4 | 0.1 | 0.25 | 16 | runs/amt/model (1500) |")
    assert lines[3].startswith("| 4000 | 0.4 | 0.2 | 0.5 | 16 |")


def test_an_eval_without_the_codec_row_or_another_judge_is_refused_by_name(tmp_path):
    bare = _eval_dir(tmp_path, "bare", 0.4, None)
    with pytest.raises(CodecCurveError, match="bare: no AMT rows"):
        codec_curve({1000: bare})
    one, other = _eval_dir(tmp_path, "one", 0.4, 0.1), _eval_dir(tmp_path, "x", 0.5, 0.1, 4000)
    with pytest.raises(CodecCurveError, match="different AMT models"):
        codec_curve({1000: one, 2000: other})
    bad_step = ["report", "codec-curve", "--point", f"x={one}", "-o", str(tmp_path / "c.png")]
    assert main(bad_step) == 2
