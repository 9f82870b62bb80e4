"""TFDS builder `musicnet_em`: MusicNet audio with the MusicNet-EM labels, from a manual_dir."""

from __future__ import annotations

import re

import numpy as np
import tensorflow_datasets as tfds

from mt3_unified.corpus.builders import common
from mt3_unified.corpus.splits import SPLITS, split_by_hash

LAYOUT = """\
<manual_dir>/musicnet/train_data/<id>.wav   <manual_dir>/musicnet/test_data/<id>.wav
<manual_dir>/musicnet_em/<id>....mid        (musicnet_em.zip unpacked: MIDI labels whose file
                                             names start with the MusicNet id; any subfolders)
"""
_ID = re.compile(r"^(\d+)")


class MusicnetEm(tfds.core.GeneratorBasedBuilder):
    """MusicNet audio with the EM-aligned labels of Maman & Bermano (ICML 2022).

    test_data is the test split; train_data is split 90/10 into train and
    validation by a hash of the recording id.
    """

    VERSION = tfds.core.Version("1.2.0")
    RELEASE_NOTES = common.release_notes("1.2.0")
    MANUAL_DOWNLOAD_INSTRUCTIONS = "Place MusicNet and the MusicNet-EM labels so that:\n" + LAYOUT
    BUILDER_CONFIGS = common.sample_rate_configs()

    def _info(self):
        return self.dataset_info_from_configs(
            features=tfds.features.FeaturesDict(
                {
                    "id": tfds.features.Text(),
                    "audio": common.audio_feature(self.builder_config.sample_rate),
                    "sample_rate": np.int32,
                    "notes": common.notes_feature(),
                }
            ),
            homepage="https://benadar293.github.io",
        )

    def _split_generators(self, dl_manager):
        root = common.find_root(
            dl_manager.manual_dir, (".",), "musicnet/train_data", "MusicNet-EM", LAYOUT
        )
        labels_dir = common.require(root / "musicnet_em", "MusicNet-EM", "the musicnet_em folder")
        labels = {}
        for path in sorted(labels_dir.rglob("*")):
            match = _ID.match(path.name)
            if match and path.suffix.lower() in (".mid", ".midi"):
                labels.setdefault(match.group(1), path)
        if not labels:
            raise common.DatasetLayoutError(labels_dir, "MusicNet-EM: no <id>*.mid labels")
        pairs: dict[str, list] = {split: [] for split in SPLITS}
        for folder, test in (("train_data", False), ("test_data", True)):
            for wav in sorted((root / "musicnet" / folder).glob("*.wav")):
                if wav.stem in labels:
                    split = "test" if test else split_by_hash(wav.stem, validation=10, test=0)
                    pairs[split].append((wav.stem, wav, labels[wav.stem]))
        return {s: self._generate_examples(p) for s, p in pairs.items() if p}

    def _generate_examples(self, pairs):
        sr = self.builder_config.sample_rate
        for recording, wav, midi in pairs:
            yield (
                recording,
                {
                    "id": recording,
                    "audio": common.read_audio(wav, sr),
                    "sample_rate": sr,
                    "notes": common.notes_from_midi(midi, apply_sustain=False),
                },
            )
