"""TensorBoard scalars under ``<workdir>/<split>``, written through ``clu.metric_writers``."""

from __future__ import annotations

import os
from collections.abc import Iterable, Mapping


class SummaryWriter:
    """One clu ``metric_writers.SummaryWriter`` a split (e.g. train, validation), each writing
    the event files of ``<workdir>/<split>``; a no-op without a workdir.

    `asynchronous`: writes go through clu's AsyncWriter (a background thread) and reach the
    files at `flush()` or `close()`; otherwise each `write` is flushed before it returns.
    clu and TensorFlow are imported only when there is a workdir to write to.
    """

    def __init__(
        self,
        workdir: str | None,
        splits: Iterable[str] = ("train", "validation"),
        asynchronous: bool = False,
    ):
        self.writers = {}
        self.asynchronous = asynchronous
        if workdir:
            from clu import metric_writers

            for split in splits:
                writer = metric_writers.SummaryWriter(os.path.join(workdir, split))
                if asynchronous:
                    writer = metric_writers.AsyncWriter(writer)
                self.writers[split] = writer

    def write(self, split: str, step: int, metrics: Mapping[str, float]) -> None:
        """Writes each metric as a scalar at ``step`` (flushed unless asynchronous)."""
        writer = self.writers.get(split)
        if writer is None or not metrics:
            return
        writer.write_scalars(step, {name: float(value) for name, value in metrics.items()})
        if not self.asynchronous:
            writer.flush()

    def flush(self) -> None:
        for writer in self.writers.values():
            writer.flush()

    def close(self) -> None:
        """Flushes and closes every split's writer; later writes are dropped."""
        writers, self.writers = self.writers, {}
        for writer in writers.values():
            writer.close()

    def __enter__(self) -> SummaryWriter:
        return self

    def __exit__(self, *exc) -> None:
        self.close()
