"""Shared fixtures: one tiny build and one chorale's examples, made once per test session."""

from __future__ import annotations

import pytest

from mt3_unified.corpus import synthetic
from mt3_unified.corpus.piece import PieceConfig, build_piece
from mt3_unified.corpus.render import fluidsynth_available
from mt3_unified.corpus.systems import LayoutConfig

TINY_PIECE_CONFIG = PieceConfig(
    image_height=128, sample_rate=16000, layout=LayoutConfig(page_width=1500)
)


needs_fluidsynth = pytest.mark.skipif(
    not fluidsynth_available(), reason="fluidsynth or the FluidR3 soundfont is not installed"
)


@pytest.fixture(scope="session")
def chorale_path():
    return synthetic.music21_corpus_dir() / "bach/bwv66.6.mxl"


@pytest.fixture(scope="session")
def chorale(chorale_path):
    """bwv66.6 built with the tiny settings: 10 measures, 3 systems."""
    return build_piece(chorale_path, "bach/bwv66.6.mxl", TINY_PIECE_CONFIG)


@pytest.fixture(scope="session")
def tiny_build(tmp_path_factory):
    """synthetic_scores/tiny and tiny_pieces built into a temporary data_dir."""
    from mt3_unified.corpus.builders.synthetic_scores import build_synthetic

    data_dir = tmp_path_factory.mktemp("tfds")
    summary = build_synthetic("tiny", data_dir, num_workers=1, progress=False)
    return data_dir, summary
