"""Corpus fixtures: one chorale's examples, made once a session (tiny_build: tests/conftest.py)."""

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
