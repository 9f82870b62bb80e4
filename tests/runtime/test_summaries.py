"""The shared summaries: TensorBoard scalars a split through clu's metric writers, nothing
without a workdir."""

import glob

from mt3_unified.runtime.summaries import SummaryWriter


def read_scalars(folder):
    """(step, tag, value, plugin) of every value in the event files of `folder`."""
    import tensorflow as tf

    return [
        (event.step, value.tag, float(tf.make_ndarray(value.tensor)),
         value.metadata.plugin_data.plugin_name)
        for path in sorted(glob.glob(str(folder / "events.out.tfevents.*")))
        for event in tf.compat.v1.train.summary_iterator(path)
        for value in event.summary.value
    ]  # fmt: skip


def test_scalars_land_in_the_splits_event_file(tmp_path):
    writer = SummaryWriter(str(tmp_path))
    writer.write("validation", 7, {"loss": 0.25})
    # Flushed at once: readable before the writer is closed.
    assert read_scalars(tmp_path / "validation") == [(7, "loss", 0.25, "scalars")]
    writer.close()


def test_asynchronous_writes_are_in_the_files_once_closed(tmp_path):
    with SummaryWriter(str(tmp_path), splits=("train",), asynchronous=True) as writer:
        writer.write("train", 1, {"loss": 2.0, "compile_seconds": 3})
        writer.write("train", 2, {"loss": 1.5})
        writer.write("eval", 2, {"loss": 1.0})  # a split it does not write: dropped
    assert read_scalars(tmp_path / "train") == [
        (1, "loss", 2.0, "scalars"), (1, "compile_seconds", 3.0, "scalars"),
        (2, "loss", 1.5, "scalars"),
    ]  # fmt: skip
    assert not (tmp_path / "eval").exists()
    writer.write("train", 3, {"loss": 1.0})  # after close: dropped, no error


def test_without_a_workdir_nothing_is_written(tmp_path):
    writer = SummaryWriter(None)
    writer.write("train", 1, {"loss": 1.0})
    writer.close()
    assert writer.writers == {}
