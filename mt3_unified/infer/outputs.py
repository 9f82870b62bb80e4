"""Decoded segments of one input file -> its output files, through the tasks' postprocessors.

The ids become LMX tokens, notes or codes with `tasks.postprocess` (what evaluation
scores), then files: LMX -> ``.lmx`` (a line a segment), ``.musicxml`` and a ``.png``
engraved by verovio; MIDI -> ``.mid`` (segments joined through their ties, MT3's way);
audio -> ``.wav`` (audio windows laid end to end, other pieces joined with short
crossfades); images -> ``.png`` (systems stacked, white between them).
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

import numpy as np

from mt3_unified.tasks import postprocess

SYSTEM_GAP_PIXELS = 16  # white rows between stacked systems of a decoded page
CROSSFADE_SECONDS = 0.05  # between the audio of consecutive systems (score -> audio)

OUTPUT_SUFFIXES = {
    "lmx": (".lmx", ".musicxml", ".png"),
    "midi": (".mid",),
    "audio": (".wav",),
    "image": (".png",),
}


def output_paths(out_dir: Path, stem: str, modality: str) -> list[Path]:
    """The files one input's output of ``modality`` is written to."""
    return [out_dir / f"{stem}{suffix}" for suffix in OUTPUT_SUFFIXES[modality]]


def write_outputs(
    segments: Sequence, modality: str, out_dir: Path, stem: str, codecs: dict, *,
    audio_windows: bool = False,
) -> dict[str, str]:  # fmt: skip
    """Writes one input's outputs; returns {kind: path}. ``codecs``: {modality: host
    encoder} for decoding codes; ``audio_windows``: the segments are MT3 audio windows
    (laid end to end at their start times, not crossfaded)."""
    out_dir.mkdir(parents=True, exist_ok=True)
    if modality == "lmx":
        return write_lmx(segments, out_dir, stem)
    if modality == "midi":
        return write_midi(segments, out_dir, stem)
    if modality == "audio":
        audio, rate = decode_audio_segments(segments, codecs["audio"], windows=audio_windows)
        return write_wav(audio, rate, out_dir / f"{stem}.wav")
    image = decode_image_segments(segments, codecs["image"])
    return write_png(image, out_dir / f"{stem}.png", "image")


# ------------------------------------------------------------------ LMX
def lmx_of_segments(segments: Sequence) -> list[list[str]]:
    return [postprocess.lmx_tokens(s.frames) for s in segments]


def write_lmx(segments: Sequence, out_dir: Path, stem: str) -> dict[str, str]:
    from mt3_unified.vocab.lmx import lmx_to_musicxml

    pieces = lmx_of_segments(segments)
    lmx_path = out_dir / f"{stem}.lmx"
    lmx_path.write_text("".join(" ".join(p) + "\n" for p in pieces), encoding="utf-8")
    musicxml = lmx_to_musicxml([t for p in pieces for t in p])
    xml_path = out_dir / f"{stem}.musicxml"
    xml_path.write_text(musicxml, encoding="utf-8")
    out = {"lmx": str(lmx_path), "musicxml": str(xml_path)}
    png = engrave_musicxml(musicxml)
    if png is not None:
        (out_dir / f"{stem}.png").write_bytes(png)
        out["png"] = str(out_dir / f"{stem}.png")
    return out


def engrave_musicxml(musicxml: str, height: int = 160) -> bytes | None:
    """A PNG of a MusicXML document's systems engraved by verovio, stacked (None when
    verovio lays out nothing, e.g. a prediction without a measure)."""
    import io

    from PIL import Image

    from mt3_unified.corpus.render import svg_to_image
    from mt3_unified.corpus.systems import LayoutConfig, _toolkit

    tk = _toolkit(LayoutConfig())
    if not tk.loadData(musicxml) or tk.getPageCount() == 0:
        return None
    images = [
        np.asarray(svg_to_image(tk.renderToSVG(page), height), np.float32) / 255.0
        for page in range(1, tk.getPageCount() + 1)
    ]
    buffer = io.BytesIO()
    Image.fromarray(_to_uint8(stack_systems(images))).save(buffer, format="PNG")
    return buffer.getvalue()


# ------------------------------------------------------------------ MIDI
def notes_of_segments(segments: Sequence):
    """One NoteSequence of a file's MIDI segments, each placed at its start time."""
    return postprocess.midi_piece([s.frames for s in segments], [s.start_time for s in segments])


def write_midi(segments: Sequence, out_dir: Path, stem: str) -> dict[str, str]:
    from mt3_unified.vocab.midi_io import note_sequence_to_midi_bytes

    path = out_dir / f"{stem}.mid"
    path.write_bytes(note_sequence_to_midi_bytes(notes_of_segments(segments)))
    return {"midi": str(path)}


# ------------------------------------------------------------------ audio
def decode_audio_segments(segments: Sequence, encoder, *, windows: bool) -> tuple[np.ndarray, int]:
    """(mono samples, sample rate) of a file's decoded audio segments joined in order."""
    from mt3_unified.infer.audio_io import join_with_crossfade

    config = encoder.model.config
    pieces = []
    for s in segments:
        codes = postprocess.code_frames(s.frames, "audio")
        pieces.append(postprocess.decode_audio(codes, encoder) if len(codes) else np.zeros(0))
    if not windows:
        return join_with_crossfade(
            pieces, config.sample_rate, CROSSFADE_SECONDS
        ), config.sample_rate
    # MT3 windows: each piece fills its window exactly (silence where the model stopped).
    starts = [round(s.start_time * config.sample_rate) for s in segments]
    total = max((start + len(p) for start, p in zip(starts, pieces, strict=True)), default=0)
    out = np.zeros(total, np.float32)
    for start, piece, end in zip(starts, pieces, starts[1:] + [total], strict=True):
        piece = piece[: end - start]
        out[start : start + len(piece)] = piece
    return out, config.sample_rate


def write_wav(audio: np.ndarray, rate: int, path: Path) -> dict[str, str]:
    from mt3_unified.infer.audio_io import write_wav as write

    write(path, audio, rate)
    return {"wav": str(path)}


# ------------------------------------------------------------------ images
def decode_image_segments(segments: Sequence, encoder) -> np.ndarray:
    """The decoded systems of a file, stacked into one page in [0, 1]."""
    rows = encoder.model.config.height // encoder.model.config.factor
    images = []
    for s in segments:
        codes = postprocess.code_frames(s.frames, "image")
        if len(codes) >= rows:
            images.append(postprocess.decode_image(codes, encoder))
    if not images:
        return np.ones((encoder.model.config.height, 1), np.float32)
    return stack_systems(images)


def stack_systems(images: Sequence[np.ndarray]) -> np.ndarray:
    """Images of systems one under another, left-aligned on white, a gap between."""
    width = max(image.shape[1] for image in images)
    rows = []
    for i, image in enumerate(images):
        if i:
            rows.append(np.ones((SYSTEM_GAP_PIXELS, width), np.float32))
        rows.append(np.pad(image, ((0, 0), (0, width - image.shape[1])), constant_values=1.0))
    return np.concatenate(rows, axis=0)


def _to_uint8(image: np.ndarray) -> np.ndarray:
    return np.round(np.clip(image, 0.0, 1.0) * 255.0).astype(np.uint8)


def write_png(image: np.ndarray, path: Path, kind: str) -> dict[str, str]:
    from PIL import Image

    Image.fromarray(_to_uint8(image)).save(path, format="PNG")
    return {kind: str(path)}
