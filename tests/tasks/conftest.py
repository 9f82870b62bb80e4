"""Fixtures of the task tests: a hand-made baked corpus, gin bindings, the tiny TFDS build."""

from __future__ import annotations

import gin
import numpy as np
import pytest

import mt3_unified.tasks  # noqa: F401  (registers every task)
from mt3_unified.codecs import baked as baked_format
from mt3_unified.corpus.notes import note_arrays
from mt3_unified.tasks.registry import add_translation_task
from mt3_unified.tasks.sources import Corpus
from tests.corpus.conftest import needs_fluidsynth  # noqa: F401

# The hand-made corpus's codecs: 2 image codebooks of 16, 3 audio codebooks of 16
# (the model tests' SMALL_VOCAB), audio codes at 50 frames a second.
IMAGE_BOOKS, AUDIO_BOOKS, CODES, FRAME_RATE, VARIANTS = 2, 3, 16, 50.0, 4
HANDMADE = "handmade"  # the dataset name its tasks are registered under
LMX = "measure key:fifths:0 time beats:4 beat-type:4 clef:G2"
# (piece id, system index, image frames, audio frames, notes (onset, offset, pitch))
UNITS = {
    "train": [
        ("a", 0, 6, 20, [(0.0, 0.2, 60)]),
        ("a", 1, 8, 30, [(0.1, 0.3, 62)]),
        ("b", 0, 4, 10, [(0.0, 0.1, 64), (0.05, 0.15, 67)]),
    ],
    "test": [("c", 0, 6, 25, [(0.0, 0.4, 65)])],
}


def gin_bindings(data_dir, baked_dir, image_books=IMAGE_BOOKS, audio_books=AUDIO_BOOKS) -> None:
    gin.clear_config()
    gin.bind_parameter("DataPaths.data_dir", str(data_dir))
    gin.bind_parameter("DataPaths.baked_dir", str(baked_dir))
    gin.bind_parameter("VocabularyConfig.image_codebooks", image_books)
    gin.bind_parameter("VocabularyConfig.image_codebook_size", CODES)
    gin.bind_parameter("VocabularyConfig.audio_codebooks", audio_books)
    gin.bind_parameter("VocabularyConfig.audio_codebook_size", CODES)


def unit_codes(frames: int, books: int, variant: int, salt: int) -> np.ndarray:
    """Codes that tell units and variants apart: (t + salt + variant) mod 16 in every book."""
    column = (np.arange(frames) + salt + variant) % CODES
    return np.repeat(column[:, None], books, axis=1).astype(np.int32)


def handmade_records(split: str):
    for n, (piece, system, image_frames, audio_frames, notes) in enumerate(UNITS[split]):
        for variant in range(VARIANTS):
            yield {
                "piece_id": piece,
                "system_index": np.int32(system),
                "start_time": np.float32(2.0 * system),
                "lmx": LMX,
                "notes": note_arrays((a, b, p, 80, 0, False) for a, b, p in notes),
                "variant": variant,
                "image_codes": unit_codes(image_frames, IMAGE_BOOKS, variant, 3 * n),
                "audio_codes": unit_codes(audio_frames, AUDIO_BOOKS, variant, 5 * n),
            }


def write_handmade(folder, books=(IMAGE_BOOKS, AUDIO_BOOKS)) -> None:
    folder.mkdir(parents=True, exist_ok=True)
    spec = {}
    for split in UNITS:
        records = list(handmade_records(split))
        for record in records:
            spec.update(baked_format.spec_of(record))
        baked_format.write_tfrecord(records, str(folder / f"{split}.tfrecord"))
    baked_format.write_feature_spec(str(folder), spec)
    codecs = {
        "image": {"kind": "image", "num_codebooks": books[0], "codebook_size": CODES},
        "audio": {
            "kind": "audio",
            "num_codebooks": books[1],
            "codebook_size": CODES,
            "frame_rate": FRAME_RATE,
        },
    }
    baked_format.write_codec_descriptions(str(folder), codecs)


@pytest.fixture(scope="session")
def handmade_dir(tmp_path_factory):
    """A baked dir holding the hand-made corpus at ``<dir>/handmade``."""
    root = tmp_path_factory.mktemp("baked")
    write_handmade(root / HANDMADE)
    for pair in (("image", "audio"), ("audio", "image"), ("audio", "midi"), ("lmx", "image")):
        add_translation_task(HANDMADE, *pair, source=Corpus(HANDMADE, splits=("train", "test")))
    return root


@pytest.fixture
def handmade_gin(handmade_dir, tmp_path):
    gin_bindings(tmp_path / "no_tfds", handmade_dir)
    yield handmade_dir
    gin.clear_config()


@pytest.fixture
def tiny_gin(tiny_build, tmp_path):
    """gin reading the tiny TFDS corpus (and no bake); yields its data_dir."""
    data_dir, _ = tiny_build
    gin.clear_config()
    gin.bind_parameter("DataPaths.data_dir", str(data_dir))
    gin.bind_parameter("DataPaths.baked_dir", str(tmp_path / "no_bake"))
    yield data_dir
    gin.clear_config()
