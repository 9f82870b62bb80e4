"""End to end: tiny corpus -> codecs trained through their gin entry point -> `mt3u bake`.

The codecs train for two steps only: the test is about the path (checkpoints,
gin, TFDS reading, shapes, id ranges, shift variants, determinism, decoding and
skipping bad items), not about reconstruction quality (tests/codecs/test_train.py).
"""

from __future__ import annotations

import glob
import json
import math
from collections import defaultdict
from pathlib import Path

import numpy as np
import pytest

from mt3_unified import cli
from mt3_unified.codecs import main as codec_main
from mt3_unified.codecs.bake import BakeConfig
from mt3_unified.codecs.baked import read_baked
from mt3_unified.codecs.data import load_corpus
from mt3_unified.codecs.loading import load_encoders
from tests.corpus.conftest import needs_fluidsynth

GIN_DIR = Path(__file__).resolve().parents[2] / "gin" / "codecs"
IMAGE_GIN, AUDIO_GIN = str(GIN_DIR / "rqvae_tiny.gin"), str(GIN_DIR / "audio_tiny.gin")
CORPUS = "synthetic_scores/tiny"
# rqvae_tiny.gin: height 48, 8x down (6 grid rows), 4 x 64 codes;
# audio_tiny.gin: hop 2 * 4 * 8 = 64 samples, 4 x 32 codes.
IMAGE_ROWS, IMAGE_FACTOR, IMAGE_CODES, AUDIO_HOP, AUDIO_CODES, K = 6, 8, 64, 64, 32, 4


def _train(gin_file: str, workdir: Path, data_dir: Path) -> dict:
    import gin

    try:
        return codec_main.main(
            [
                f"--gin-file={gin_file}",
                f"--workdir={workdir}",
                "--gin.train_codec.steps=2",
                f"--gin.corpus_data.data_dir='{data_dir}'",
            ]
        )
    finally:
        gin.clear_config()


def _bake(capsys, *args: str) -> tuple[dict, str]:
    """`mt3u bake ARGS`: (the JSON summary it prints, its stderr)."""
    capsys.readouterr()
    assert cli.main(["bake", *args]) == 0
    captured = capsys.readouterr()
    return json.loads(captured.out), captured.err


@pytest.fixture(scope="module")
def trained(tmp_path_factory):
    """(data_dir, image workdir, audio workdir): the tiny corpus and two 2-step codecs."""
    from mt3_unified.corpus.builders.synthetic_scores import build_synthetic

    root = tmp_path_factory.mktemp("bake_corpus")
    data_dir = root / "data"
    summary = build_synthetic("tiny", data_dir, num_workers=1, pieces=False, progress=False)
    assert summary["systems"] == 13
    image_dir, audio_dir = root / "rqvae", root / "audio"
    for gin_file, workdir in ((IMAGE_GIN, image_dir), (AUDIO_GIN, audio_dir)):
        result = _train(gin_file, workdir, data_dir)
        assert math.isfinite(result["last"]["loss"])
        assert sorted(p.name for p in (workdir / "checkpoints").iterdir()) == ["2"]
    return data_dir, image_dir, audio_dir


def _codec_args(data_dir, image_dir, audio_dir) -> list[str]:
    return [
        f"--data-dir={data_dir}",
        f"--image-workdir={image_dir}",
        f"--audio-workdir={audio_dir}",
    ]


@pytest.mark.slow
@needs_fluidsynth
def test_bake_the_tiny_corpus_with_trained_codecs(trained, tmp_path, capsys):
    data_dir, image_dir, audio_dir = trained
    out = tmp_path / "baked"
    report = tmp_path / "codecs.html"
    summary, _ = _bake(
        capsys,
        *_codec_args(data_dir, image_dir, audio_dir),
        f"--output-dir={out}",
        f"--report={report}",
    )
    config = BakeConfig()
    variants = len(config.image_shifts)
    sizes = {"train": 6, "validation": 3, "test": 4}  # systems of the tiny corpus's chorales
    for split, size in sizes.items():
        assert summary[split] == {
            "file": str(out / f"{split}.tfrecord"),
            "examples": size,
            "baked": size * variants,
            "skipped": 0,
        }
    assert (out / "skipped.tsv").read_text() == "split\texample\tproblem\n"
    assert summary["report"]["examples"] == 3 and report.exists()
    for metric in (
        "image_psnr_db",
        "image_psnr_flat_gray_db",
        "audio_mel_distance",
        "audio_si_snr_db",
    ):
        assert math.isfinite(summary["report"][metric])
    page = report.read_text()
    # 3 x (original, decoded) images and audio, and 3 log-mel pictures of the audio pair
    assert page.count("<img ") == 9 and page.count("<audio ") == 6
    assert page.count("log-mel, original and decoded") == 3

    image_encoder, audio_encoder = load_encoders(image_dir, audio_dir)
    by_system = defaultdict(dict)
    for split in sizes:
        for baked in read_baked(str(out / f"{split}.tfrecord")):
            key = (split, baked["piece_id"], int(baked["system_index"]))
            by_system[key][int(baked["variant"])] = baked
    assert len(by_system) == sum(sizes.values())
    for key, group in by_system.items():
        assert sorted(group) == list(range(variants)), key
        base = group[0]
        for v, baked in group.items():
            dy, dx = config.image_shifts[v]
            shift = config.audio_shifts[v]
            np.testing.assert_array_equal(baked["image_shift"], [dy, dx])
            assert baked["audio_shift"] == shift
            assert baked["image_width"] == base["image_width"] + dx
            assert baked["audio_length"] == base["audio_length"] + shift
            cols = -(-baked["image_width"] // IMAGE_FACTOR)
            assert baked["image_grid_rows"] == IMAGE_ROWS
            assert baked["image_codes"].shape == (cols * IMAGE_ROWS, K)
            assert baked["audio_codes"].shape == (-(-baked["audio_length"] // AUDIO_HOP), K)
            assert baked["image_codes"].dtype == baked["audio_codes"].dtype == np.int32
            assert baked["image_codes"].min() >= 0 and baked["image_codes"].max() < IMAGE_CODES
            assert baked["audio_codes"].min() >= 0 and baked["audio_codes"].max() < AUDIO_CODES
            # The corpus's other features ride along unchanged.
            assert baked["lmx"] == base["lmx"] and "image" not in baked and "audio" not in baked
            np.testing.assert_array_equal(baked["notes/pitch"], base["notes/pitch"])
    assert any(
        not np.array_equal(group[v]["image_codes"], group[0]["image_codes"])
        for group in by_system.values()
        for v in range(1, variants)
    )

    # The same checkpoint and input give the same codes (a fresh load, encoded again),
    # and the codes decode to an image / audio of the encoded size.
    for example in load_corpus(CORPUS, "validation", str(data_dir), image_bytes=True):
        key = ("validation", example["piece_id"], int(example["system_index"]))
        baked = by_system[key][0]
        image = image_encoder.prepare(example["image"], "validation example")
        frames, rows = image_encoder(image)
        np.testing.assert_array_equal(frames, baked["image_codes"])
        assert rows == IMAGE_ROWS
        assert image.shape == (IMAGE_ROWS * IMAGE_FACTOR, baked["image_width"])
        audio = audio_encoder.prepare(example["audio"], example["sample_rate"], "validation")
        np.testing.assert_array_equal(audio_encoder(audio), baked["audio_codes"])
        assert audio.shape == (baked["audio_length"],)
        decoded = image_encoder.decode(baked["image_codes"], rows, baked["image_width"])
        assert decoded.shape == image.shape and 0.0 <= decoded.min() <= decoded.max() <= 1.0
        sound = audio_encoder.decode(baked["audio_codes"], baked["audio_length"])
        assert sound.shape == audio.shape and np.all(np.abs(sound) <= 1.0)


@pytest.mark.slow
@needs_fluidsynth
def test_bake_skips_an_undecodable_image_naming_it_and_keeps_the_rest(trained, tmp_path, capsys):
    import shutil

    import tensorflow as tf

    data_dir, image_dir, audio_dir = trained
    # A copy of the corpus whose first test system carries bytes that are no PNG.
    broken = tmp_path / "data"
    shutil.copytree(data_dir / "synthetic_scores" / "tiny", broken / "synthetic_scores" / "tiny")
    (shard,) = glob.glob(str(broken / "synthetic_scores/tiny/*/*-test.tfrecord-*"))
    records = list(tf.data.TFRecordDataset(shard).as_numpy_iterator())
    first = tf.train.Example.FromString(records[0])
    name = (
        f"{first.features.feature['piece_id'].bytes_list.value[0].decode()}"
        f"#{first.features.feature['system_index'].int64_list.value[0]}"
    )
    first.features.feature["image"].bytes_list.value[0] = b"this is not a PNG"
    records[0] = first.SerializeToString()
    with tf.io.TFRecordWriter(shard) as writer:
        for record in records:
            writer.write(record)

    out = tmp_path / "baked"
    args = _codec_args(broken, image_dir, audio_dir)
    summary, err = _bake(capsys, *args, "--split=test", f"--output-dir={out}")
    assert f"bake: skipped test/{name}: cannot read the image" in err
    assert summary["test"]["examples"] == 4 and summary["test"]["skipped"] == 1
    assert summary["test"]["baked"] == 3 * len(BakeConfig().image_shifts)
    rows = (out / "skipped.tsv").read_text().splitlines()
    assert len(rows) == 2 and rows[1].startswith(f"test\t{name}\tcannot read the image")
    kept = {
        f"{b['piece_id'].decode()}#{b['system_index']}"
        for b in read_baked(str(out / "test.tfrecord"))
    }
    assert len(kept) == 3 and name not in kept
