"""The SeqIO input end to end: gin/local_cpu.gin trains the tiny model on the tiny corpus's
symbolic tasks, resumes where it stopped, evaluates with the tasks' metrics, and learns."""

from __future__ import annotations

import logging

import gin
import jax
import numpy as np
import orbax.checkpoint as ocp
import pytest
import tensorflow as tf

import mt3_unified.tasks  # noqa: F401  (registers every task)
from mt3_unified.runtime.gin_config import parse_gin
from mt3_unified.runtime.iterator_checkpoint import DatasetIteratorRestore
from mt3_unified.tasks.mixtures import add_mixture
from mt3_unified.train import curves, inputs, trainer
from mt3_unified.train.checkpoints import CheckpointConfig, TrainCheckpoints, saved_params
from tests.corpus.conftest import needs_fluidsynth

pytestmark = needs_fluidsynth  # the tiny corpus renders audio
LMX_TO_MIDI = "synthetic_tiny_lmx_to_midi_train"
SYMBOLIC = "synthetic_tiny_symbolic"  # lmx <-> midi of the tiny corpus, registered below
# The tiny corpus's longest unit needs 303 frames (local_cpu.gin's 256 would drop 4 of 6).
LENGTH = 320
BATCH = 4


@pytest.fixture(scope="module")
def data_dir(tiny_build):
    add_mixture(SYMBOLIC, ["synthetic_tiny"], ["lmx_to_midi", "midi_to_lmx"])
    return tiny_build[0]


@pytest.fixture(autouse=True)
def clean_gin():
    gin.clear_config()
    yield
    gin.clear_config()


def configure(data_dir, model_dir, task: str, steps: int, *bindings: str):
    """gin/local_cpu.gin for `steps` steps of `task` on the tiny corpus; returns MODEL."""
    gin.clear_config()
    parse_gin(
        ["gin/local_cpu.gin"],
        [
            f"MODEL_DIR='{model_dir}'",
            f"MIXTURE_OR_TASK_NAME='{task}'",
            f"TRAIN_STEPS={steps}",
            f"BATCH_SIZE={BATCH}",
            f"TASK_FEATURE_LENGTHS={{'inputs': {LENGTH}, 'targets': {LENGTH}}}",
            f"ModelConfig.max_input_len={LENGTH}",
            f"ModelConfig.max_target_len={LENGTH}",
            f"DataPaths.data_dir='{data_dir}'",
            f"DataPaths.baked_dir='{data_dir}/no_bake'",
            "train.progress=False",
            *bindings,
        ],
    )
    return gin.query_parameter("%MODEL").scoped_configurable_fn()


# A constant rate after one warmup step: a run stopped at step 4 and resumed to 6 follows
# the schedule of a run of 6 steps; no evaluation.
RESUMABLE = (
    "OptimizerConfig.warmup_steps=0",
    "OptimizerConfig.final_learning_rate=1e-3",
    "CheckpointConfig.every=2",
    "train.eval_every=0",
)


def run(data_dir, model_dir, task, steps, *bindings):
    model = configure(data_dir, model_dir, task, steps, *bindings)
    return trainer.train(model=model)


def test_a_seqio_run_resumes_its_input_where_it_stopped(data_dir, tmp_path, caplog):
    with caplog.at_level(logging.INFO):
        whole = run(data_dir, tmp_path / "whole", LMX_TO_MIDI, 6, *RESUMABLE)
    assert whole.origin == "fresh parameters" and int(whole.state.step) == 6
    # Start-up logs the pipeline's dropped examples, per task and reason.
    assert f"{LMX_TO_MIDI} train: 6 examples kept, dropped none" in caplog.messages

    stopped = run(data_dir, tmp_path / "split", LMX_TO_MIDI, 4, *RESUMABLE)
    assert int(stopped.state.step) == 4
    resumed = run(data_dir, tmp_path / "split", LMX_TO_MIDI, 6, *RESUMABLE)
    assert resumed.origin.startswith("resumed from step 4")
    flat_whole = jax.tree.leaves(saved_params(str(tmp_path / "whole"))[1])
    flat_resumed = jax.tree.leaves(saved_params(str(tmp_path / "split"))[1])
    assert all(np.array_equal(a, b) for a, b in zip(flat_whole, flat_resumed, strict=True))

    # The input position saved at step 4: the batch it gives next is an unstopped run's 5th.
    configure(data_dir, tmp_path / "split", LMX_TO_MIDI, 6, *RESUMABLE)
    fresh = iter(inputs.seqio_dataset(batch_size=BATCH, seed=0))
    fifth = [inputs.next_host_batch(fresh) for _ in range(5)][-1]
    restored = iter(inputs.seqio_dataset(batch_size=BATCH, seed=0))
    checkpoints = TrainCheckpoints(str(tmp_path / "split"), CheckpointConfig(every=2))
    checkpoints.manager.restore(4, args=ocp.args.Composite(input=DatasetIteratorRestore(restored)))
    checkpoints.close()
    after_resume = inputs.next_host_batch(restored)
    assert sorted(after_resume) == sorted(fifth)
    for name, value in fifth.items():
        np.testing.assert_array_equal(after_resume[name], value, err_msg=name)
    del fresh, restored  # tf.data iterators with Python ops: freed before the process exits


# The midi tasks' metric names (tasks/metrics.py midi_metrics): counts, then note scores.
MIDI_METRICS = {"num_estimate_notes", "num_reference_notes"} | {
    f"{what}@{ms}ms"
    for what in ("onset_f1", "onset_precision", "onset_recall",
                 "onset_offset_f1", "onset_offset_precision", "onset_offset_recall")
    for ms in (50, 100, 200)
}  # fmt: skip


def test_evaluation_scores_decoded_examples_with_the_tasks_metrics(data_dir, tmp_path):
    task = "synthetic_tiny_lmx_to_midi_eval"  # the eval twin of the training task
    best = f"eval/{task}/onset_f1@50ms"
    result = run(
        data_dir, tmp_path, LMX_TO_MIDI, 4,
        "train.eval_every=2",
        "TaskMetricEvaluator.max_examples=3",  # the validation split's 3 units
        "TaskMetricEvaluator.batch_size=2",  # 2 batches, the second padded
        "TaskMetricEvaluator.max_decode_length=32",
        "CheckpointConfig.every=2",
        f"CheckpointConfig.best_metric='{best}'",
        "CheckpointConfig.best_mode='max'",
    )  # fmt: skip
    assert int(result.state.step) == 4
    manager = TrainCheckpoints(str(tmp_path), CheckpointConfig(best_metric=best)).manager
    saved = {step: manager.metrics(step) for step in manager.all_steps()}
    assert manager.best_step() in (2, 4)
    manager.close()
    assert sorted(saved) == [2, 4]
    for metrics in saved.values():
        assert set(metrics) == {f"eval/{task}/{name}" for name in MIDI_METRICS}
        assert metrics[f"eval/{task}/num_reference_notes"] > 0
        assert all(np.isfinite(v) for v in metrics.values())
    # TensorBoard holds the same names under the eval writer.
    assert set(curves_tags(tmp_path / "eval")) == set(saved[4])


def curves_tags(folder) -> list[str]:
    """The scalar names in a TensorBoard folder's event files."""
    return sorted({
        value.tag
        for path in tf.io.gfile.glob(str(folder / "events.*"))
        for event in tf.compat.v1.train.summary_iterator(path)
        for value in event.summary.value
    })  # fmt: skip


def test_every_task_of_a_mixture_learns_with_the_local_cpu_config(data_dir, tmp_path):
    """What issue 18 must show, small: gin/local_cpu.gin on the tiny corpus's lmx <-> midi
    mixture; each task's loss (mean of its last 3 logged values) falls below 0.3 of its
    first logged one (a real run: 7.73 -> 0.86 for lmx_to_midi, 5.66 -> 0.25 for
    midi_to_lmx; 44 s here)."""
    steps = 300
    result = run(data_dir, tmp_path, SYMBOLIC, steps, "train.eval_every=0")
    assert int(result.state.step) == steps
    history = curves.read_history(str(tmp_path))
    assert [entry["step"] for entry in history] == list(range(10, steps + 1, 10))
    for task in ("lmx_to_midi", "midi_to_lmx"):
        losses = [entry["losses"][task] for entry in history if task in entry["losses"]]
        assert len(losses) >= 6, task
        assert np.mean(losses[-3:]) < 0.3 * losses[0], (task, losses)


def test_a_run_with_log_mel_inputs_needs_only_the_model_and_task_switches(data_dir, tmp_path):
    """AMT on whole pieces with log-mel inputs, as a mixture: the batches and the evaluation
    carry the continuous features because the tasks' examples do, with no switch of their
    own (seqio's mixtures keep only declared features: this one is kept too)."""
    add_mixture("synthetic_tiny_pieces_amt", ["synthetic_tiny_pieces"], ["audio_to_midi"])
    result = run(
        data_dir, tmp_path, "synthetic_tiny_pieces_amt", 2,
        "ContinuousInputs.modalities=('audio',)",
        "ModelConfig.continuous_input_dim=128",
        "ModelConfig.continuous_modalities=('audio',)",
        "train.eval_every=2",
        "TaskMetricEvaluator.max_examples=2",
        "TaskMetricEvaluator.max_decode_length=16",
    )  # fmt: skip
    assert int(result.state.step) == 2
    assert "continuous_proj" in str(jax.tree_util.tree_structure(result.state.params))


def test_one_mixture_mixes_log_mel_inputs_with_symbolic_ones(data_dir, tmp_path):
    """AMT on log-mel frames beside LMX -> MIDI on tokens, in one mixture: the LMX examples
    carry zero continuous inputs of the same width, so tf.data samples both; each task is
    trained and evaluated."""
    name = "synthetic_tiny_amt_lmx_to_midi"
    add_mixture(name, ["synthetic_tiny"], ["audio_to_midi", "lmx_to_midi"])
    result = run(
        data_dir, tmp_path, name, 4,
        "ContinuousInputs.modalities=('audio',)",
        "ModelConfig.continuous_input_dim=128",
        "ModelConfig.continuous_modalities=('audio',)",
        "train.eval_every=4",
        "TaskMetricEvaluator.max_examples=1",
        "TaskMetricEvaluator.max_decode_length=8",
    )  # fmt: skip
    assert int(result.state.step) == 4
    tags = curves_tags(tmp_path / "eval")
    for task in ("audio_to_midi", "lmx_to_midi"):
        assert any(f"synthetic_tiny_{task}_eval" in tag for tag in tags), (task, tags)
