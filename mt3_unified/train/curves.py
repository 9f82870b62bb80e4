"""Each task's training loss, kept as JSON lines in the model dir and drawn as one PNG."""

from __future__ import annotations

import io
import json
import logging
import threading

from mt3_unified.runtime import files

HISTORY_FILE = "loss_history.jsonl"
CURVES_FILE = "loss_curves.png"


def history_line(step: int, losses: dict[str, float]) -> str:
    """One line of the history: {"step": s, "losses": {task: loss}}."""
    return json.dumps({"step": step, "losses": losses}) + "\n"


def append_history(model_dir: str, step: int, losses: dict[str, float]) -> None:
    """Adds one line {"step": s, "losses": {task: loss}} (tasks present in the batch only)."""
    append_history_lines(model_dir, history_line(step, losses))


def append_history_lines(model_dir: str, lines: str) -> None:
    """Adds `history_line`s, joined, in one write (on GCS each append rewrites the file)."""
    files.append_text(files.join(model_dir, HISTORY_FILE), lines)


def read_history(model_dir: str) -> list[dict]:
    path = files.join(model_dir, HISTORY_FILE)
    if not files.exists(path):
        return []
    return [json.loads(line) for line in files.read_text(path).splitlines() if line.strip()]


def truncate_history(model_dir: str, last_step: int) -> None:
    """Drops lines after `last_step`: a run resumed from a checkpoint redoes those steps."""
    kept = [entry for entry in read_history(model_dir) if entry["step"] <= last_step]
    files.write_text(
        files.join(model_dir, HISTORY_FILE), "".join(json.dumps(e) + "\n" for e in kept)
    )


def plot_loss_curves(model_dir: str) -> str | None:
    """Writes `loss_curves.png` (one line a task, log-scaled loss); None without history.
    Draws on a Figure of its own (no pyplot state), so a background thread may call it."""
    history = read_history(model_dir)
    if not history:
        return None
    from matplotlib.backends.backend_agg import FigureCanvasAgg
    from matplotlib.figure import Figure

    tasks = sorted({task for entry in history for task in entry["losses"]})
    fig = Figure(figsize=(8, 5))
    FigureCanvasAgg(fig)  # no display: a file is all we want
    ax = fig.subplots()
    for task in tasks:
        points = [(e["step"], e["losses"][task]) for e in history if task in e["losses"]]
        ax.plot(*zip(*points, strict=True), label=task)
    ax.set_xlabel("step")
    ax.set_ylabel("training loss (cross-entropy per target token)")
    ax.set_yscale("log")
    ax.legend(fontsize="small")
    png = io.BytesIO()
    fig.savefig(png, format="png", dpi=100, bbox_inches="tight")
    path = files.join(model_dir, CURVES_FILE)
    files.write_bytes(path, png.getvalue())
    return path


class HistoryWriter:
    """Appends history lines and redraws the curves in a thread of its own, so that neither a
    remote model dir's writes (on GCS an append rewrites the file) nor matplotlib hold the
    training loop up. Lines queued while a write is under way go out together in the next.
    A failed write is raised by the next call (or by `close`). Without a model dir (a process
    other than the first) it writes nothing."""

    def __init__(self, model_dir: str | None):
        self.model_dir = model_dir
        self._lines: list[str] = []
        self._draw = self._closing = False
        self._error: BaseException | None = None
        self._changed = threading.Condition()
        self._thread = None
        if model_dir is not None:
            self._thread = threading.Thread(target=self._run, name="loss_history", daemon=True)
            self._thread.start()

    def append(self, step: int, losses: dict[str, float]) -> None:
        """Queues one `history_line`."""
        self._queue(lines=[history_line(step, losses)])

    def draw(self) -> None:
        """Queues a redraw of the curves (after the lines queued so far)."""
        self._queue(draw=True)

    def close(self, raise_errors: bool = True) -> None:
        """Writes what is queued and ends the thread; raises a failed write's error."""
        if self._thread is not None:
            with self._changed:
                self._closing = True
                self._changed.notify()
            self._thread.join()
            self._thread = None
        if raise_errors:
            self._raise()

    def __enter__(self) -> HistoryWriter:
        return self

    def __exit__(self, exc_type, *exc) -> None:
        self.close(raise_errors=exc_type is None)  # an error under way is the one to see

    def _queue(self, lines=(), draw=False) -> None:
        self._raise()
        if self._thread is None:
            return
        with self._changed:
            self._lines += lines
            self._draw = self._draw or draw
            self._changed.notify()

    def _raise(self) -> None:
        if self._error is not None:
            error, self._error = self._error, None
            raise error

    def _run(self) -> None:
        while True:
            with self._changed:
                self._changed.wait_for(lambda: self._lines or self._draw or self._closing)
                lines, self._lines = self._lines, []
                draw, self._draw = self._draw, False
                if not lines and not draw:
                    return  # closing, and nothing left to write
            try:
                if lines:
                    append_history_lines(self.model_dir, "".join(lines))
                if draw:
                    plot_loss_curves(self.model_dir)
            except Exception as err:  # noqa: BLE001 - handed to the loop's thread
                logging.warning("%s: cannot write the loss history or curves (%s)",
                                self.model_dir, err)  # fmt: skip
                self._error = self._error or err
