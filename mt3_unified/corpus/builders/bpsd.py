"""TFDS builder `bpsd`: Beethoven Piano Sonata Dataset performances, whole or cut by system."""

from __future__ import annotations

import csv
import logging
from dataclasses import dataclass

import numpy as np
import tensorflow_datasets as tfds

from mt3_unified.corpus.builders import common
from mt3_unified.corpus.errors import SkipError

LAYOUT = """\
<manual_dir>/BPSD/                      (or the dataset's folders directly in <manual_dir>)
    1_Audio/Beethoven_<piece>_<performer>.wav                 e.g. Beethoven_Op027No2-01_FG67.wav
    2_Annotations/ann_audio_note/Beethoven_<piece>_<performer>.csv      ';'-separated,
                                             columns start;end;pitch[;velocity] (seconds, MIDI)
    2_Annotations/ann_audio_measure/Beethoven_<piece>_<performer>.csv   ';'-separated, first
                                             column the start (seconds) of each measure, in order
    0_RawData/score_xml_unfolded/Beethoven_<piece>.xml   the unfolded score (systems config;
                                             optional for performances: it gives the LMX)
"""


@dataclass
class BpsdConfig(tfds.core.BuilderConfig):
    level: str = "performance"
    image_height: int = 416
    sample_rate: int = 16000


class Bpsd(tfds.core.GeneratorBasedBuilder):
    """BPSD (Zeitler et al., TISMIR 2024): 32 first movements in 11 performances each.

    `performances`: whole recordings with their note and measure annotations.
    `systems`: the unfolded score laid out by verovio; each system's image and LMX
    with the audio and notes between its measures' annotated times. All is `test`:
    the paper evaluates on BPSD.
    """

    VERSION = tfds.core.Version("1.1.0")
    RELEASE_NOTES = common.release_notes("1.1.0")
    MANUAL_DOWNLOAD_INSTRUCTIONS = "Unpack the BPSD release so that:\n" + LAYOUT
    BUILDER_CONFIGS = [
        BpsdConfig(name="performances", description="whole performances, 16 kHz"),
        BpsdConfig(name="systems", description="416 px systems, 16 kHz", level="system"),
        BpsdConfig(
            name="systems_128px", description="128 px systems", level="system", image_height=128
        ),
    ]

    def _info(self):
        config = self.builder_config
        features = {
            "id": tfds.features.Text(),
            "piece": tfds.features.Text(),
            "performer": tfds.features.Text(),
            "audio": common.audio_feature(config.sample_rate),
            "sample_rate": np.int32,
            "notes": common.notes_feature(),
            "lmx": tfds.features.Text(),
        }
        if config.level == "system":
            features.update(
                system_index=np.int32,
                measure_start=np.int32,
                measure_end=np.int32,
                image=common.image_feature(config.image_height),
                start_time=np.float32,
            )
        else:
            features["measure_times"] = tfds.features.Sequence(np.float32)
        return self.dataset_info_from_configs(features=tfds.features.FeaturesDict(features))

    def _split_generators(self, dl_manager):
        root = common.find_root(dl_manager.manual_dir, ("BPSD", "."), "1_Audio", "BPSD", LAYOUT)
        notes_dir = common.require(
            root / "2_Annotations" / "ann_audio_note", "BPSD", "2_Annotations/ann_audio_note"
        )
        recordings = []
        for wav in sorted((root / "1_Audio").glob("Beethoven_*.wav")):
            piece, _, performer = wav.stem.removeprefix("Beethoven_").rpartition("_")
            if (notes_dir / f"{wav.stem}.csv").exists():
                recordings.append((wav.stem, piece, performer))
        if not recordings:
            raise common.DatasetLayoutError(
                root, f"BPSD: no annotated recordings; expected\n{LAYOUT}"
            )
        return {"test": self._generate_examples(root, recordings)}

    def _generate_examples(self, root, recordings):
        config = self.builder_config
        scores: dict[str, object] = {}
        for stem, piece, performer in recordings:
            notes = _read_notes(root / "2_Annotations" / "ann_audio_note" / f"{stem}.csv")
            measures = _read_measures(root / "2_Annotations" / "ann_audio_measure" / f"{stem}.csv")
            if piece not in scores:
                scores[piece] = _score(root, piece, config)
            score = scores[piece]
            wav = root / "1_Audio" / f"{stem}.wav"
            base = {"id": stem, "piece": piece, "performer": performer}
            base["sample_rate"] = config.sample_rate
            if config.level != "system":
                yield (
                    stem,
                    {
                        **base,
                        "audio": common.read_audio(wav, config.sample_rate),
                        "notes": notes,
                        "lmx": score.lmx if score else "",
                        "measure_times": np.asarray(measures, np.float32),
                    },
                )
                continue
            if score is None or not measures:
                logging.warning("BPSD: %s has no usable score or measure times; skipped", stem)
                continue
            yield from _system_examples(base, score, notes, measures, wav, config)


def _read_rows(path):
    with open(path, newline="", encoding="utf-8") as f:
        return list(csv.DictReader(f, delimiter=";"))


def _read_notes(path) -> dict[str, np.ndarray]:
    rows = _read_rows(path)
    return common.notes_from_rows(
        (
            float(r["start"]),
            float(r["end"]),
            int(float(r["pitch"])),
            int(float(r.get("velocity") or 64)),
            0,
            False,
        )
        for r in rows
    )


def _read_measures(path) -> list[float]:
    if not path.exists():
        return []
    with open(path, newline="", encoding="utf-8") as f:
        rows = list(csv.reader(f, delimiter=";"))
    times = []
    for row in rows:
        try:
            times.append(float(row[0]))
        except (ValueError, IndexError):
            continue  # the header
    return times


@dataclass
class _Score:
    lmx: str
    systems: list
    slicer: object
    count: int


def _score(root, piece: str, config) -> _Score | None:
    """The unfolded score's LMX and (systems config) its verovio layout; None if unusable."""
    from mt3_unified.corpus.systems import LayoutConfig, MeasureSlicer, layout_systems, system_lmx

    path = root / "0_RawData" / "score_xml_unfolded" / f"Beethoven_{piece}.xml"
    if not path.exists():
        return None
    data = path.read_bytes()
    try:
        slicer = MeasureSlicer(data)
        count = len(slicer.measures)
        lmx = " ".join(system_lmx(slicer, 0, count, path))
        systems = []
        if config.level == "system":
            systems, _ = layout_systems(data, LayoutConfig(), path)
    except SkipError as e:
        logging.warning("BPSD: score of %s unusable: %s", piece, e)
        return None
    return _Score(lmx, systems, slicer, count)


def _system_examples(base, score: _Score, notes, measures, wav, config):
    from mt3_unified.corpus.render import svg_to_png
    from mt3_unified.corpus.systems import system_lmx

    if len(measures) not in (score.count, score.count + 1):
        logging.warning(
            "BPSD: %s has %d measure times for %d measures; skipped",
            base["id"],
            len(measures),
            score.count,
        )
        return
    for layout in score.systems:
        start = measures[layout.start]
        end = measures[layout.end] if layout.end < len(measures) else None
        audio = common.read_audio(wav, config.sample_rate, start, end)
        end = start + len(audio) / config.sample_rate if end is None else end
        yield (
            f"{base['id']}#{layout.index:04d}",
            {
                **base,
                "system_index": layout.index,
                "measure_start": layout.start,
                "measure_end": layout.end,
                "image": svg_to_png(layout.svg, config.image_height),
                "lmx": " ".join(system_lmx(score.slicer, layout.start, layout.end)),
                "audio": audio,
                "notes": common.window_notes(notes, start, end),
                "start_time": start,
            },
        )
