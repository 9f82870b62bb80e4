"""The shared summaries: TensorBoard scalars a split, nothing without a workdir."""

import glob

from mt3_unified.runtime.summaries import SummaryWriter


def test_scalars_land_in_the_splits_event_file(tmp_path):
    import tensorflow as tf

    writer = SummaryWriter(str(tmp_path))
    writer.write("validation", 7, {"loss": 0.25})
    (events,) = glob.glob(str(tmp_path / "validation" / "events.out.tfevents.*"))
    values = [
        (event.step, value.tag, float(tf.make_ndarray(value.tensor)))
        for event in tf.compat.v1.train.summary_iterator(events)
        for value in event.summary.value
    ]
    assert values == [(7, "loss", 0.25)]


def test_without_a_workdir_nothing_is_written(tmp_path):
    writer = SummaryWriter(None)
    writer.write("train", 1, {"loss": 1.0})
    assert writer.writers == {}
