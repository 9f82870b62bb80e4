"""One's own files as raw units (the raw examples of `preprocessors.raw`, in numpy).

Each reader returns the units of one file in order, each cut to fit the input's
feature length, with the file as ``piece_id`` and the unit's ``start_time``, so that
decoded segments are stitched back into one output per file:

- score images (PNG/JPEG) and PDFs: pages -> systems by staff-line detection
  (`infer.pages`), each system encoded by the image codec (a system wider than the
  input length is cut at code columns);
- MusicXML: reduced and engraved as the corpus does (`corpus.reduce`, verovio) into
  systems, each system's LMX (`engrave`, LMX -> MIDI) or image (score -> audio);
  an ``.lmx`` token file is cut at its ``measure`` tokens;
- audio (WAV/FLAC/MP3/OGG, any rate): resampled to the audio codec's rate and encoded;
  transcription takes the whole recording (the chain cuts MT3's windows), other tasks
  take consecutive pieces that fit;
- MIDI: its performed notes; for synthesis a silent code placeholder as long as the
  notes tells the chain how many audio windows to cut.
"""

from __future__ import annotations

import math
from pathlib import Path

import numpy as np

from mt3_unified.errors import InputFileError
from mt3_unified.infer.translations import PDF_SUFFIXES
from mt3_unified.preprocessors.raw import NOTE_PREFIX
from mt3_unified.tasks.folder_source import empty_raw_numpy


def _unit(path: Path, index: int, start_time: float = 0.0) -> dict:
    unit = empty_raw_numpy()
    unit["piece_id"] = np.asarray(str(path).encode("utf-8"))
    unit["unit_index"] = np.int32(index)
    unit["start_time"] = np.float32(start_time)
    return unit


def _as_uint8(image: np.ndarray) -> np.ndarray:
    return np.round(np.clip(image, 0.0, 1.0) * 255.0).astype(np.uint8)


# ------------------------------------------------------------------ images
def page_images(path: Path) -> list[np.ndarray]:
    """Gray pages in [0, 1] of an image file or a PDF."""
    from mt3_unified.infer.pages import read_image
    from mt3_unified.infer.pdf import pdf_pages

    if path.suffix.lower() in PDF_SUFFIXES:
        return pdf_pages(path)
    return [read_image(path)]


def system_images(path: Path) -> list[np.ndarray]:
    """Every system of every page of an image or PDF file, in reading order."""
    from mt3_unified.infer.pages import NoStaffError, split_systems

    systems = []
    for number, page in enumerate(page_images(path)):
        found = split_systems(page)
        if not found:
            where = f" (page {number + 1})" if path.suffix.lower() in PDF_SUFFIXES else ""
            raise NoStaffError(path, f"no staff found on the page{where}")
        systems += found
    return systems


def image_units(path: Path, encoder, max_frames: int, images=None) -> list[dict]:
    """Units of each system image (those of the file unless ``images`` are given), codes
    cut into pieces of whole code columns that fit ``max_frames``."""
    units = []
    for image in system_images(path) if images is None else images:
        prepared = encoder.prepare(image, str(path))
        codes, rows = encoder(prepared)
        columns_per_unit = max(max_frames // rows, 1)
        factor = encoder.model.config.factor
        for first in range(0, max(len(codes) // rows, 1), columns_per_unit):
            unit = _unit(path, len(units))
            unit["image_codes"] = codes[first * rows : (first + columns_per_unit) * rows]
            pixels = prepared[:, first * factor : (first + columns_per_unit) * factor]
            unit["image"] = _as_uint8(pixels)
            units.append(unit)
    return units


# ------------------------------------------------------------------ audio
def audio_units(path: Path, encoder, max_frames: int | None = None) -> list[dict]:
    """Units of a recording at the codec's rate: one whole unit, or consecutive pieces of
    at most ``max_frames`` code frames."""
    from mt3_unified.infer.audio_io import read_audio

    config = encoder.model.config
    samples = read_audio(path, config.sample_rate)
    piece = len(samples) if max_frames is None else max_frames * config.hop
    units = []
    for first in range(0, len(samples), max(piece, 1)):
        chunk = samples[first : first + piece]
        unit = _unit(path, len(units), first / config.sample_rate)
        unit["audio_codes"] = encoder(chunk)
        unit["audio_frame_rate"] = np.float32(config.sample_rate / config.hop)
        unit["audio"] = np.round(np.clip(chunk, -1.0, 1.0) * 32767.0).astype(np.int16)
        unit["sample_rate"] = np.int32(config.sample_rate)
        units.append(unit)
    return units


# ------------------------------------------------------------------ MIDI
def read_midi_notes(path: Path) -> dict[str, np.ndarray]:
    """The performed notes of a MIDI file; one without notes is an error naming it."""
    from mt3_unified.errors import MidiError
    from mt3_unified.tasks.pairs import read_notes

    try:
        notes = read_notes(path)
    except OSError as e:
        raise MidiError(path, f"cannot read the MIDI file ({e.strerror or e})") from e
    if not len(notes["onset"]):
        raise MidiError(path, "the MIDI file holds no notes")
    return notes


def midi_units(path: Path, audio_encoder=None) -> list[dict]:
    """One unit of the file's notes; with the audio codec of a synthesis, silent codes as
    long as the notes (plus a second for the last notes' release)."""
    notes = read_midi_notes(path)
    unit = _unit(path, 0)
    for field, array in notes.items():
        unit[NOTE_PREFIX + field] = array.astype(unit[NOTE_PREFIX + field].dtype)
    if audio_encoder is not None:
        config = audio_encoder.model.config
        rate = config.sample_rate / config.hop
        seconds = float(np.max(notes["offset"])) + 1.0
        frames = math.ceil(seconds * rate)
        unit["audio_codes"] = np.zeros((frames, config.rvq.num_codebooks), np.int32)
        unit["audio_frame_rate"] = np.float32(rate)
    return [unit]


# ------------------------------------------------------------------ scores
def engraved_systems(path: Path, height: int):
    """(systems' measure ranges, their images in [0, 1], the slicer) of a MusicXML score,
    reduced and engraved with verovio as the corpus engraves its scores."""
    from mt3_unified.corpus.errors import SkipError
    from mt3_unified.corpus.reduce import load_score, reduce_score
    from mt3_unified.corpus.render import svg_to_image
    from mt3_unified.corpus.systems import MeasureSlicer, layout_systems

    try:
        reduced = reduce_score(load_score(path), source=path)
        systems, _ = layout_systems(reduced.musicxml, source=path)
    except SkipError as e:
        raise InputFileError(path, f"not a usable MusicXML score ({e})") from e
    images = [np.asarray(svg_to_image(s.svg, height), np.float32) / 255.0 for s in systems]
    return [(s.start, s.end) for s in systems], images, MeasureSlicer(reduced.musicxml)


def score_units(path: Path, max_tokens: int, height: int = 128) -> list[dict]:
    """LMX units of a score: MusicXML by its engraved systems (a system whose LMX is too
    long is cut between measures); an ``.lmx`` file by measures."""
    if path.suffix.lower() == ".lmx":
        tokens = path.read_text(encoding="utf-8").split()
        if not tokens:
            raise InputFileError(path, "the LMX file holds no tokens")
        return [_lmx_unit(path, i, t) for i, t in enumerate(_fit_measures(tokens, max_tokens))]
    ranges, _, slicer = engraved_systems(path, height)
    units = []
    for start, end in ranges:
        for tokens in _fit_measures(slicer.lmx(start, end), max_tokens):
            units.append(_lmx_unit(path, len(units), tokens))
    return units


def _lmx_unit(path: Path, index: int, tokens: list[str]) -> dict:
    unit = _unit(path, index)
    unit["lmx"] = np.asarray(" ".join(tokens).encode("utf-8"))
    return unit


def _fit_measures(tokens: list[str], max_tokens: int) -> list[list[str]]:
    """Tokens cut before ``measure`` tokens into pieces of at most ``max_tokens`` (a single
    measure longer than that stays whole: the model's trimming is the lesser loss)."""
    measures: list[list[str]] = []
    for token in tokens:
        if token == "measure" or not measures:
            measures.append([])
        measures[-1].append(token)
    pieces: list[list[str]] = []
    for measure in measures:
        if pieces and len(pieces[-1]) + len(measure) <= max_tokens:
            pieces[-1] += measure
        else:
            pieces.append(list(measure))
    return pieces
