"""train(...) called directly: it trains, writes what people look at, resumes, stops on NaN."""

import functools
import glob
import os

import pytest

from mt3_unified.train import curves
from mt3_unified.train.checkpoints import CheckpointConfig
from mt3_unified.train.inputs import record_dataset
from mt3_unified.train.optimizer import OptimizerConfig
from mt3_unified.train.trainer import NonFiniteLossError, train
from tests.model.helpers import tiny_model
from tests.train.helpers import write_records


@pytest.fixture(scope="module")
def records(tmp_path_factory):
    path = str(tmp_path_factory.mktemp("data") / "train.tfrecord")
    assert write_records(path) == 48
    return path


def run(records, model_dir, steps, optimizer=None, checkpoint=None, **settings):
    return train(
        model=tiny_model(),
        train_dataset_fn=functools.partial(record_dataset, pattern=records, shuffle_buffer=16),
        model_dir=str(model_dir),
        steps=steps,
        batch_size=4,
        optimizer=optimizer or OptimizerConfig(learning_rate=3e-3, warmup_steps=2),
        checkpoint=checkpoint or CheckpointConfig(every=4, keep=2),
        log_every=1,
        progress=False,
        **settings,
    )


def test_a_run_writes_its_files_and_resumes(records, tmp_path):
    result = run(records, tmp_path, steps=8, microbatches=2)
    assert result.origin == "fresh parameters" and not result.stopped_early
    assert int(result.state.step) == 8
    assert sorted(os.listdir(tmp_path / "checkpoints")) == ["4", "8"]
    assert (tmp_path / "config.gin").exists()  # empty here: this test binds nothing in gin
    for name in ("loss_curves.png", "loss_history.jsonl"):
        assert (tmp_path / name).stat().st_size > 0, name
    assert os.listdir(tmp_path / "train")  # TensorBoard event files
    history = curves.read_history(str(tmp_path))
    assert [entry["step"] for entry in history] == list(range(1, 9))
    assert all(0 < loss < 20 for e in history for loss in e["losses"].values())

    again = run(records, tmp_path, steps=10, microbatches=2)
    assert again.origin.startswith("resumed from step 8")
    assert int(again.state.step) == 10
    assert [entry["step"] for entry in curves.read_history(str(tmp_path))] == list(range(1, 11))

    # The summaries: each run's compile seconds at its first step, a save's blocking seconds.
    scalars = read_scalars(tmp_path / "train")
    compiled = {step: value for step, tag, value in scalars if tag == "compile_seconds"}
    assert sorted(compiled) == [1, 9] and all(value > 0 for value in compiled.values())
    saves = [step for step, tag, value in scalars if tag == "checkpoint_seconds" and value >= 0]
    assert saves == [4, 8, 10]
    assert {step for step, tag, _ in scalars if tag == "loss"} == set(range(1, 11))


def read_scalars(folder) -> list[tuple[int, str, float]]:
    """(step, tag, value) of every scalar in a split's TensorBoard event files, in order."""
    import tensorflow as tf

    return [
        (event.step, value.tag, float(tf.make_ndarray(value.tensor)))
        for path in sorted(glob.glob(str(folder / "events.out.tfevents.*")))
        for event in tf.compat.v1.train.summary_iterator(path)
        for value in event.summary.value
    ]


def test_a_nan_loss_stops_the_run_naming_step_and_tasks_and_keeps_the_last_checkpoint(
    records, tmp_path
):
    # An infinite rate: the first update (rate 0 * inf) makes every parameter NaN.
    with pytest.raises(NonFiniteLossError, match=r"the loss at step 2 is nan \(tasks image_to"):
        run(records, tmp_path, steps=8, optimizer=OptimizerConfig(learning_rate=float("inf")),
            checkpoint=CheckpointConfig(every=1, keep=5))  # fmt: skip
    assert os.listdir(tmp_path / "checkpoints") == ["1"]
