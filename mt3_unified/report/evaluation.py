"""One evaluation as a self-contained HTML page: metric tables, loss and metric curves, samples."""

from __future__ import annotations

import functools
import json
import os
import re
from collections.abc import Callable, Mapping, Sequence
from pathlib import Path

from mt3_unified.infer.eval_results import decoding_note
from mt3_unified.report.html import HtmlReport
from mt3_unified.report.plots import curves_png, metric_curves_png, piano_roll_png
from mt3_unified.train.curves import HISTORY_FILE, read_history

RESULTS_FILE = "results.json"
REPORT_FILE = "report.html"
METRIC_CURVES_FILE = "metric_curves.png"
# Each task's headline metric during training, by what it outputs: LMX (SER), MIDI
# (onset F1), image or audio codes (code accuracy); the first a task has is its own.
HEADLINE_METRICS = {
    "ser": "SER (%)",
    "onset_f1@50ms": "onset F1 @50ms",
    "code_accuracy": "code accuracy",
}
_PAIR = re.compile(r"(lmx|midi|image|audio)_to_(lmx|midi|image|audio)")
Reader = Callable[[str], bytes | None]

ROLES = ("input", "target", "prediction")
KINDS = ("image", "audio", "lmx")
# A file whose first bytes are wrong would embed fine and then show as a broken
# player or image; checking the signature turns that into a readable line instead.
_SIGNATURES = {"image": ("PNG", b"\x89PNG\r\n\x1a\n"), "audio": ("WAV", b"RIFF")}


def evaluation_report(
    eval_dir: str | Path, *, model_dir: str | None = None, output: str | Path | None = None
) -> Path:
    """Writes the report of `eval_dir/results.json` (default `eval_dir/report.html`)."""
    eval_dir = Path(eval_dir)
    results = load_results(eval_dir)
    model_dir = model_dir if model_dir is not None else _default_model_dir(results)
    report = HtmlReport(_title(results))
    _header(report, results, eval_dir, model_dir)
    _tables(report, results.get("tables", []))
    _loss_curves(report, model_dir)
    _metric_curves(report, model_dir, eval_dir)
    _samples(report, eval_dir, results.get("samples", []))
    return report.write(output if output is not None else eval_dir / REPORT_FILE)


def load_results(eval_dir: Path) -> dict:
    path = eval_dir / RESULTS_FILE
    if not path.exists():
        raise FileNotFoundError(f"{path} does not exist: `mt3u eval` writes it")
    return json.loads(path.read_text(encoding="utf-8"))


def _default_model_dir(results: dict) -> str | None:
    # An eval dir copied to another machine keeps a model_dir that is not there.
    model_dir = results.get("model_dir")
    return model_dir if model_dir and os.path.isdir(model_dir) else None


def _title(results: dict) -> str:
    name = Path(results.get("model_dir") or "model").name
    return f"Evaluation of {name} at step {results.get('step', '?')} ({results.get('split', '?')})"


def _header(report: HtmlReport, results: dict, eval_dir: Path, model_dir: str | None) -> None:
    row = [
        model_dir or results.get("model_dir", "?"),
        results.get("step", "?"),
        results.get("split", "?"),
        results.get("created", "?"),
        str(eval_dir),
    ]
    report.table(["model dir", "step", "split", "created", "eval dir"], [row])
    if note := decoding_note(results):
        report.note(note)


def _tables(report: HtmlReport, tables: Sequence[dict]) -> None:
    report.heading("Results")
    if not tables:
        report.text("No result tables.")
    for table in tables:
        report.heading(table.get("title", "(untitled)"), level=3)
        rows = [["n/a" if cell is None else cell for cell in row] for row in table["rows"]]
        report.table(table["columns"], rows)
        if table.get("note"):
            report.note(table["note"])


def _loss_curves(report: HtmlReport, model_dir: str | None) -> None:
    report.heading("Training loss")
    if model_dir is None:
        report.text("No model dir here, so no training loss curves.")
        return
    history = read_history(str(model_dir))
    if not history:
        report.text(f"No training loss history ({HISTORY_FILE}) in {model_dir}.")
        return
    tasks = sorted({task for entry in history for task in entry["losses"]})
    curves = {}
    for task in tasks:
        points = [(e["step"], e["losses"][task]) for e in history if task in e["losses"]]
        curves[task] = ([s for s, _ in points], [loss for _, loss in points])
    png = curves_png(curves, ylabel="training loss", title=f"training loss per task, {model_dir}")
    report.image(png, alt="training loss per task")


def headline_curves(model_dir: str) -> dict[str, dict]:
    """{task: {"metric", "steps", "minutes", "values"}}: each task's headline metric
    (`HEADLINE_METRICS`) of the evaluations during training (``<model_dir>/eval``'s
    ``eval/<task>/<metric>`` scalars), in minutes of training: from the first event of
    ``<model_dir>/train`` (when training began), less the pauses of a killed run before
    it resumed."""
    from mt3_unified.report.events import read_scalars, training_clock

    by_task: dict[str, dict] = {}
    for tag, points in read_scalars(os.path.join(model_dir, "eval")).items():
        parts = tag.split("/")
        if len(parts) == 3 and parts[0] == "eval":
            by_task.setdefault(parts[1], {})[parts[2]] = points
    if not by_task:
        return {}
    folders = [os.path.join(model_dir, "train"), os.path.join(model_dir, "eval")]
    # Without training events, the eval writer's opening is when training began.
    clock = training_clock(*folders) or training_clock(folders[1])
    curves = {}
    for task, metrics in sorted(by_task.items()):
        metric = next((m for m in HEADLINE_METRICS if m in metrics), None)
        if metric is None:
            continue
        points = metrics[metric]
        curves[task] = {
            "metric": metric,
            "steps": [p.step for p in points],
            "minutes": [round(clock(p.wall_time) / 60, 2) for p in points],
            "values": [p.value for p in points],
        }
    return curves


def task_label(task: str) -> str:
    found = _PAIR.search(task)
    return found.group(0) if found else task


def curve_panels(curves: Mapping[str, dict]) -> dict[str, dict]:
    """{metric label: {name: (minutes, steps, values)}} of named headline curves, the
    panels of `metric_curves_png` in HEADLINE_METRICS's order."""
    panels: dict[str, dict] = {label: {} for label in HEADLINE_METRICS.values()}
    for name, curve in curves.items():
        panel = panels[HEADLINE_METRICS[curve["metric"]]]
        panel[name] = (curve["minutes"], curve["steps"], curve["values"])
    return {label: panel for label, panel in panels.items() if panel}


def _metric_curves(report: HtmlReport, model_dir: str | None, eval_dir: Path) -> None:
    """Each task's headline metric against training time, also written as
    ``eval_dir/metric_curves.png``."""
    report.heading("Metrics during training")
    if model_dir is None:
        report.text("No model dir here, so no metrics during training.")
        return
    curves = headline_curves(str(model_dir))
    if not curves:
        report.text(
            f"No evaluation during training in {os.path.join(str(model_dir), 'eval')} "
            "(train.eval_every)."
        )
        return
    panels = curve_panels({task_label(task): curve for task, curve in curves.items()})
    png = metric_curves_png(panels, title=f"evaluation during training, {model_dir}")
    (eval_dir / METRIC_CURVES_FILE).write_bytes(png)
    report.image(png, alt="each task's metric during training")
    report.text(
        "Each task's metric on the first validation examples (TaskMetricEvaluator.max_examples), "
        "evaluated every train.eval_every steps; minutes since training began."
    )
    minutes_of_step: dict[int, float] = {}
    for curve in curves.values():
        for step, minute in zip(curve["steps"], curve["minutes"], strict=True):
            minutes_of_step[step] = min(minute, minutes_of_step.get(step, minute))
    columns = ["step", "minutes"] + [
        f"{task_label(task)} {HEADLINE_METRICS[curve['metric']]}" for task, curve in curves.items()
    ]
    rows = []
    for step in sorted(minutes_of_step):
        values = [
            dict(zip(curve["steps"], curve["values"], strict=True)).get(step, "n/a")
            for curve in curves.values()
        ]
        rows.append([step, minutes_of_step[step], *values])
    report.table(columns, rows)


def _samples(report: HtmlReport, eval_dir: Path, samples: Sequence[dict]) -> None:
    report.heading("Samples")
    if not samples:
        report.text("No samples.")
    for index, sample in enumerate(samples):
        _sample(report, eval_dir, index, sample)


def _sample(report: HtmlReport, eval_dir: Path, index: int, sample: dict) -> None:
    files = sample.get("files") or {}
    read = functools.partial(_read, report, eval_dir, files)
    report.heading(sample.get("title") or f"sample {index}", level=3)
    report.text(
        f"{sample.get('task', '?')} · {sample.get('piece_id', '?')} · "
        f"{sample.get('input_modality', '?')} → {sample.get('output_modality', '?')}"
    )
    _image_row(report, [("input", read("input_image"))])
    _players(report, read, [("input audio", "input_audio")])
    _lmx(report, read, [("input LMX", "input_lmx")])
    _image_row(report, [("target", read("target_image")), ("prediction", read("prediction_image"))])
    _players(
        report, read, [("target audio", "target_audio"), ("generated audio", "prediction_audio")]
    )
    _piano_roll(report, sample.get("notes") or {})
    _lmx(report, read, [("target LMX", "target_lmx"), ("predicted LMX", "prediction_lmx")])
    _unknown_files(report, files)


def _read(report: HtmlReport, eval_dir: Path, files: dict, key: str) -> bytes | None:
    """The file under `key`, or None; a missing or wrong file gets a "bad" line, never a raise."""
    if key not in files:
        return None
    relative = files[key]
    try:
        data = (eval_dir / relative).read_bytes()
    except OSError as error:
        report.text(f"missing {key}: {relative} ({error.strerror})", css_class="bad")
        return None
    format_name, signature = _SIGNATURES.get(key.rsplit("_", 1)[-1], ("", b""))
    if not data.startswith(signature):
        report.text(f"{key}: {relative} is not a {format_name} file", css_class="bad")
        return None
    return data


def _image_row(report: HtmlReport, images: Sequence[tuple[str, bytes | None]]) -> None:
    present = [(png, caption) for caption, png in images if png is not None]
    if present:
        report.image_row(present)


# Players and texts read each file just before showing it, so a "bad" line
# stands where the missing file would have been.
def _players(report: HtmlReport, read: Reader, players: Sequence[tuple[str, str]]) -> None:
    for label, key in players:
        wav = read(key)
        if wav is not None:
            report.audio_file(wav, label=label)


def _lmx(report: HtmlReport, read: Reader, texts: Sequence[tuple[str, str]]) -> None:
    for label, key in texts:
        data = read(key)
        if data is not None:
            report.text(label)
            report.code(data.decode("utf-8", errors="replace"))


def _piano_roll(report: HtmlReport, notes: dict) -> None:
    target = _note_tuples(notes.get("target"))
    prediction = _note_tuples(notes.get("prediction"))
    if prediction is not None:
        # An empty prediction is still drawn: "predicted nothing" is worth seeing.
        title = "prediction (blue) over target (grey)" if target is not None else "prediction"
        png = piano_roll_png(prediction, reference=target, title=title)
    elif target is not None:
        png = piano_roll_png(target, title="target")
    else:
        return
    report.image(png, alt="piano roll")


def _note_tuples(notes: Sequence[Sequence[float]] | None) -> list[tuple[float, float, int]] | None:
    if notes is None:
        return None
    return [(float(onset), float(offset), int(pitch)) for onset, offset, pitch in notes]


def _unknown_files(report: HtmlReport, files: dict) -> None:
    # Named rather than dropped, so a file `mt3u eval` starts writing is not silently lost.
    known = {f"{role}_{kind}" for role in ROLES for kind in KINDS}
    unknown = [f"{key} ({path})" for key, path in files.items() if key not in known]
    if unknown:
        report.text("not shown: " + ", ".join(unknown))
