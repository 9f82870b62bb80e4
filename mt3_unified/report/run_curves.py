"""Several runs' metrics during training on one figure, against minutes of training: which
run (model size, inputs, mixture) reaches a target in a given time, and how fast."""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path

from mt3_unified.errors import Mt3UnifiedError
from mt3_unified.infer.eval_results import markdown_table
from mt3_unified.report.evaluation import (
    HEADLINE_METRICS,
    curve_panels,
    headline_curves,
    task_label,
)
from mt3_unified.report.plots import metric_curves_png

COLUMNS = ["run", "task", "step", "minutes", "metric", "value"]


class RunCurvesError(Mt3UnifiedError, ValueError):
    """A run without evaluations during training: the message names its model dir."""


def run_curves(runs: Mapping[str, str], task: str | None = None) -> dict[tuple[str, str], dict]:
    """{(run label, pair): curve} of each run's headline curves ({label: model dir}), only
    the tasks whose name contains ``task`` when given."""
    out = {}
    for label, model_dir in runs.items():
        curves = {
            name: curve
            for name, curve in headline_curves(model_dir).items()
            if task is None or task in name
        }
        if not curves:
            which = f" of a task containing {task!r}" if task else ""
            raise RunCurvesError(
                f"{model_dir}: no evaluation during training{which} "
                "(<model_dir>/eval, written every train.eval_every steps)"
            )
        for name, curve in curves.items():
            out[label, task_label(name)] = curve
    return out


def write_run_curves(
    runs: Mapping[str, str], output: Path, task: str | None = None
) -> tuple[Path, Path]:
    """The runs' curves as ``output`` (PNG, a panel a metric) and their points as a
    Markdown table beside it (``.md``)."""
    curves = run_curves(runs, task)
    output.parent.mkdir(parents=True, exist_ok=True)
    named = {f"{run}: {pair}": curve for (run, pair), curve in curves.items()}
    png = metric_curves_png(
        curve_panels(named), title="evaluation during training", step_axis=False
    )
    output.write_bytes(png)
    rows = []
    for (run, pair), curve in curves.items():
        points = zip(curve["steps"], curve["minutes"], curve["values"], strict=True)
        for step, minutes, value in points:
            label = HEADLINE_METRICS[curve["metric"]]
            rows.append([run, pair, step, minutes, label, round(value, 4)])
    table = output.with_suffix(".md")
    table.write_text(markdown_table(COLUMNS, rows) + "\n", encoding="utf-8")
    return output, table
