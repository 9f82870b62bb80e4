"""Fixtures shared by several test packages: the tiny synthetic corpus, built once a session."""

from __future__ import annotations

import pytest


@pytest.fixture(scope="session")
def tiny_build(tmp_path_factory):
    """synthetic_scores/tiny and tiny_pieces built into a temporary data_dir (the corpus,
    task and trainer tests read it)."""
    from mt3_unified.corpus.builders.synthetic_scores import build_synthetic

    data_dir = tmp_path_factory.mktemp("tfds")
    summary = build_synthetic("tiny", data_dir, num_workers=1, progress=False)
    return data_dir, summary
