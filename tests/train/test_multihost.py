"""Two CPU processes joined by jax.distributed (gloo) train to the same losses as one process
with the same global batch: each reads its own shard and the global batch is assembled from
process-local data."""

import subprocess

import portpicker
import pytest

from mt3_unified.train import curves
from tests.train.helpers import ROOT, records_run_command, subprocess_env

STEPS = 6

pytestmark = pytest.mark.slow


def command(records, model_dir, *distributed):
    # A one-element shuffle buffer keeps the file's order: one process's batch k is records
    # 4k .. 4k+3, and two processes' (even records, odd records) make up the same four.
    return records_run_command(records, model_dir, [
        f"TRAIN_STEPS={STEPS}", "BATCH_SIZE=4", "CheckpointConfig.every=1000",
        "OptimizerConfig.warmup_steps=2", "OptimizerConfig.learning_rate=1e-3",
        "record_dataset.shuffle_buffer=1", "train.log_every=1", "train.progress=False",
    ], *distributed)  # fmt: skip


def start(args, devices):
    return subprocess.Popen(
        args, cwd=ROOT, env=subprocess_env(devices), stdout=subprocess.PIPE,
        stderr=subprocess.PIPE, text=True,
    )  # fmt: skip


def finish_all(procs, timeout=900):
    """Waits for every process; if one fails, ends the others (they would wait for it)."""
    try:
        for proc in procs:
            _, err = proc.communicate(timeout=timeout)
            assert proc.returncode == 0, err[-3000:]
    finally:
        for proc in procs:
            if proc.poll() is None:
                proc.kill()
                proc.wait()


def losses_by_step(model_dir) -> dict[int, dict[str, float]]:
    """{step: {task: loss}} of the run's loss history, which one process writes."""
    entries = curves.read_history(str(model_dir))
    by_step = {entry["step"]: entry["losses"] for entry in entries}
    assert len(by_step) == len(entries), "a step written twice: more than one writer"
    return by_step


def test_two_processes_train_to_the_losses_of_one(records, tmp_path):
    # The same (data=2) mesh both ways: two devices in one process, one in each of two.
    finish_all([start(command(records, tmp_path / "one"), devices=2)])
    address = f"127.0.0.1:{portpicker.pick_unused_port()}"
    finish_all([
        start(command(records, tmp_path / "two", "--coordinator-address", address,
                      "--num-processes", "2", "--process-id", str(i)), devices=1)
        for i in range(2)
    ])  # fmt: skip
    one, two = losses_by_step(tmp_path / "one"), losses_by_step(tmp_path / "two")
    assert list(one) == list(two) == list(range(1, STEPS + 1))
    for step in one:
        assert one[step].keys() == two[step].keys()
        assert one[step] == pytest.approx(two[step], abs=1e-5, rel=0), step
    assert one[1] != one[STEPS]  # the parameters moved: later steps check the all-reduce too
