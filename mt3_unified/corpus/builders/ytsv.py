"""TFDS builder `ytsv`: score-video systems (image + audio segment) from YTSV's metadata CSV."""

from __future__ import annotations

import csv
from dataclasses import dataclass

import numpy as np
import tensorflow_datasets as tfds

from mt3_unified.corpus.builders import common
from mt3_unified.corpus.splits import SPLITS, split_by_hash

LAYOUT = """\
<manual_dir>/ytsv/metadata.csv   one row a system, columns:
    video_id, system_index, image, audio, start, end[, split]
    image: the system's image file, relative to <manual_dir>/ytsv/
    audio: the video's audio file (wav/flac/ogg), relative to <manual_dir>/ytsv/
    start, end: the system's time span in that audio, in seconds
    split: train/validation/test (when absent: a hash of video_id, 80/10/10)
<manual_dir>/ytsv/<image and audio files as the CSV names them>
"""
_COLUMNS = {"video_id", "system_index", "image", "audio", "start", "end"}


@dataclass
class YtsvConfig(tfds.core.BuilderConfig):
    image_height: int = 416
    sample_rate: int = 16000


class Ytsv(tfds.core.GeneratorBasedBuilder):
    """YouTube score videos: each system's image with the audio heard while it is shown.

    Splits go by video, never by system. At 1,341 hours, build it with Beam
    (`use_beam=True`): rows are independent, one video's audio is read per row.
    """

    VERSION = tfds.core.Version("1.2.0")
    RELEASE_NOTES = common.release_notes("1.2.0")
    MANUAL_DOWNLOAD_INSTRUCTIONS = "Lay out the YTSV files so that:\n" + LAYOUT
    BUILDER_CONFIGS = [
        YtsvConfig(name="416px_16k", description="416 px images, 16 kHz audio"),
        YtsvConfig(name="416px_44k", description="416 px, 44.1 kHz", sample_rate=44100),
        YtsvConfig(name="128px_16k", description="128 px, 16 kHz (tiny models)", image_height=128),
    ]

    def __init__(self, *, use_beam: bool = False, **kwargs):
        self._use_beam = use_beam
        super().__init__(**kwargs)

    def _info(self):
        config = self.builder_config
        return self.dataset_info_from_configs(
            features=tfds.features.FeaturesDict(
                {
                    "video_id": tfds.features.Text(),
                    "system_index": np.int32,
                    "image": common.image_feature(config.image_height),
                    "audio": common.audio_feature(config.sample_rate),
                    "sample_rate": np.int32,
                    "start_time": np.float32,
                    "duration": np.float32,
                }
            ),
        )

    def _split_generators(self, dl_manager):
        root = common.find_root(
            dl_manager.manual_dir, ("ytsv", "."), "metadata.csv", "YTSV", LAYOUT
        )
        with open(root / "metadata.csv", newline="", encoding="utf-8") as f:
            rows = list(csv.DictReader(f))
        missing = _COLUMNS - set(rows[0] if rows else {})
        if missing:
            raise common.DatasetLayoutError(
                root / "metadata.csv",
                f"YTSV: columns {sorted(missing)} missing; expected\n{LAYOUT}",
            )
        by_split: dict[str, list] = {split: [] for split in SPLITS}
        for row in rows:
            split = row.get("split") or split_by_hash(row["video_id"])
            by_split[split].append((str(root), dict(row)))
        return {s: self._generate_examples(r) for s, r in by_split.items() if r}

    def _generate_examples(self, rows):
        config = (self.builder_config.image_height, self.builder_config.sample_rate)
        if self._use_beam:
            import apache_beam as beam

            return beam.Create([(config, r) for r in rows]) | beam.Map(_beam_row)
        return (row_example(config, root, row) for root, row in rows)


def _beam_row(job):
    config, (root, row) = job
    return row_example(config, root, row)


def row_example(config, root, row):
    """(key, example) of one metadata row: the function both build paths share."""
    from pathlib import Path

    height, sr = config
    base = Path(root)
    start, end = float(row["start"]), float(row["end"])
    image = common.require(base / row["image"], "YTSV", "system image")
    audio = common.require(base / row["audio"], "YTSV", "audio file")
    key = f"{row['video_id']}#{int(row['system_index']):05d}"
    return key, {
        "video_id": row["video_id"],
        "system_index": int(row["system_index"]),
        "image": common.png_of_height(image, height),
        "audio": common.read_audio(audio, sr, start, end),
        "sample_rate": sr,
        "start_time": start,
        "duration": end - start,
    }
