"""What an audio codec keeps of the notes against its training steps: one AMT's onset F1 on
the original test systems and on each codec checkpoint's reconstruction of them, read from
the eval dirs `mt3u eval --pairs audio_to_midi --audio-codec WORKDIR/checkpoints/STEP`
wrote, drawn as a curve (PNG) with its points as Markdown beside it."""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path

from mt3_unified.errors import Mt3UnifiedError
from mt3_unified.infer.eval_context import CODEC_SYSTEMS, GT_AUDIO, TITLES
from mt3_unified.infer.eval_results import markdown_table, rows_titled
from mt3_unified.report.plots import curves_png

METRIC = "onset F1 @50ms"
TARGET_KEPT = 0.75  # issue 19: the reconstruction's F1 at least 0.75 of the original's
COLUMNS = ["codec step", f"{METRIC}, original audio", f"{METRIC}, reconstruction", "kept",
           "systems", "judge (step)", "eval dir"]  # fmt: skip


class CodecCurveError(Mt3UnifiedError, ValueError):
    """Eval dirs that cannot make the curve: the message names the dir and what it lacks."""


def kept_point(eval_dir: str | Path) -> dict:
    """{'original', 'reconstruction', 'kept', 'systems', 'judge'} of one eval dir's AMT table:
    its whole-system rows on the original audio and on the codec's reconstruction."""
    from mt3_unified.report.evaluation import load_results

    results = load_results(Path(eval_dir))
    rows = rows_titled(results, TITLES["audio_to_midi"])
    if GT_AUDIO not in rows or CODEC_SYSTEMS not in rows:
        raise CodecCurveError(
            f"{eval_dir}: no AMT rows {GT_AUDIO!r} and {CODEC_SYSTEMS!r} (evaluate with "
            "`mt3u eval --pairs audio_to_midi --audio-codec CODEC`)"
        )
    original, reconstruction = rows[GT_AUDIO][METRIC], rows[CODEC_SYSTEMS][METRIC]
    return {
        "original": original,
        "reconstruction": reconstruction,
        "kept": reconstruction / original if original else None,
        "systems": rows[GT_AUDIO].get("examples"),
        "judge": f"{results.get('model_dir', '?')} ({results.get('step', '?')})",
    }


def codec_curve(points: Mapping[int, str | Path]) -> list[dict]:
    """The points ({codec step: eval dir}) in step order, each kept_point's with its step and
    dir; every point must be heard by one judge (model and step), or the shares differ in
    kind (README: the share kept depends on the judge)."""
    curve = [dict(kept_point(d), step=step, eval_dir=str(d)) for step, d in sorted(points.items())]
    judges = {point["judge"] for point in curve}
    if len(judges) > 1:
        raise CodecCurveError(f"the eval dirs were judged by different AMT models: {judges}")
    return curve


def write_codec_curve(points: Mapping[int, str | Path], output: Path) -> tuple[Path, Path]:
    """The curve as ``output`` (PNG) and its points as a Markdown table beside it (``.md``)."""
    curve = codec_curve(points)
    steps = [point["step"] for point in curve]
    lines = {
        "kept (reconstruction / original)": [point["kept"] for point in curve],
        f"{METRIC}, reconstruction": [point["reconstruction"] for point in curve],
        f"{METRIC}, original audio": [point["original"] for point in curve],
    }
    png = curves_png(
        {name: (steps, values) for name, values in lines.items()},
        ylabel="onset F1 / share kept",
        xlabel="codec training step",
        title=f"what the codec keeps of the notes, heard by {curve[0]['judge']}",
        references={f"target: kept {TARGET_KEPT}": TARGET_KEPT},
        markers=True,
    )
    output.parent.mkdir(parents=True, exist_ok=True)
    output.write_bytes(png)
    rows = [
        [
            p["step"],
            p["original"],
            p["reconstruction"],
            None if p["kept"] is None else round(p["kept"], 3),
            p["systems"],
            p["judge"],
            p["eval_dir"],
        ]  # fmt: skip
        for p in curve
    ]
    table = output.with_suffix(".md")
    table.write_text(markdown_table(COLUMNS, rows) + "\n", encoding="utf-8")
    return output, table
