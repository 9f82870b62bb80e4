"""A real training process killed with -9 and run again ends bitwise where an unkilled run ends;
SIGTERM saves and exits 0."""

import signal
import subprocess
import time
from pathlib import Path

import jax
import numpy as np
import pytest

from mt3_unified.train.checkpoints import saved_params
from tests.train.helpers import ROOT, records_run_command, subprocess_env

STEPS = 40

pytestmark = pytest.mark.slow


def command(records, model_dir):
    return records_run_command(records, model_dir, [
        f"TRAIN_STEPS={STEPS}", "BATCH_SIZE=4", "CheckpointConfig.every=2",
        "OptimizerConfig.warmup_steps=4", "OptimizerConfig.learning_rate=1e-3",
        "ModelConfig.dropout_rate=0.1", "record_dataset.shuffle_buffer=16", "train.log_every=1",
    ])  # fmt: skip


def start(records, model_dir):
    return subprocess.Popen(
        command(records, model_dir), cwd=ROOT, env=subprocess_env(), stdout=subprocess.PIPE,
        stderr=subprocess.PIPE, text=True,
    )  # fmt: skip


def wait_for_checkpoint(proc, model_dir, timeout=600):
    """Waits until a finished checkpoint of step >= 2 exists; the run must still be going."""
    folder = Path(model_dir) / "checkpoints"
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        done = (
            [int(p.name) for p in folder.glob("*") if p.name.isdigit()] if folder.exists() else []
        )
        if done:
            assert proc.poll() is None, "the run ended before it could be interrupted"
            return max(done)
        assert proc.poll() is None, proc.stderr.read()[-3000:]
        time.sleep(0.02)
    raise TimeoutError(model_dir)


def finish(proc):
    out, err = proc.communicate(timeout=600)
    assert proc.returncode == 0, err[-3000:]
    return out


def test_kill_9_then_the_same_command_ends_bitwise_like_an_unkilled_run(records, tmp_path):
    finish(start(records, tmp_path / "whole"))
    killed = start(records, tmp_path / "killed")
    wait_for_checkpoint(killed, tmp_path / "killed")
    killed.send_signal(signal.SIGKILL)
    killed.wait()
    saved = (tmp_path / "killed" / "checkpoints").iterdir()
    interrupted_at = max(int(p.name) for p in saved if p.name.isdigit())  # not Orbax's tmp dirs
    assert interrupted_at < STEPS
    out = finish(start(records, tmp_path / "killed"))
    assert f"finished at step {STEPS}" in out
    step_a, whole = saved_params(str(tmp_path / "whole"))
    step_b, resumed = saved_params(str(tmp_path / "killed"))
    assert step_a == step_b == STEPS
    same = jax.tree.map(lambda a, b: np.array_equal(np.asarray(a), np.asarray(b)), whole, resumed)
    assert all(jax.tree.leaves(same))
    operative = (tmp_path / "killed" / "operative_config.gin").read_text()
    assert "ModelConfig.emb_dim = 32" in operative


def test_sigterm_saves_and_exits_zero(records, tmp_path):
    proc = start(records, tmp_path)
    wait_for_checkpoint(proc, tmp_path)
    proc.send_signal(signal.SIGTERM)
    out = finish(proc)
    assert "stopped early (SIGTERM) at step" in out
    stopped_at = int(out.split("at step ")[1].split(";")[0])
    assert stopped_at < STEPS
    assert saved_params(str(tmp_path))[0] == stopped_at
