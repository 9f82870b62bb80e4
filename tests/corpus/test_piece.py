"""One chorale's systems: image, LMX, notes and audio agree with each other and the config."""

from __future__ import annotations

import io

import numpy as np
from PIL import Image

from mt3_unified.corpus.piece import build_piece

from .conftest import TINY_PIECE_CONFIG, needs_fluidsynth

pytestmark = needs_fluidsynth


def test_systems_cover_every_measure_once(chorale):
    ranges = [(s["measure_start"], s["measure_end"]) for s in chorale.systems]
    assert ranges[0][0] == 0 and ranges[-1][1] == chorale.piece["num_measures"] == 10
    assert all(a[1] == b[0] for a, b in zip(ranges, ranges[1:], strict=False))
    assert chorale.skipped == []


def test_lmx_measure_count_equals_system_measure_count(chorale):
    for s in chorale.systems:
        tokens = s["lmx"].split()
        assert tokens[0] == "measure"
        assert tokens.count("measure") == s["measure_end"] - s["measure_start"]
    assert chorale.piece["lmx"].split().count("measure") == 10


def test_each_system_restates_key_and_clefs(chorale):
    for s in chorale.systems:
        head = s["lmx"].split()[: s["lmx"].split().index("staff:2") + 1]
        assert "key:fifths:3" in head and "clef:G2" in head and "clef:F4" in head


def test_image_is_grayscale_of_configured_height(chorale):
    for s in chorale.systems:
        image = Image.open(io.BytesIO(s["image"]))
        assert image.mode == "L"
        assert image.height == TINY_PIECE_CONFIG.image_height
        assert image.width % 16 == 0 and image.width >= image.height
        pixels = np.asarray(image)
        assert pixels.min() < 64 and np.median(pixels) == 255  # black ink on white


def test_every_note_lies_inside_its_audio(chorale):
    sr = TINY_PIECE_CONFIG.sample_rate
    for example in [*chorale.systems, chorale.piece]:
        notes, seconds = example["notes"], len(example["audio"]) / sr
        assert len(notes["pitch"]) > 0
        assert notes["onset"].min() >= 0.0
        assert (notes["offset"] > notes["onset"]).all()
        assert notes["offset"].max() <= seconds
    for s in chorale.systems:
        assert s["notes"]["offset"].max() <= s["duration"] + 1e-6
        assert len(s["audio"]) == round((s["duration"] + TINY_PIECE_CONFIG.tail_seconds) * sr)


def _rms(audio: np.ndarray, sr: int, start: float, end: float) -> float:
    window = audio[int(start * sr) : int(end * sr)].astype(np.float64) / 32768.0
    return float(np.sqrt(np.mean(window**2))) if len(window) else 0.0


def test_audio_sounds_where_notes_sound_and_is_quiet_elsewhere(chorale):
    sr = TINY_PIECE_CONFIG.sample_rate
    for s in chorale.systems:
        audio, notes = s["audio"], s["notes"]
        for onset, offset in zip(notes["onset"], notes["offset"], strict=True):
            assert _rms(audio, sr, onset, min(offset, onset + 0.1)) > 1e-3
        # Rendered alone: the last 50 ms of the release tail holds only decay.
        assert _rms(audio, sr, len(audio) / sr - 0.05, len(audio) / sr) < 0.05


def test_system_notes_are_the_piece_notes_shifted(chorale):
    piece = chorale.piece["notes"]
    total = sum(len(s["notes"]["pitch"]) for s in chorale.systems)
    assert total == len(piece["pitch"])
    first = chorale.systems[1]
    start = float(first["start_time"])
    mask = (piece["onset"] >= start + 0.05) & (piece["onset"] < start + 1.0)
    shifted = sorted(zip(piece["onset"][mask] - start, piece["pitch"][mask], strict=True))
    notes = first["notes"]
    system = {
        (round(float(o), 3), int(p)) for o, p in zip(notes["onset"], notes["pitch"], strict=True)
    }
    assert {(round(float(o), 3), int(p)) for o, p in shifted} <= system


def test_same_seed_same_bytes_other_seed_other_performance(chorale, chorale_path):
    again = build_piece(chorale_path, "bach/bwv66.6.mxl", TINY_PIECE_CONFIG)
    for a, b in zip(chorale.systems, again.systems, strict=True):
        assert a["image"] == b["image"] and a["lmx"] == b["lmx"]
        assert a["audio"].tobytes() == b["audio"].tobytes()
        for key in a["notes"]:
            assert a["notes"][key].tobytes() == b["notes"][key].tobytes()
    other = build_piece(chorale_path, "another id, another seed", TINY_PIECE_CONFIG)
    assert other.systems[0]["image"] == chorale.systems[0]["image"]
    assert not np.array_equal(other.piece["notes"]["onset"], chorale.piece["notes"]["onset"])
