"""What audio codecs keep, as a person sees it: the log-mel of one corpus example's audio
above each codec's reconstruction of it, at the resolution the log-mel AMT reads, with how
far each reconstruction lies from the original (PNG, its figures as Markdown beside it)."""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path

import numpy as np

from mt3_unified.errors import Mt3UnifiedError
from mt3_unified.infer.eval_results import markdown_table
from mt3_unified.report.plots import spectrograms_png

# The log-mel AMT's view (preprocessors/continuous.py: a 1,024-sample window, 128 bands).
WINDOW, BANDS = 1024, 128
COLUMNS = ["audio", "codec", "code frames x codebooks", "mean |log10 mel difference|"]


def amt_view(audio: np.ndarray, sample_rate: int) -> np.ndarray:
    """log10 mel [frames, BANDS] of mono audio as the log-mel AMT resolves it."""
    from mt3_unified.codecs.audio import host_log_mel

    return host_log_mel(audio, sample_rate, WINDOW, BANDS)


def spectra_png(panels, sample_rate: int, title: str = "") -> bytes:
    """`spectrograms_png` of (name, `amt_view`) panels at their frame rate."""
    return spectrograms_png(panels, frames_per_second=sample_rate / (WINDOW // 4), title=title)


class CodecSpectraError(Mt3UnifiedError, ValueError):
    """A corpus example that cannot be shown: the message names the corpus and the example."""


def corpus_example(corpus: str, split: str, index: int, data_dir: str | None) -> tuple[str, dict]:
    """(name, example) of the index-th example of a built corpus split that holds audio."""
    from mt3_unified.codecs.data import example_name, load_corpus

    count = 0
    for count, example in enumerate(load_corpus(corpus, split, data_dir), 1):
        if count == index + 1:
            if "audio" not in example:
                raise CodecSpectraError(f"{corpus}/{split} example {index} holds no audio")
            return example_name(example, index), example
    raise CodecSpectraError(f"{corpus}/{split} has no example {index} (it holds {count})")


def codec_spectra(example: dict, name: str, codecs: Mapping[str, str]) -> list[dict]:
    """One row per panel: the original audio, then each codec's (label -> workdir, or
    WORKDIR/checkpoints/STEP) reconstruction of it, each with its log-mel [frames, BANDS]
    and the mean absolute log10-mel difference from the original at the codec's rate."""
    from mt3_unified.codecs.loading import load_code_encoder

    rows: list[dict] = []
    for label, workdir in codecs.items():
        encoder = load_code_encoder(workdir)
        rate = encoder.model.config.sample_rate
        if not rows:  # the original, prepared and resolved once: one rate serves every codec
            audio = encoder.prepare(example["audio"], example.get("sample_rate"), name)
            original = amt_view(audio, rate)
            rows.append({"label": f"{name}, original", "codec": "", "mel": original,
                         "rate": rate, "shape": "", "distance": 0.0})  # fmt: skip
        elif rate != rows[0]["rate"]:
            raise CodecSpectraError(
                f"codec spectra: {workdir} runs at {rate} Hz, the first codec at "
                f"{rows[0]['rate']} Hz; show codecs of one sample rate together"
            )
        codes = encoder(audio)
        rebuilt = amt_view(encoder.decode(codes, audio.shape[0]), rate)
        rows.append({"label": label, "codec": workdir, "mel": rebuilt, "rate": rate,
                     "shape": f"{codes.shape[0]} x {codes.shape[1]}",
                     "distance": float(np.mean(np.abs(rebuilt - original)))})  # fmt: skip
    return rows


def write_codec_spectra(
    corpus: str,
    split: str,
    index: int,
    codecs: Mapping[str, str],
    output: str | Path,
    data_dir: str | None = None,
) -> tuple[Path, Path]:
    """Writes the panels of `codec_spectra` to ``output`` (PNG) and their figures beside it
    (Markdown); returns both paths."""
    if not codecs:
        raise CodecSpectraError("codec spectra: name at least one audio codec")
    name, example = corpus_example(corpus, split, index, data_dir)
    rows = codec_spectra(example, name, codecs)
    panels = [
        (row["label"] + (f": {row['distance']:.3f} from the original" if row["codec"] else ""),
         row["mel"])
        for row in rows
    ]  # fmt: skip
    png = Path(output)
    png.parent.mkdir(parents=True, exist_ok=True)
    title = f"log10 mel ({WINDOW}-sample window, {BANDS} bands) of {corpus}/{split} {name}"
    png.write_bytes(spectra_png(panels, rows[0]["rate"], title))
    table = [[row["label"], row["codec"], row["shape"], round(row["distance"], 4)] for row in rows]
    markdown = png.with_suffix(".md")
    markdown.write_text(f"# {title}\n\n{markdown_table(COLUMNS, table)}\n", encoding="utf-8")
    return png, markdown
