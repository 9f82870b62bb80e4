"""The trainer tests' pieces: tiny examples as TFRecords, gin bindings, runs in subprocesses."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

from mt3_unified.train.inputs import write_example_records
from tests.model.helpers import ALL_PAIRS, SMALL_VOCAB, TINY, make_batch

# The tests' tiny model and small vocabulary as gin bindings, for runs started by command.
TINY_BINDINGS = [
    *(f"VocabularyConfig.{f}={getattr(SMALL_VOCAB, f)}" for f in (
        "image_codebooks", "image_codebook_size", "audio_codebooks", "audio_codebook_size")),
    *(f"ModelConfig.{f}={getattr(TINY, f)}" for f in (
        "emb_dim", "num_heads", "num_kv_heads", "head_dim", "mlp_dim", "num_encoder_layers",
        "num_decoder_layers", "depth_heads", "depth_mlp_dim")),
]  # fmt: skip


def write_records(path: str, seeds=range(4)) -> int:
    """One example of every task per seed (12 tasks x 4 seeds = 48 examples)."""
    examples = []
    for seed in seeds:
        batch = make_batch(ALL_PAIRS, seed=seed)
        examples += [{k: v[i] for k, v in batch.items()} for i in range(len(ALL_PAIRS))]
    return write_example_records(path, examples)


ROOT = Path(__file__).resolve().parents[2]


def records_run_command(records: str, model_dir, bindings, *flags) -> list[str]:
    """The command line of a tiny-model run on `records` (gin/records.gin) into `model_dir`,
    with more gin `bindings` and command-line `flags` (e.g. the multi-host ones)."""
    bindings = [*TINY_BINDINGS, f"MODEL_DIR='{model_dir}'", f"TRAIN_RECORDS='{records}'",
                *bindings]  # fmt: skip
    return [
        sys.executable, "-m", "mt3_unified.train.train", "--gin-file=gin/models/tiny.gin",
        "--gin-file=gin/train.gin", "--gin-file=gin/records.gin",
        *(f"--gin.{b}" for b in bindings), *flags,
    ]  # fmt: skip


def subprocess_env(devices: int | None = None) -> dict:
    """The environment of a test's JAX subprocess: this checkout importable, CPU only,
    `devices` fake CPU devices, and no SLURM variables (they switch JAX's cluster
    detection on)."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("SLURM_")}
    env.update(PYTHONPATH=str(ROOT), JAX_PLATFORMS="cpu")
    if devices:
        env["XLA_FLAGS"] = f"--xla_force_host_platform_device_count={devices}"
    return env


def run_worker(script: str, devices: int, timeout: int = 900) -> dict:
    """Runs a Python `script` on `devices` fake CPU devices; its last stdout line is JSON."""
    proc = subprocess.run(
        [sys.executable, "-c", script], cwd=ROOT, env=subprocess_env(devices),
        capture_output=True, text=True, timeout=timeout,
    )  # fmt: skip
    assert proc.returncode == 0, proc.stderr[-4000:]
    return json.loads(proc.stdout.strip().splitlines()[-1])
