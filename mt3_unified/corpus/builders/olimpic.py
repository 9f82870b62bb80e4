"""TFDS builder `olimpic`: OLiMPiC 1.0 system images with their LMX, read from a manual_dir."""

from __future__ import annotations

import logging
from dataclasses import dataclass

import tensorflow_datasets as tfds

from mt3_unified.corpus.builders import common

LAYOUT = """\
<manual_dir>/olimpic-1.0-synthetic/   (or <manual_dir>/synthetic/, as the release unpacks)
    samples.train.txt  samples.dev.txt  samples.test.txt   one sample base a line,
                                                          e.g. samples/5939/p1-s2
    samples/<score id>/<name>.png  <name>.lmx  (<name>.musicxml is not read)
<manual_dir>/olimpic-1.0-scanned/     (or <manual_dir>/scanned/): the same, dev and test only
"""
# OLiMPiC calls its validation split "dev".
_SPLIT_FILES = {
    "train": "samples.train.txt",
    "validation": "samples.dev.txt",
    "test": "samples.test.txt",
}


@dataclass
class OlimpicConfig(tfds.core.BuilderConfig):
    variant: str = "synthetic"
    image_height: int = 416  # the paper's system height


class Olimpic(tfds.core.GeneratorBasedBuilder):
    """OLiMPiC (Mayer et al., ICDAR 2024): pianoform systems as image + LMX."""

    VERSION = tfds.core.Version("1.0.0")
    RELEASE_NOTES = {"1.0.0": "First release."}
    MANUAL_DOWNLOAD_INSTRUCTIONS = "Unpack the OLiMPiC 1.0 release archives so that:\n" + LAYOUT
    BUILDER_CONFIGS = [
        OlimpicConfig(
            name="synthetic", description="MuseScore-engraved systems", variant="synthetic"
        ),
        OlimpicConfig(name="scanned", description="IMSLP scans (dev, test)", variant="scanned"),
    ]

    def _info(self):
        return self.dataset_info_from_configs(
            features=tfds.features.FeaturesDict(
                {
                    "sample_id": tfds.features.Text(),
                    "score_id": tfds.features.Text(),
                    "image": common.image_feature(self.builder_config.image_height),
                    "lmx": tfds.features.Text(doc="LMX tokens joined by single spaces"),
                }
            ),
            homepage="https://github.com/ufal/olimpic-icdar24",
        )

    def _split_generators(self, dl_manager):
        variant = self.builder_config.variant
        root = common.find_root(
            dl_manager.manual_dir,
            (f"olimpic-1.0-{variant}", variant),
            "samples.test.txt",
            f"OLiMPiC {variant}",
            LAYOUT,
        )
        return {
            split: self._generate_examples(root, root / name)
            for split, name in _SPLIT_FILES.items()
            if (root / name).exists()
        }

    def _generate_examples(self, root, index):
        height = self.builder_config.image_height
        for line in index.read_text(encoding="utf-8").splitlines():
            base = line.strip()
            if not base:
                continue
            png, lmx = root / f"{base}.png", root / f"{base}.lmx"
            if not (png.exists() and lmx.exists()):
                logging.warning("OLiMPiC: skipping %s (missing .png or .lmx)", base)
                continue
            yield (
                base,
                {
                    "sample_id": base,
                    "score_id": base.split("/")[-2] if "/" in base else "",
                    "image": common.png_of_height(png, height),
                    "lmx": " ".join(lmx.read_text(encoding="utf-8").split()),
                },
            )
