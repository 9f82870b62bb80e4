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
    # Reading, decoding and writing this item; decoding shared by a chunk's files is
    # counted by their shares of its segments.
    seconds: float = 0.0
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


# Files whose units go through one dataset and one decoding loop: building and tracing
# the tf.data chain costs ~0.4 s, which a file of a few systems would otherwise pay alone
# (BENCHMARKS.md), and segments of several files share batches.
FILES_PER_CHUNK = 32


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
    ``stems`` names an input's outputs (default: the input's file name without suffix).
    Files are read, decoded together and written FILES_PER_CHUNK at a time."""
    from tqdm import tqdm

    check_output_dir(out_dir)
    items = [Item(input=str(path)) for path in paths]
    with tqdm(total=len(items), desc=translation.name, unit="file",
              disable=not progress) as bar:  # fmt: skip
        for first in range(0, len(items), FILES_PER_CHUNK):
            chunk = list(zip(paths[first : first + FILES_PER_CHUNK],
                             items[first : first + FILES_PER_CHUNK], strict=True))  # fmt: skip
            _translate_chunk(
                run,
                translation,
                chunk,
                out_dir,
                codecs,
                stems or {},
                bar,
                dict(batch_size=batch_size, settings=settings, overwrite=overwrite),
            )
    write_manifest(out_dir, run, translation, settings, items)
    return items


def _translate_chunk(run, translation, chunk, out_dir, codecs, stems, bar, options) -> None:
    """Reads the chunk's files into units, decodes them all at once, writes each file's."""
    from mt3_unified.infer.predict import decode_units

    units, todo = [], []
    for path, item in chunk:
        stem = stems.get(path) or path.stem
        planned = output_paths(out_dir, stem, translation.output_modality)
        if not options["overwrite"] and any(p.exists() for p in planned):
            item.status = "exists"
            item.outputs = {p.suffix.lstrip("."): str(p) for p in planned if p.exists()}
            bar.update(1)
            continue
        begin = time.perf_counter()
        try:
            found = units_of(path, translation, run, codecs)
            units += found
            todo.append((path, item, stem))
        except InputFileError as e:
            _fail(item, e, bar)
        item.seconds = time.perf_counter() - begin
    begin, clock = time.perf_counter(), {}
    segments: dict[str, list] = {}
    for segment in decode_units(run, units, translation.input_modality,
                                translation.output_modality, batch_size=options["batch_size"],
                                settings=options["settings"], clock=clock):  # fmt: skip
        segments.setdefault(segment.piece_id, []).append(segment)
    shared, in_model = time.perf_counter() - begin, clock.get("model", 0.0)
    windows = {translation.input_modality, translation.output_modality} == {"midi", "audio"}
    for path, item, stem in todo:
        mine = segments.get(str(path), [])
        share = len(mine) / max(sum(len(v) for v in segments.values()), 1)
        begin = time.perf_counter()
        try:
            item.outputs = write_outputs(mine, translation.output_modality, out_dir, stem,
                                         codecs, audio_windows=windows)  # fmt: skip
            item.segments, item.scores = len(mine), [round(s.score, 4) for s in mine]
            item.status = "ok"
            bar.update(1)
        except InputFileError as e:
            _fail(item, e, bar)
        item.seconds = round(item.seconds + share * shared + time.perf_counter() - begin, 3)
        item.model_seconds = round(share * in_model, 3)


def _fail(item: Item, error: InputFileError, bar) -> None:
    item.status, item.error = "failed", str(error)
    bar.write(f"skipped: {error}")
    bar.update(1)


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
