"""launch/*.sh --dry-run prints exactly the command each would run, quoted for pasting."""

import shlex
import subprocess
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
PYTHON = f"{ROOT}/.venv/bin/python"
# A gin file, a binding whose value holds quotes and a space, a kebab-case binding.
FLAGS = ["--gin_file=gin/models/small.gin", "--gin.MODEL_DIR='gs://bucket/run 1'",
         "--gin", "TRAIN_STEPS=100"]  # fmt: skip
QUOTED_FLAGS = "--gin_file=gin/models/small.gin \"--gin.MODEL_DIR='gs://bucket/run 1'\" " \
    "--gin TRAIN_STEPS=100"  # fmt: skip


def dry_run(script: str, *args: str) -> str:
    env = {"PATH": "/usr/bin:/bin"}  # no PYTHON override from the caller's environment
    done = subprocess.run(
        ["bash", str(ROOT / "launch" / script), "--dry-run", *args],
        capture_output=True, text=True, env=env, check=True,
    )  # fmt: skip
    return done.stdout


def test_local_runs_the_training_module_here():
    out = dry_run("local.sh", *FLAGS)
    assert out == f"{PYTHON} -m mt3_unified.train.train {QUOTED_FLAGS}\n"
    assert shlex.split(out) == [PYTHON, "-m", "mt3_unified.train.train", *FLAGS]


def test_gpu_slurm_starts_one_task_per_gpu_that_joins_by_itself():
    out = dry_run("gpu_slurm.sh", "--nodes", "4", "--gpus-per-node", "8", "--", *FLAGS)
    assert out == (
        "srun --nodes=4 --ntasks-per-node=8 --gpus-per-node=8 --kill-on-bad-exit=1 "
        f"{PYTHON} -m mt3_unified.train.train --multihost {QUOTED_FLAGS}\n"
    )


def test_tpu_pod_runs_one_command_on_every_worker():
    out = dry_run("tpu_pod.sh", "--tpu", "mt3u-v4-64", "--zone", "us-central2-b",
                  "--project", "my-project", *FLAGS)  # fmt: skip
    remote = (
        ".venv/bin/python -m mt3_unified.train.train --multihost "
        "--gin_file=gin/models/small.gin \"--gin.MODEL_DIR='\\''gs://bucket/run 1'\\''\" "
        "--gin TRAIN_STEPS=100"
    )
    assert out == (
        "gcloud compute tpus tpu-vm ssh mt3u-v4-64 --zone us-central2-b --project my-project "
        f"--worker=all --command 'cd mt3-unified && {remote}'\n"
    )
    # What each worker's shell receives, read back, is the training command word for word.
    command = shlex.split(out)[-1]
    assert shlex.split(command) == [
        "cd", "mt3-unified", "&&", ".venv/bin/python", "-m", "mt3_unified.train.train",
        "--multihost", *FLAGS,
    ]  # fmt: skip


@pytest.mark.parametrize(
    ("script", "args", "message"),
    [
        ("tpu_pod.sh", ["--zone", "z", "--gin_file=f"], "--tpu NAME and --zone ZONE are required"),
        ("local.sh", [], "give the training flags (--gin_file=... --gin.MODEL_DIR=...)"),
    ],
)
def test_a_missing_setting_is_a_usage_error(script, args, message):
    done = subprocess.run(
        ["bash", str(ROOT / "launch" / script), "--dry-run", *args],
        capture_output=True, text=True,
    )  # fmt: skip
    assert (done.returncode, done.stdout, done.stderr) == (2, "", f"{script}: {message}\n")
