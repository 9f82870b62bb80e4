"""An HTML report of a built paired corpus: counts per split, and systems seen four ways."""

from __future__ import annotations

import os
from pathlib import Path

import numpy as np

from mt3_unified.report.html import HtmlReport
from mt3_unified.report.plots import piano_roll_png

LMX_PREVIEW_TOKENS = 120


def _png_of(image: np.ndarray) -> bytes:
    import io

    from PIL import Image

    buffer = io.BytesIO()
    Image.fromarray(np.asarray(image)[..., 0]).save(buffer, format="PNG")
    return buffer.getvalue()


def _notes(example: dict) -> list[tuple[float, float, int]]:
    notes = example["notes"]
    return [
        (float(on), float(off), int(p))
        for on, off, p in zip(notes["onset"], notes["offset"], notes["pitch"], strict=True)
    ]


def split_summary(builder) -> list[list[object]]:
    """[split, examples, pieces, audio hours] rows from a prepared TFDS builder."""
    rows = []
    for name, split in sorted(builder.info.splits.items()):
        dataset = builder.as_dataset(split=name, as_supervised=False)
        pieces, seconds = set(), 0.0
        for example in dataset.as_numpy_iterator():
            pieces.add(example["piece_id"])
            seconds += len(example["audio"]) / float(example["sample_rate"])
        rows.append([name, split.num_examples, len(pieces), seconds / 3600.0])
    return rows


def corpus_report(
    data_dir: str | os.PathLike,
    config_name: str,
    output: str | os.PathLike,
    *,
    systems_per_split: int = 3,
    skipped_file: str | os.PathLike | None = None,
) -> Path:
    """Write an HTML page showing a built `synthetic_scores/<config>` corpus."""
    from mt3_unified.corpus.builders.synthetic_scores import SyntheticScores

    builder = SyntheticScores(config=config_name, data_dir=os.fspath(data_dir))
    report = HtmlReport(f"synthetic_scores/{config_name}")
    report.heading("Splits")
    report.table(["split", "systems", "pieces", "audio hours"], split_summary(builder))
    if skipped_file and Path(skipped_file).exists():
        lines = Path(skipped_file).read_text(encoding="utf-8").strip().splitlines()
        report.heading("Skipped items")
        report.text(f"{max(len(lines) - 1, 0)} items left out (file: {skipped_file}).")
        report.code("\n".join(lines[:50]))
    for split in sorted(builder.info.splits):
        report.heading(f"{split}: first {systems_per_split} systems")
        dataset = builder.as_dataset(split=split).take(systems_per_split)
        for example in dataset.as_numpy_iterator():
            _add_system(report, example)
    return report.write(output)


def _add_system(report: HtmlReport, example: dict) -> None:
    piece = example["piece_id"].decode()
    first, last = int(example["measure_start"]), int(example["measure_end"])
    report.heading(
        f"{piece}, system {int(example['system_index'])}: measures {first}-{last - 1}", 3
    )
    report.image(_png_of(example["image"]), alt=f"{piece} system image")
    tokens = example["lmx"].decode().split()
    more = (
        f" ... (+{len(tokens) - LMX_PREVIEW_TOKENS} tokens)"
        if len(tokens) > LMX_PREVIEW_TOKENS
        else ""
    )
    report.code(" ".join(tokens[:LMX_PREVIEW_TOKENS]) + more)
    report.image(piano_roll_png(_notes(example), title="performed notes"), alt="piano roll")
    rate = int(example["sample_rate"])
    report.audio(example["audio"].astype(np.float32) / 32768.0, rate)
