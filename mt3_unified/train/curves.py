"""Each task's training loss, kept as JSON lines in the model dir and drawn as one PNG."""

from __future__ import annotations

import json
import os

HISTORY_FILE = "loss_history.jsonl"
CURVES_FILE = "loss_curves.png"


def append_history(model_dir: str, step: int, losses: dict[str, float]) -> None:
    """Adds one line {"step": s, "losses": {task: loss}} (tasks present in the batch only)."""
    with open(os.path.join(model_dir, HISTORY_FILE), "a") as f:
        f.write(json.dumps({"step": step, "losses": losses}) + "\n")


def read_history(model_dir: str) -> list[dict]:
    path = os.path.join(model_dir, HISTORY_FILE)
    if not os.path.exists(path):
        return []
    with open(path) as f:
        return [json.loads(line) for line in f if line.strip()]


def truncate_history(model_dir: str, last_step: int) -> None:
    """Drops lines after `last_step`: a run resumed from a checkpoint redoes those steps."""
    kept = [entry for entry in read_history(model_dir) if entry["step"] <= last_step]
    with open(os.path.join(model_dir, HISTORY_FILE), "w") as f:
        f.writelines(json.dumps(entry) + "\n" for entry in kept)


def plot_loss_curves(model_dir: str) -> str | None:
    """Writes `loss_curves.png` (one line a task, log-scaled loss); None without history."""
    history = read_history(model_dir)
    if not history:
        return None
    import matplotlib

    matplotlib.use("Agg")  # no display: a file is all we want
    import matplotlib.pyplot as plt

    tasks = sorted({task for entry in history for task in entry["losses"]})
    fig, ax = plt.subplots(figsize=(8, 5))
    for task in tasks:
        points = [(e["step"], e["losses"][task]) for e in history if task in e["losses"]]
        ax.plot(*zip(*points, strict=True), label=task)
    ax.set_xlabel("step")
    ax.set_ylabel("training loss (cross-entropy per target token)")
    ax.set_yscale("log")
    ax.legend(fontsize="small")
    path = os.path.join(model_dir, CURVES_FILE)
    fig.savefig(path, dpi=100, bbox_inches="tight")
    plt.close(fig)
    return path
