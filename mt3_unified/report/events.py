"""A training run's TensorBoard scalars read back: (step, wall time, value) series by tag."""

from __future__ import annotations

import bisect
import dataclasses
import os


@dataclasses.dataclass(frozen=True)
class Point:
    step: int
    wall_time: float  # seconds since the epoch, when the value was written
    value: float


def event_files(folder: str) -> list[str]:
    """The event files directly in ``folder`` (e.g. ``<model_dir>/eval``), by name."""
    if "://" not in folder and not os.path.isdir(folder):
        return []  # without importing TensorFlow (seconds) for nothing
    import tensorflow as tf

    return sorted(tf.io.gfile.glob(os.path.join(folder, "events.out.tfevents.*")))


def read_scalars(folder: str) -> dict[str, list[Point]]:
    """{tag: points by step} of every scalar in ``folder``'s event files (clu's
    SummaryWriter stores them as tensors, older writers as simple values). A step written
    twice (a resumed run redoes the steps after its last checkpoint) keeps the value
    written last."""
    import tensorflow as tf

    latest: dict[str, dict[int, Point]] = {}
    for path in event_files(folder):
        for event in _events(path):
            for value in event.summary.value:
                kind = value.WhichOneof("value")
                if kind == "simple_value":
                    number = float(value.simple_value)
                elif kind == "tensor" and value.metadata.plugin_data.plugin_name == "scalars":
                    number = float(tf.make_ndarray(value.tensor))
                else:
                    continue  # text, images, histograms
                point = Point(int(event.step), float(event.wall_time), number)
                known = latest.setdefault(value.tag, {}).get(point.step)
                if known is None or known.wall_time <= point.wall_time:
                    latest[value.tag][point.step] = point
    return {tag: [points[s] for s in sorted(points)] for tag, points in sorted(latest.items())}


def training_clock(folder: str, *others: str):
    """A function of wall time -> seconds of training, from the event files of ``folder``
    (``<model_dir>/train``: one file a process, a resumed run adds one) and ``others``
    (``<model_dir>/eval``): the time since the first event, less each pause between the
    last event written before a process started and that process's first event (a
    killed run waiting to be resumed). None without event files in ``folder``."""
    starts = []
    for path in event_files(folder):
        first = next(_events(path), None)
        if first is not None:
            starts.append(first.wall_time)
    if not starts:
        return None
    starts.sort()
    written = sorted(
        event.wall_time
        for each in (folder, *others)
        for path in event_files(each)
        for event in _events(path)
    )
    pauses = []
    for begin in starts[1:]:
        earlier = bisect.bisect_left(written, begin)
        if earlier:
            pauses.append((written[earlier - 1], begin))

    def seconds(wall_time: float) -> float:
        paused = sum(max(0.0, min(wall_time, end) - start) for start, end in pauses)
        return wall_time - starts[0] - paused

    return seconds


def _events(path: str):
    """The events of one file; one that a running writer is still appending to may end
    in a partial record, which ends the reading instead of raising."""
    import tensorflow as tf

    try:
        yield from tf.compat.v1.train.summary_iterator(path)
    except tf.errors.DataLossError:
        return
