"""TensorBoard scalars under ``<workdir>/<split>``, written without the tensorboard package."""

from __future__ import annotations

import os
from collections.abc import Iterable, Mapping


class SummaryWriter:
    """One event-file writer a split (e.g. train, validation); a no-op without a workdir.

    TensorFlow is imported only when there is a workdir to write to.
    """

    def __init__(self, workdir: str | None, splits: Iterable[str] = ("train", "validation")):
        self.writers = {}
        if workdir:
            import tensorflow as tf

            self.tf = tf
            for split in splits:
                self.writers[split] = tf.summary.create_file_writer(os.path.join(workdir, split))

    def write(self, split: str, step: int, metrics: Mapping[str, float]) -> None:
        """Writes each metric as a scalar at ``step`` and flushes."""
        if split not in self.writers:
            return
        tf = self.tf
        # tf.summary.scalar needs the tensorboard package; the low-level write with
        # the scalars plugin's metadata gives the same event files without it.
        metadata = tf.compat.v1.SummaryMetadata(
            plugin_data=tf.compat.v1.SummaryMetadata.PluginData(plugin_name="scalars")
        )
        with self.writers[split].as_default():
            for name, value in metrics.items():
                tf.summary.write(name, tf.constant(float(value)), step=step, metadata=metadata)
        self.writers[split].flush()
