"""bench/model_gpu.py runs end to end (tiny config on the CPU) and refuses a malformed variant."""

import json
import subprocess
import sys
from pathlib import Path

SCRIPT = Path(__file__).resolve().parents[1] / "bench" / "model_gpu.py"


def test_quick_run_writes_every_variant(tmp_path):
    out = tmp_path / "mfu.json"
    variants = ["lmx_to_midi:2:jax", "midi_to_audio:2:matmul:remat:dropout"]
    cmd = [sys.executable, str(SCRIPT), "--quick", "--out", str(out), "--variants", *variants]
    subprocess.run(cmd, check=True, capture_output=True, timeout=600)
    summary = json.loads(out.read_text())
    results = summary["results"]
    assert [r["slots"] for r in results] == [1, 4]  # a symbolic target, then 4 audio codebooks
    assert results[1]["variant"] == {
        "task": "midi_to_audio",
        "batch": 2,
        "attention": "matmul",
        "remat": True,
        "dropout": True,
    }
    assert all(r["step_s"] > 0 and r["model_flops"] > 0 for r in results)
    assert summary["datasheet_peak"] is None  # a CPU has no entry: no MFU is made up
    assert all(r["mfu"] is None for r in results)


def test_malformed_variant_is_refused_before_anything_runs():
    cmd = [sys.executable, str(SCRIPT), "--quick", "--variants", "lmx_to_midi:2"]
    run = subprocess.run(cmd, capture_output=True, text=True, timeout=600)
    assert run.returncode != 0
    assert "bad variant 'lmx_to_midi:2'" in run.stderr
    assert "matmul here" not in run.stdout
