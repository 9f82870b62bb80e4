"""The per-piece cache: a JSON summary beside each piece; counting and choosing read no pickle."""

from __future__ import annotations

import json
import shutil

from mt3_unified.corpus import synthetic

from .conftest import needs_fluidsynth

pytestmark = needs_fluidsynth

TINY = synthetic.CONFIGS["tiny"]


def _copy_cache(tiny_build, tmp_path):
    data_dir, _ = tiny_build
    shutil.copytree(data_dir / "synthetic_scores_work", tmp_path / "synthetic_scores_work")
    return synthetic.work_dir(TINY, tmp_path) / "pieces"


def test_every_cached_piece_has_its_summary_beside_it(tiny_build, tmp_path):
    pieces = _copy_cache(tiny_build, tmp_path)
    pickles = sorted(p.stem for p in pieces.glob("*.pkl"))
    assert len(pickles) == 4
    assert sorted(p.stem for p in pieces.glob("*.json")) == pickles
    assert not list(pieces.glob("*.tmp*"))  # written under temporary names, then renamed
    for path in pieces.glob("*.pkl"):
        row = json.loads(path.with_suffix(".json").read_text(encoding="utf-8"))
        assert row == json.loads(json.dumps(synthetic.summarize(synthetic.load_cached(path))))


def test_usable_pieces_and_prepare_read_no_pickle(tiny_build, tmp_path):
    _, summary = tiny_build
    pieces = _copy_cache(tiny_build, tmp_path)
    for path in pieces.glob("*.pkl"):
        path.write_bytes(b"not a pickle")  # any read of a piece would now fail
    sources = synthetic.list_sources(TINY)
    ids = {piece_id for piece_id, _ in sources}
    assert len(ids) == 4
    assert synthetic.usable_pieces(TINY, tmp_path, sources, "system") == ids
    assert synthetic.usable_pieces(TINY, tmp_path, sources, "piece") == ids
    again = synthetic.prepare(TINY, tmp_path, progress=False)
    assert {k: again[k] for k in ("pieces", "pieces_skipped", "systems", "systems_skipped")} == {
        "pieces": 4,
        "pieces_skipped": 0,
        "systems": summary["systems"],
        "systems_skipped": 0,
    }


def test_a_missing_summary_is_rebuilt_from_its_piece_and_a_lone_summary_is_not_a_piece(
    tiny_build, tmp_path
):
    pieces = _copy_cache(tiny_build, tmp_path)
    first, second = sorted(pieces.glob("*.pkl"))[:2]
    sidecar = first.with_suffix(".json")
    kept = sidecar.read_text(encoding="utf-8")
    sidecar.unlink()  # a cache from before the sidecars
    assert synthetic.cached_summary(first) == json.loads(kept)
    assert sidecar.read_text(encoding="utf-8") == kept
    # An interrupted build can leave a summary without its piece: the piece is rebuilt.
    second.unlink()
    pieces_before = len(list(pieces.glob("*.pkl")))
    synthetic.prepare(TINY, tmp_path, progress=False)
    assert len(list(pieces.glob("*.pkl"))) == pieces_before + 1 == 4
