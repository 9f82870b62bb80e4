"""The Beam path (TFDS on Beam's DirectRunner) builds the same tiny corpus as the local path."""

from __future__ import annotations

import pytest
import tensorflow_datasets as tfds

from mt3_unified.corpus.splits import SPLITS

from .conftest import needs_fluidsynth

beam = pytest.importorskip("apache_beam")
pytestmark = needs_fluidsynth


def _examples(data_dir, name: str) -> dict:
    builder = tfds.builder(f"synthetic_scores/{name}", data_dir=str(data_dir))
    out = {}
    for split in SPLITS:
        for ex in tfds.as_numpy(builder.as_dataset(split=split)):
            key = (split, ex["piece_id"], int(ex.get("system_index", -1)))
            out[key] = ex
    return out


def _same(a, b) -> bool:
    if isinstance(a, dict):
        return a.keys() == b.keys() and all(_same(a[k], b[k]) for k in a)
    return getattr(a, "tobytes", lambda: a)() == getattr(b, "tobytes", lambda: b)()


@pytest.mark.slow
def test_beam_direct_runner_build_equals_local_build(tiny_build, tmp_path):
    from mt3_unified.corpus.builders.synthetic_scores import build_synthetic

    local_dir, _ = tiny_build
    build_synthetic("tiny", tmp_path, use_beam=True, beam_runner=beam.runners.DirectRunner())
    for name in ("tiny", "tiny_pieces"):
        local, beamed = _examples(local_dir, name), _examples(tmp_path, name)
        assert local.keys() == beamed.keys() and local
        for key in local:
            assert _same(local[key], beamed[key]), key
