"""bench/demo_step.py on the inference tests' trained run (it restores a run, so it lives
beside that run's fixture): the table's rows, and the prediction's arithmetic."""

import gin
import pytest

from bench.demo_step import in_bfloat16, main, projected_seconds
from mt3_unified.model.config import ModelConfig
from mt3_unified.model.model import UnifiedModel


@pytest.fixture
def clean_gin():
    gin.clear_config()
    yield
    gin.clear_config()


def test_the_prediction_counts_the_run_s_evaluations_and_saves(clean_gin):
    gin.parse_config(
        ["import mt3_unified.train.trainer", "import mt3_unified.train.checkpoints",
         "TRAIN_STEPS = 4500", "train.eval_every = 1000", "CheckpointConfig.every = 500"]
    )  # fmt: skip
    parts = projected_seconds(step_rate=3.0, evaluation=60.0, save=0.5)
    assert parts == {"steps": 1500.0, "evaluations": 240.0, "saves": 4.5}


def test_the_bench_runs_on_a_trained_run(trained_run, clean_gin, capsys):
    argv = ["--model-dir", trained_run.model_dir, "--steps", "2", "--batches", "2",
            "--loop-steps", "6", "--save-every", "3", "--no-eval", "--bfloat16"]  # fmt: skip
    assert main(argv) == 0
    out = capsys.readouterr().out.splitlines()
    rows = [line.split(" | ")[0].removeprefix("| ") for line in out if line.startswith("| (")]
    assert rows == [
        "(a) bare step, steps/s [baseline]",
        "(b) input alone, batches/s",
        "(c) forward pass alone, share of the step",
        "(f) bare step, bfloat16 activations, steps/s",
        "(e) the loop, steady steps/s (6 steps)",
        "(e) a save blocks the loop, s (ratio: in steps of (a))",
    ]
    assert any(line.startswith("the run's 4 steps as predicted, s: steps ") for line in out)


def test_the_bfloat16_twin_changes_the_activations_only():
    weights = {"image_to_lmx": 2.0}
    model = UnifiedModel(ModelConfig(), label_smoothing=0.1, z_loss=0.0, task_weights=weights)
    twin = in_bfloat16(model)
    assert (twin.config.dtype, model.config.dtype) == ("bfloat16", "float32")
    assert twin.config.emb_dim == model.config.emb_dim
    assert (twin.label_smoothing, twin.z_loss) == (0.1, 0.0)
    assert twin.task_weights == model.task_weights
