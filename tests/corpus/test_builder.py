"""The synthetic_scores TFDS builder: splits by piece, features as documented, resumable."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import tensorflow_datasets as tfds

from mt3_unified.corpus import synthetic
from mt3_unified.corpus.splits import HELDOUT_SPLIT, SPLITS, split_by_hash
from mt3_unified.corpus.styles import HELDOUT_STYLE

from .conftest import needs_fluidsynth

pytestmark = needs_fluidsynth


def test_tiny_build_has_every_split_and_the_documented_features(tiny_build):
    data_dir, summary = tiny_build
    assert summary["pieces"] == 4 and summary["pieces_skipped"] == 0
    builder = tfds.builder("synthetic_scores/tiny", data_dir=str(data_dir))
    assert set(builder.info.splits) == set(SPLITS)
    pieces_by_split = {}
    systems = 0
    for split in SPLITS:
        for ex in tfds.as_numpy(builder.as_dataset(split=split)):
            systems += 1
            piece = ex["piece_id"].decode()
            pieces_by_split.setdefault(split, set()).add(piece)
            assert split_by_hash(piece) == split
            assert ex["image"].shape[0] == 128 and ex["image"].shape[2] == 1
            assert ex["audio"].dtype == np.int16 and ex["sample_rate"] == 16000
            tokens = ex["lmx"].decode().split()
            assert tokens.count("measure") == ex["measure_end"] - ex["measure_start"]
            assert ex["notes"]["offset"].max() <= len(ex["audio"]) / 16000
            assert ex["style"] == b"default"  # tiny renders every piece plainly
    assert systems == summary["systems"]
    splits = list(pieces_by_split.values())
    assert all(not (a & b) for i, a in enumerate(splits) for b in splits[i + 1 :])


def test_tiny_pieces_config_keeps_whole_pieces(tiny_build):
    data_dir, _ = tiny_build
    builder = tfds.builder("synthetic_scores/tiny_pieces", data_dir=str(data_dir))
    examples = [ex for split in SPLITS for ex in tfds.as_numpy(builder.as_dataset(split=split))]
    assert len(examples) == 4
    for ex in examples:
        assert ex["lmx"].decode().split().count("measure") == ex["num_measures"]
        assert ex["system_measure_starts"][0] == 0
        assert np.all(np.diff(ex["system_start_times"]) > 0)


def test_rebuilding_is_a_no_op(tiny_build):
    from mt3_unified.corpus.builders.synthetic_scores import build_synthetic

    data_dir, summary = tiny_build

    def built():  # skipped.tsv is rewritten on purpose: it reports the latest run
        paths = (p for p in data_dir.rglob("*") if p.is_file() and p.name != "skipped.tsv")
        return sorted((p, p.stat().st_mtime_ns) for p in paths)

    files = built()
    again = build_synthetic("tiny", data_dir, num_workers=1, progress=False)
    assert again["systems"] == summary["systems"]
    assert files == built()


def test_audio_is_stored_as_raw_int16_bytes_and_reads_back_exactly(tiny_build):
    data_dir, _ = tiny_build
    corpus = synthetic.CONFIGS["tiny"]
    cached = dict(synthetic.iter_results(corpus, data_dir, synthetic.list_sources(corpus)))
    for name in ("tiny", "tiny_pieces"):
        builder = tfds.builder(f"synthetic_scores/{name}", data_dir=str(data_dir))
        assert str(builder.version) == "1.3.0"
        features = json.loads(Path(builder.data_dir, "features.json").read_text("utf-8"))
        assert features["featuresDict"]["features"]["audio"] == {
            "pythonClassName": "tensorflow_datasets.core.features.tensor_feature.Tensor",
            "description": "mono int16 samples at 16000 Hz",
            "tensor": {"dtype": "int16", "encoding": "bytes", "shape": {"dimensions": ["-1"]}},
        }
        compared = 0
        for split in SPLITS:
            for ex in tfds.as_numpy(builder.as_dataset(split=split)):
                result = cached[ex["piece_id"].decode()]
                if name == "tiny":
                    by_index = {s["system_index"]: s for s in result.systems}
                    want = by_index[ex["system_index"]]["audio"]
                else:
                    want = result.piece["audio"]
                assert ex["audio"].dtype == np.int16 and ex["audio"].shape == want.shape
                assert np.array_equal(ex["audio"], want)
                compared += 1
        assert compared == (
            len(cached) if name == "tiny_pieces" else sum(len(r.systems) for r in cached.values())
        )


def test_two_writers_build_the_same_datasets_as_one(tiny_build, tmp_path):
    import shutil

    from mt3_unified.corpus.builders.synthetic_scores import build_synthetic

    data_dir, summary = tiny_build
    shutil.copytree(data_dir / "synthetic_scores_work", tmp_path / "synthetic_scores_work")
    again = build_synthetic("tiny", tmp_path, num_workers=2, progress=False)
    assert again["systems"] == summary["systems"]
    assert set(again["step_cpu_seconds"]) == {"prepare", "tiny", "tiny_pieces"}
    for name in ("tiny", "tiny_pieces"):
        assert again["datasets"][name] == str(tmp_path / "synthetic_scores" / name / "1.3.0")
        one, two = (
            tfds.builder(f"synthetic_scores/{name}", data_dir=str(d)) for d in (data_dir, tmp_path)
        )
        assert one.info.splits.keys() == two.info.splits.keys()
        for split in one.info.splits:
            a = list(tfds.as_numpy(one.as_dataset(split=split, shuffle_files=False)))
            b = list(tfds.as_numpy(two.as_dataset(split=split, shuffle_files=False)))
            assert len(a) == len(b) == one.info.splits[split].num_examples > 0
            for x, y in zip(a, b, strict=True):
                assert x.keys() == y.keys()
                for key in x:
                    if isinstance(x[key], dict):
                        assert all(np.array_equal(x[key][k], y[key][k]) for k in x[key])
                    else:
                        assert np.array_equal(x[key], y[key]), (name, key)


def test_a_held_out_style_gets_a_split_of_its_own_and_every_example_names_its_style(tmp_path):
    """The demo config on three of its chorales' kind (one a split): the test piece is
    also rendered in the held-out style, as test_heldout, which no other split uses."""
    from mt3_unified.corpus.builders.synthetic_scores import build_synthetic

    root = synthetic.music21_corpus_dir()
    ids = ("bach/bwv66.6.mxl", "bach/bwv86.6.mxl", "bach/bwv110.7.mxl")  # train, val, test
    summary = build_synthetic(
        "demo", tmp_path, num_workers=1, progress=False, sources=[(p, root / p) for p in ids]
    )
    assert summary["pieces"] == 3 and summary["heldout_pieces"] == 1
    assert set(summary["systems_by_split"]) == {*SPLITS, HELDOUT_SPLIT}
    for name in ("demo", "demo_pieces"):
        builder = tfds.builder(f"synthetic_scores/{name}", data_dir=str(tmp_path))
        assert set(builder.info.splits) == {*SPLITS, HELDOUT_SPLIT}
        styles = {}
        for split in builder.info.splits:
            for ex in tfds.as_numpy(builder.as_dataset(split=split)):
                piece = ex["piece_id"].decode()
                styles.setdefault(split, set()).add(ex["style"].decode())
                want = "test" if split == HELDOUT_SPLIT else split
                assert split_by_hash(piece) == want and piece in ids
                assert set(ex["notes"]["program"]) == {0}  # the style's program: audio only
        assert styles[HELDOUT_SPLIT] == {HELDOUT_STYLE.name}
        assert all(HELDOUT_STYLE.name not in styles[s] for s in SPLITS)
