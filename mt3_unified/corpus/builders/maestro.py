"""TFDS builder `maestro_v3`: MAESTRO v3.0.0 performances (audio + MIDI notes) from a manual_dir."""

from __future__ import annotations

import csv

import numpy as np
import tensorflow_datasets as tfds

from mt3_unified.corpus.builders import common
from mt3_unified.corpus.splits import SPLITS

LAYOUT = """\
<manual_dir>/maestro-v3.0.0/           (or the CSV directly in <manual_dir>)
    maestro-v3.0.0.csv   columns canonical_composer, canonical_title, split, year,
                         midi_filename, audio_filename, duration
    2004/<name>.midi  2004/<name>.wav  ...   (paths as the CSV gives them)
"""


class MaestroV3(tfds.core.GeneratorBasedBuilder):
    """MAESTRO v3 (Hawthorne et al.): whole piano performances, sustain pedal applied to notes."""

    VERSION = tfds.core.Version("1.1.0")
    RELEASE_NOTES = common.release_notes("1.1.0")
    MANUAL_DOWNLOAD_INSTRUCTIONS = "Unpack maestro-v3.0.0.zip so that:\n" + LAYOUT
    BUILDER_CONFIGS = common.sample_rate_configs()

    def _info(self):
        sr = self.builder_config.sample_rate
        return self.dataset_info_from_configs(
            features=tfds.features.FeaturesDict(
                {
                    "id": tfds.features.Text(),
                    "composer": tfds.features.Text(),
                    "title": tfds.features.Text(),
                    "audio": common.audio_feature(sr),
                    "sample_rate": np.int32,
                    "notes": common.notes_feature(),
                }
            ),
            homepage="https://magenta.tensorflow.org/datasets/maestro",
        )

    def _split_generators(self, dl_manager):
        root = common.find_root(
            dl_manager.manual_dir,
            ("maestro-v3.0.0", "."),
            "maestro-v3.0.0.csv",
            "MAESTRO v3",
            LAYOUT,
        )
        with open(root / "maestro-v3.0.0.csv", newline="", encoding="utf-8") as f:
            rows = list(csv.DictReader(f))
        missing = {"split", "midi_filename", "audio_filename"} - set(rows[0] if rows else {})
        if missing:
            raise common.DatasetLayoutError(
                root / "maestro-v3.0.0.csv", f"MAESTRO v3: columns {sorted(missing)} missing"
            )
        return {
            split: self._generate_examples(root, [r for r in rows if r["split"] == split])
            for split in SPLITS
            if any(r["split"] == split for r in rows)
        }

    def _generate_examples(self, root, rows):
        sr = self.builder_config.sample_rate
        for row in rows:
            audio = common.require(root / row["audio_filename"], "MAESTRO v3", "audio file")
            midi = common.require(root / row["midi_filename"], "MAESTRO v3", "MIDI file")
            key = row["midi_filename"]
            yield (
                key,
                {
                    "id": key,
                    "composer": row.get("canonical_composer", ""),
                    "title": row.get("canonical_title", ""),
                    "audio": common.read_audio(audio, sr),
                    "sample_rate": sr,
                    "notes": common.notes_from_midi(midi),
                },
            )
