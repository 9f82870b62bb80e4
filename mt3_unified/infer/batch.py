"""Batch inference on one's own files: every input -> units -> decoded segments -> files.

One `Translation` per `mt3u` subcommand (omr, amt, synth, engrave, i2a, a2i,
score2audio). A bad file is skipped with its reason and the rest goes on; an output
already present is kept unless ``overwrite``; every item's inputs, outputs, status and
decoding scores go to ``manifest.json`` in the output folder. Problems that would spoil
every item (no model, no codec, an output folder that cannot be written) are errors
before any work starts.
"""

from __future__ import annotations

import dataclasses
import glob
import json
import os
import time
from collections.abc import Sequence
from pathlib import Path

from mt3_unified.errors import InputFileError, Mt3UnifiedError
from mt3_unified.infer import inputs as readers
from mt3_unified.infer.outputs import output_paths, write_outputs
from mt3_unified.infer.translations import MUSICXML_SUFFIXES, Translation

MANIFEST_FILE = "manifest.json"


class OutputDirError(Mt3UnifiedError, OSError):
    """An output folder that cannot be written; raised before any work starts."""


@dataclasses.dataclass
class Item:
    """One input file's fate, as the manifest records it."""

    input: str
    status: str = "pending"  # ok, failed, exists (outputs kept; --overwrite redoes them)
    outputs: dict = dataclasses.field(default_factory=dict)
    error: str | None = None
    segments: int = 0
    scores: list = dataclasses.field(default_factory=list)  # per segment log-likelihood
    seconds: float = 0.0  # reading, decoding and writing this item
    model_seconds: float = 0.0  # of which in the model (the rest: files, codecs, chain)


def expand_inputs(patterns: Sequence[str | os.PathLike], suffixes: Sequence[str]) -> list[Path]:
    """Files named by paths, folders (their files with an accepted suffix, sorted) and
    globs; a path that matches nothing stays in the list so that its item fails."""
    found: list[Path] = []
    for pattern in map(str, patterns):
        path = Path(pattern).expanduser()
        if path.is_dir():
            found += sorted(p for p in path.iterdir() if p.suffix.lower() in suffixes)
        elif any(c in pattern for c in "*?[") and not path.exists():
            found += sorted(Path(p) for p in glob.glob(str(path), recursive=True))
        else:
            found.append(path)
    return list(dict.fromkeys(found))


def check_output_dir(out_dir: Path) -> None:
    """Creates the folder and proves it writable, or raises OutputDirError naming it."""
    try:
        out_dir.mkdir(parents=True, exist_ok=True)
        probe = out_dir / ".mt3u_write_test"
        probe.write_text("")
        probe.unlink()
    except OSError as e:
        raise OutputDirError(
            f"{out_dir}: cannot write the output folder ({e.strerror or e})"
        ) from e


def needed_codecs(translation: Translation) -> list[str]:
    return [m for m in (translation.input_modality, translation.output_modality)
            if m in ("image", "audio")]  # fmt: skip


def load_codecs(run, translation: Translation, workdirs: dict[str, str | None]) -> dict:
    """{modality: host encoder} of the codecs the translation needs: the given workdirs,
    else those that baked the run's corpus; a missing one is an error before any work."""
    from mt3_unified.codecs.loading import load_code_encoder

    baked = run.codec_workdirs()
    codecs = {}
    for modality in needed_codecs(translation):
        workdir = workdirs.get(modality) or baked.get(modality)
        if not workdir or not os.path.isdir(workdir):
            flag = "--image-codec" if modality == "image" else "--audio-codec"
            where = f" ({workdir} does not exist)" if workdir else ""
            raise Mt3UnifiedError(
                f"{translation.name} needs the {modality} codec the model was trained with{where}; "
                f"name its workdir with {flag}"
            )
        codecs[modality] = load_code_encoder(workdir)
    return codecs


def units_of(path: Path, translation: Translation, run, codecs: dict) -> list[dict]:
    """The raw units of one input file for the translation (infer.inputs)."""
    if not path.is_file():
        raise InputFileError(path, "no such file")
    if path.suffix.lower() not in translation.suffixes:
        raise InputFileError(
            path, f"{translation.name} takes {', '.join(translation.suffixes)} files, not "
                  f"{path.suffix or 'a file without a suffix'}",
        )  # fmt: skip
    lengths = run.task_feature_lengths
    max_in = lengths["inputs"] - 1  # less the EOS frame
    modality = translation.input_modality
    if modality == "image":
        images = None
        if path.suffix.lower() in MUSICXML_SUFFIXES:  # score2audio: engrave it first
            _, images, _ = readers.engraved_systems(path, codecs["image"].model.config.height)
        return readers.image_units(path, codecs["image"], max_in, images=images)
    if modality == "audio":
        whole = translation.output_modality == "midi"  # the chain cuts MT3's windows
        return readers.audio_units(path, codecs["audio"], None if whole else max_in)
    if modality == "midi":
        return readers.midi_units(path, codecs.get("audio"))
    return readers.score_units(path, max_in)


def run_batch(
    run,
    translation: Translation,
    paths: Sequence[Path],
    out_dir: Path,
    codecs: dict,
    *,
    batch_size: int = 8,
    settings: dict | None = None,
    overwrite: bool = False,
    progress: bool = True,
    stems: dict[Path, str] | None = None,
) -> list[Item]:
    """Translates every file (module docstring); writes and returns the manifest's items.
    ``stems`` names an input's outputs (default: the input's file name without suffix)."""
    from tqdm import tqdm

    from mt3_unified.infer.predict import decode_units

    check_output_dir(out_dir)
    items = []
    bar = tqdm(paths, desc=translation.name, unit="file", disable=not progress)
    for path in bar:
        item = Item(input=str(path))
        items.append(item)
        stem = (stems or {}).get(path) or path.stem
        planned = output_paths(out_dir, stem, translation.output_modality)
        if not overwrite and any(p.exists() for p in planned):
            item.status = "exists"
            item.outputs = {p.suffix.lstrip("."): str(p) for p in planned if p.exists()}
            continue
        begin, clock = time.perf_counter(), {}
        try:
            units = units_of(path, translation, run, codecs)
            segments = list(decode_units(
                run, units, translation.input_modality, translation.output_modality,
                batch_size=batch_size, settings=settings, clock=clock,
            ))  # fmt: skip
            windows = {translation.input_modality, translation.output_modality} == {"midi", "audio"}
            item.outputs = write_outputs(segments, translation.output_modality, out_dir, stem,
                                         codecs, audio_windows=windows)  # fmt: skip
            item.segments, item.scores = len(segments), [round(s.score, 4) for s in segments]
            item.status = "ok"
        except InputFileError as e:
            item.status, item.error = "failed", str(e)
            bar.write(f"skipped: {e}")
        item.seconds = round(time.perf_counter() - begin, 3)
        item.model_seconds = round(clock.get("model", 0.0), 3)
    write_manifest(out_dir, run, translation, settings, items)
    return items


def write_manifest(out_dir: Path, run, translation, settings, items: Sequence[Item]) -> Path:
    manifest = {
        "task": translation.name,
        "input_modality": translation.input_modality,
        "output_modality": translation.output_modality,
        "model_dir": run.model_dir,
        "step": run.step,
        "decoding": settings or {},
        "items": [dataclasses.asdict(item) for item in items],
    }
    path = out_dir / MANIFEST_FILE
    path.write_text(json.dumps(manifest, indent=2), encoding="utf-8")
    return path
