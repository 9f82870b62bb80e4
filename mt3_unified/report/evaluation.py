"""One evaluation as a self-contained HTML page: metric tables, loss curves and every sample."""

from __future__ import annotations

import functools
import json
import os
from collections.abc import Callable, Sequence
from pathlib import Path

from mt3_unified.report.html import HtmlReport
from mt3_unified.report.plots import curves_png, piano_roll_png
from mt3_unified.train.curves import HISTORY_FILE, read_history

RESULTS_FILE = "results.json"
REPORT_FILE = "report.html"
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


def _tables(report: HtmlReport, tables: Sequence[dict]) -> None:
    report.heading("Results")
    if not tables:
        report.text("No result tables.")
    for table in tables:
        report.heading(table.get("title", "(untitled)"), level=3)
        rows = [["n/a" if cell is None else cell for cell in row] for row in table["rows"]]
        report.table(table["columns"], rows)
        if table.get("note"):
            report.text(table["note"])


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
