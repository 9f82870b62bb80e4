"""train(...) called directly: it trains, writes what people look at, resumes, stops on NaN."""

import functools
import glob
import os
import uuid

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


def test_a_remote_model_dir_gets_the_trainers_own_files(records, tmp_path, monkeypatch):
    """TensorFlow's in-memory ram:// stands in for gs://. Orbax reaches remote paths through
    etils.epath, which knows gs:// but not ram://: the checkpoints go to a local folder here,
    and every other file of the model dir to ram://."""
    import tensorflow as tf

    from mt3_unified.infer import restore
    from mt3_unified.runtime import files
    from mt3_unified.train import checkpoints as train_checkpoints
    from mt3_unified.train.config_diff import read_saved_config

    local = str(tmp_path / "checkpoints")
    monkeypatch.setattr(train_checkpoints, "checkpoint_dir", lambda model_dir: local)
    model_dir = f"ram://{uuid.uuid4().hex}/run"
    result = run(records, model_dir, steps=4)
    assert int(result.state.step) == 4 and os.listdir(local) == ["4"]

    names = set(files.listdir(model_dir))
    assert {"config.gin", "operative_config.gin", "loss_history.jsonl", "loss_curves.png",
            "train"} <= names, names  # fmt: skip
    assert not any(name.startswith(".write_check") for name in names)
    assert read_saved_config(model_dir) == ""  # this test binds nothing in gin
    assert [e["step"] for e in curves.read_history(model_dir)] == [1, 2, 3, 4]
    curves.truncate_history(model_dir, 2)
    assert [e["step"] for e in curves.read_history(model_dir)] == [1, 2]
    with tf.io.gfile.GFile(files.join(model_dir, "loss_curves.png"), "rb") as f:
        assert f.read(4) == b"\x89PNG"
    events = tf.io.gfile.glob(files.join(model_dir, "train", "events.out.tfevents.*"))
    tags = {
        value.tag
        for path in events
        for event in tf.compat.v1.train.summary_iterator(path)
        for value in event.summary.value
    }
    assert {"loss", "checkpoint_seconds", "compile_seconds"} <= tags

    # Inference's look at the model dir: its config.gin and its checkpoints' steps.
    for name in ("4", "2", "4.orbax-checkpoint-tmp-1"):
        files.makedirs(files.join(model_dir, "checkpoints", name))
    restore.check_model_dir(model_dir)
    assert restore._checkpoint_steps(model_dir) == [2, 4]


def test_a_model_dir_that_cannot_be_made_stops_the_run_before_anything_compiles(tmp_path):
    from mt3_unified.errors import Mt3UnifiedError
    from mt3_unified.train.trainer import _prepare_model_dir

    (tmp_path / "a_file").write_text("")
    with pytest.raises(Mt3UnifiedError, match="cannot write the model dir"):
        _prepare_model_dir(str(tmp_path / "a_file" / "run"))


def test_the_history_writer_keeps_the_order_and_raises_a_failed_write(tmp_path):
    with curves.HistoryWriter(str(tmp_path)) as history:
        for step in range(1, 4):
            history.append(step, {"lmx_to_midi": 1.0 / step})
        history.draw()
    assert [e["step"] for e in curves.read_history(str(tmp_path))] == [1, 2, 3]
    assert (tmp_path / "loss_curves.png").stat().st_size > 0

    history = curves.HistoryWriter(str(tmp_path / "missing"))
    history.append(1, {"lmx_to_midi": 1.0})
    with pytest.raises(FileNotFoundError, match="missing"):
        history.close()
