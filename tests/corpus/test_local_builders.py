"""Builders of the paper's datasets, each on a tiny fixture written in its real file layout."""

from __future__ import annotations

import csv

import numpy as np
import pretty_midi
import pytest
import soundfile as sf
import tensorflow_datasets as tfds
from PIL import Image

from mt3_unified.corpus.builders.bpsd import Bpsd
from mt3_unified.corpus.builders.maestro import MaestroV3
from mt3_unified.corpus.builders.musicnet_em import MusicnetEm
from mt3_unified.corpus.builders.olimpic import Olimpic
from mt3_unified.corpus.builders.ytsv import Ytsv
from mt3_unified.corpus.errors import DatasetLayoutError


def _prepare(cls, config: str, manual_dir, data_dir):
    builder = cls(config=config, data_dir=str(data_dir))
    builder.download_and_prepare(
        download_config=tfds.download.DownloadConfig(manual_dir=str(manual_dir))
    )
    return {
        split: list(tfds.as_numpy(builder.as_dataset(split=split))) for split in builder.info.splits
    }


def _png(path, width=300, height=60):
    path.parent.mkdir(parents=True, exist_ok=True)
    pixels = np.full((height, width), 255, np.uint8)
    pixels[height // 2, :] = 0
    Image.fromarray(pixels).save(path)


def _wav(path, seconds: float, rate: int = 22050):
    path.parent.mkdir(parents=True, exist_ok=True)
    t = np.arange(int(seconds * rate)) / rate
    sf.write(path, 0.3 * np.sin(2 * np.pi * 440 * t), rate)


def _midi(path, notes=((0.1, 0.6, 60), (0.5, 0.9, 64))):
    path.parent.mkdir(parents=True, exist_ok=True)
    pm = pretty_midi.PrettyMIDI()
    piano = pretty_midi.Instrument(program=0)
    piano.notes = [pretty_midi.Note(velocity=80, pitch=p, start=s, end=e) for s, e, p in notes]
    pm.instruments.append(piano)
    pm.write(str(path))


def test_olimpic_reads_index_files_and_restates_images_at_config_height(tmp_path):
    root = tmp_path / "manual" / "olimpic-1.0-synthetic"
    root.mkdir(parents=True)
    index = {"train": ["1/p1-s1", "1/p1-s2"], "dev": ["2/p1-s1"], "test": ["3/p1-s1"]}
    for split, bases in index.items():
        (root / f"samples.{split}.txt").write_text("".join(f"samples/{b}\n" for b in bases))
        for base in bases:
            _png(root / "samples" / f"{base}.png")
            (root / "samples" / f"{base}.lmx").write_text("measure\nclef:G2 staff:1 C4 quarter\n")
    splits = _prepare(Olimpic, "synthetic", tmp_path / "manual", tmp_path / "data")
    assert {k: len(v) for k, v in splits.items()} == {"train": 2, "validation": 1, "test": 1}
    example = splits["train"][0]
    assert example["image"].shape[0] == 416 and example["image"].shape[1] % 16 == 0
    assert example["lmx"].decode() == "measure clef:G2 staff:1 C4 quarter"
    assert example["score_id"].decode() in {"1", "2", "3"}


def test_a_wrong_layout_says_what_was_expected_where(tmp_path):
    (tmp_path / "manual" / "olimpic-1.0-scanned").mkdir(parents=True)
    with pytest.raises(DatasetLayoutError, match="samples.test.txt"):
        _prepare(Olimpic, "scanned", tmp_path / "manual", tmp_path / "data")
    with pytest.raises(DatasetLayoutError, match="maestro-v3.0.0.csv"):
        _prepare(MaestroV3, "16k", tmp_path / "manual", tmp_path / "data2")


def test_maestro_pairs_audio_with_midi_by_the_csv(tmp_path):
    root = tmp_path / "manual" / "maestro-v3.0.0"
    rows = []
    for split, name in (("train", "a"), ("validation", "b"), ("test", "c")):
        _wav(root / "2004" / f"{name}.wav", 1.0)
        _midi(root / "2004" / f"{name}.midi")
        rows.append(
            {
                "canonical_composer": "Chopin",
                "canonical_title": name,
                "split": split,
                "year": "2004",
                "midi_filename": f"2004/{name}.midi",
                "audio_filename": f"2004/{name}.wav",
                "duration": "1.0",
            }
        )
    with open(root / "maestro-v3.0.0.csv", "w", newline="") as f:
        writer = csv.DictWriter(f, fieldnames=list(rows[0]))
        writer.writeheader()
        writer.writerows(rows)
    splits = _prepare(MaestroV3, "16k", tmp_path / "manual", tmp_path / "data")
    assert {k: len(v) for k, v in splits.items()} == {"train": 1, "validation": 1, "test": 1}
    example = splits["test"][0]
    assert len(example["audio"]) == 16000 and example["audio"].dtype == np.int16
    assert list(example["notes"]["pitch"]) == [60, 64]
    assert np.allclose(example["notes"]["onset"], [0.1, 0.5], atol=1e-3)


def test_musicnet_em_matches_labels_to_recordings_by_id(tmp_path):
    manual = tmp_path / "manual"
    for folder, rid in (("train_data", "1727"), ("train_data", "1728"), ("test_data", "2106")):
        _wav(manual / "musicnet" / folder / f"{rid}.wav", 0.5, rate=44100)
        _midi(manual / "musicnet_em" / f"{rid}.mid")
    _wav(manual / "musicnet" / "train_data" / "9999.wav", 0.5)  # no label: left out
    splits = _prepare(MusicnetEm, "16k", manual, tmp_path / "data")
    ids = {split: sorted(e["id"].decode() for e in v) for split, v in splits.items()}
    assert ids["test"] == ["2106"]
    assert sorted(ids.get("train", []) + ids.get("validation", [])) == ["1727", "1728"]
    assert all(len(e["audio"]) == 8000 for v in splits.values() for e in v)


def _bpsd_fixture(manual, chorale_path):
    from mt3_unified.corpus.reduce import load_score, reduce_score

    root = manual / "BPSD"
    stem = "Beethoven_Op002No1-01_AB12"
    score = reduce_score(load_score(chorale_path), chorale_path)
    xml = root / "0_RawData" / "score_xml_unfolded" / "Beethoven_Op002No1-01.xml"
    xml.parent.mkdir(parents=True)
    xml.write_bytes(score.musicxml)
    measures = len(score.measure_offsets)
    _wav(root / "1_Audio" / f"{stem}.wav", 2.0 * measures + 1, rate=16000)
    notes_dir = root / "2_Annotations" / "ann_audio_note"
    notes_dir.mkdir(parents=True)
    with open(notes_dir / f"{stem}.csv", "w") as f:
        f.write("start;end;pitch\n")
        for k in range(measures):
            f.write(f"{2.0 * k + 0.1};{2.0 * k + 1.0};{60 + k}\n")
    measures_dir = root / "2_Annotations" / "ann_audio_measure"
    measures_dir.mkdir(parents=True)
    with open(measures_dir / f"{stem}.csv", "w") as f:
        f.write("start;measure\n")
        for k in range(measures + 1):
            f.write(f"{2.0 * k};{k + 1}\n")
    return measures


def test_bpsd_performances_and_systems(tmp_path, chorale_path):
    manual = tmp_path / "manual"
    measures = _bpsd_fixture(manual, chorale_path)
    whole = _prepare(Bpsd, "performances", manual, tmp_path / "data")["test"]
    assert len(whole) == 1 and whole[0]["performer"].decode() == "AB12"
    assert whole[0]["lmx"].decode().split().count("measure") == measures
    systems = _prepare(Bpsd, "systems_128px", manual, tmp_path / "data")["test"]
    assert len(systems) >= 2
    covered = 0
    for ex in systems:
        span = int(ex["measure_end"] - ex["measure_start"])
        covered += span
        assert ex["lmx"].decode().split().count("measure") == span
        assert ex["image"].shape[0] == 128
        assert len(ex["audio"]) == 16000 * 2 * span
        assert len(ex["notes"]["pitch"]) == span  # one annotated note a measure
        assert ex["notes"]["offset"].max() <= 2.0 * span
    assert covered == measures


def test_ytsv_cuts_each_system_from_its_video_audio(tmp_path):
    root = tmp_path / "manual" / "ytsv"
    rows = []
    for video in ("vidA", "vidB"):
        _wav(root / "audio" / f"{video}.wav", 6.0)
        for k in range(3):
            _png(root / "systems" / video / f"{k}.png", 400, 100)
            rows.append(
                {
                    "video_id": video,
                    "system_index": k,
                    "image": f"systems/{video}/{k}.png",
                    "audio": f"audio/{video}.wav",
                    "start": 2.0 * k,
                    "end": 2.0 * k + 1.5,
                    "split": "train" if video == "vidA" else "test",
                }
            )
    with open(root / "metadata.csv", "w", newline="") as f:
        writer = csv.DictWriter(f, fieldnames=list(rows[0]))
        writer.writeheader()
        writer.writerows(rows)
    splits = _prepare(Ytsv, "128px_16k", tmp_path / "manual", tmp_path / "data")
    assert {k: len(v) for k, v in splits.items()} == {"train": 3, "test": 3}
    for ex in splits["train"]:
        assert ex["video_id"] == b"vidA" and ex["image"].shape[0] == 128
        assert len(ex["audio"]) == 24000 and abs(np.abs(ex["audio"]).max() - 9830) < 200
