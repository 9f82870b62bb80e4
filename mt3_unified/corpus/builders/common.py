"""What the local-file builders share: layout checks, configs, features, file readers."""

from __future__ import annotations

import io
import os
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import tensorflow_datasets as tfds

from mt3_unified.corpus.errors import DatasetLayoutError
from mt3_unified.corpus.notes import NOTE_DTYPES, note_arrays


def find_root(manual_dir, candidates: tuple[str, ...], marker: str, dataset: str, layout: str):
    """The first of manual_dir/<candidate> holding ``marker``; else an error naming the layout."""
    manual = Path(manual_dir) if manual_dir else None
    if manual is None or not manual.is_dir():
        raise DatasetLayoutError(manual_dir, f"{dataset}: no manual_dir folder; expected\n{layout}")
    for candidate in candidates:
        root = manual / candidate
        if (root / marker).exists():
            return root
    tried = ", ".join(str(manual / c / marker) for c in candidates)
    raise DatasetLayoutError(manual, f"{dataset}: found none of {tried}; expected\n{layout}")


def require(path: Path, dataset: str, what: str) -> Path:
    if not path.exists():
        raise DatasetLayoutError(path, f"{dataset}: missing {what}")
    return path


@dataclass
class SampleRateConfig(tfds.core.BuilderConfig):
    """A config of a performance dataset in which only the audio's sample rate varies."""

    sample_rate: int = 16000


def sample_rate_configs() -> list[SampleRateConfig]:
    """The 16 kHz and 44.1 kHz configs of the performance datasets (MAESTRO, MusicNet-EM)."""
    return [
        SampleRateConfig(name="16k", description="audio at 16 kHz", sample_rate=16000),
        SampleRateConfig(name="44k", description="audio at 44.1 kHz", sample_rate=44100),
    ]


def notes_feature() -> tfds.features.Sequence:
    """The `notes` feature: one sequence per field of corpus.notes.NOTE_DTYPES."""
    return tfds.features.Sequence(dict(NOTE_DTYPES))


def audio_feature(sample_rate: int) -> tfds.features.Tensor:
    """Mono int16 samples stored as raw bytes (the rate is in the feature's doc and the
    config): a `tfds.features.Audio` would store each sample as an int64 varint, slower
    to write and read and about twice as large on disk."""
    return tfds.features.Tensor(
        shape=(None,),
        dtype=np.int16,
        encoding=tfds.features.Encoding.BYTES,
        doc=f"mono int16 samples at {sample_rate} Hz",
    )


# The versions of the builders that store audio (synthetic_scores, maestro_v3,
# musicnet_em, bpsd, ytsv): their histories are one, each builder is at some version of it.
_AUDIO_BUILDER_HISTORY = {
    "1.0.0": "First release.",
    "1.1.0": "`audio` is an int16 Tensor stored as raw bytes (was an Audio feature of int64 "
    "varints): the same samples, faster to write and read, smaller files.",
    "1.2.0": "Examples without a split of their own are split by "
    "corpus.splits.split_by_hash, the synthetic corpus's bucket order (train, then "
    "validation, then test): some recordings changed split.",
    "1.3.0": "synthetic_scores: a text feature `style` names each example's rendering style "
    "(font, GM piano, degradations, reverb; `default` where a config has none); the `demo` "
    "config varies styles and holds one out as the split `test_heldout`.",
}


def release_notes(version: str) -> dict[str, str]:
    """The RELEASE_NOTES of an audio builder at ``version`` of their shared history."""
    last = tfds.core.Version(version)
    return {v: note for v, note in _AUDIO_BUILDER_HISTORY.items() if tfds.core.Version(v) <= last}


def image_feature(height: int) -> tfds.features.Image:
    return tfds.features.Image(shape=(height, None, 1), encoding_format="png")


def read_audio(path, sample_rate: int, start: float = 0.0, end: float | None = None) -> np.ndarray:
    """Mono int16 audio at ``sample_rate``, optionally only [start, end) seconds."""
    import soundfile as sf
    from scipy.signal import resample_poly

    with sf.SoundFile(os.fspath(path)) as f:
        rate = f.samplerate
        f.seek(int(start * rate))
        frames = -1 if end is None else max(int((end - start) * rate), 0)
        audio = f.read(frames, dtype="float32", always_2d=True).mean(axis=1)
    if rate != sample_rate:
        g = np.gcd(rate, sample_rate)
        audio = resample_poly(audio, sample_rate // g, rate // g).astype(np.float32)
    return (np.clip(audio, -1.0, 1.0) * 32767.0).round().astype(np.int16)


def notes_from_rows(rows) -> dict[str, np.ndarray]:
    """Note arrays from (onset, offset, pitch, velocity, program, is_drum) rows, sorted by
    onset, then pitch (annotation files need not list notes in order)."""
    return note_arrays(sorted(rows, key=lambda row: (row[0], row[2])))


def notes_from_midi(path, apply_sustain: bool = True) -> dict[str, np.ndarray]:
    from mt3_unified.vocab.midi_io import load_midi

    ns = load_midi(os.fspath(path), apply_sustain=apply_sustain)
    return notes_from_rows(
        (n.start_time, n.end_time, n.pitch, n.velocity, n.program, n.is_drum) for n in ns.notes
    )


def window_notes(notes: dict[str, np.ndarray], start: float, end: float) -> dict[str, np.ndarray]:
    """Notes with onsets in [start, end), shifted to start at 0 and clipped to the window."""
    keep = (notes["onset"] >= start) & (notes["onset"] < end)
    out = {k: v[keep] for k, v in notes.items()}
    out["onset"] = out["onset"] - np.float32(start)
    out["offset"] = np.minimum(out["offset"] - np.float32(start), np.float32(end - start))
    return out


def png_of_height(image_path, height: int, width_multiple: int = 16) -> bytes:
    """A grayscale PNG resized to ``height`` (width alike, padded white to a multiple)."""
    from PIL import Image

    with Image.open(image_path) as image:
        gray = image.convert("L")
    width = max(round(gray.width * height / gray.height), 1)
    gray = gray.resize((width, height), Image.Resampling.LANCZOS)
    padded = -(-width // width_multiple) * width_multiple
    if padded != width:
        canvas = Image.new("L", (padded, height), 255)
        canvas.paste(gray, (0, 0))
        gray = canvas
    out = io.BytesIO()
    gray.save(out, format="PNG")
    return out.getvalue()
