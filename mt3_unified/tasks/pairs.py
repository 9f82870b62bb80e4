"""A researcher's folder of paired files: its ``pairs.csv``, each file read as the corpus reads it.

``pairs.csv`` has a header with the columns ``input`` and ``output`` (paths
relative to the CSV) and optionally ``split`` (any names; without the column
every pair is in ``train``) and ``part`` (the part id to linearize when the
MusicXML side has several parts). What each side holds follows its modality
(`EXTENSIONS`): a score image, MusicXML (or LMX tokens), MIDI, or audio. Every
problem is a PairsError naming the file and its CSV line.
"""

from __future__ import annotations

import csv
import dataclasses
import io
import os
from pathlib import Path

import numpy as np

from mt3_unified.errors import InputFileError

PAIRS_FILE = "pairs.csv"
COLUMNS = ("input", "output")
OPTIONAL_COLUMNS = ("split", "part")
# The split of every pair when the CSV has no `split` column.
DEFAULT_SPLIT = "train"
# File suffixes each modality's side may have (lower case).
EXTENSIONS = {
    "image": (".png", ".jpg", ".jpeg"),
    "lmx": (".musicxml", ".xml", ".mxl", ".lmx"),
    "midi": (".mid", ".midi"),
    "audio": (".wav", ".flac", ".ogg"),
}


class PairsError(InputFileError):
    """A pairs CSV, or a file it lists, that cannot be used; the message names the file."""


@dataclasses.dataclass(frozen=True)
class Pair:
    """One row of ``pairs.csv``: absolute paths of its two files, its split and part."""

    line: int  # the CSV's line number (the header is line 1)
    input: Path
    output: Path
    split: str
    part: str | None

    def piece_id(self, root: Path) -> str:
        """The pair's name in examples (for stitching and seeded choices): its input path
        relative to the CSV's folder, ``#`` and its CSV line (inputs may repeat)."""
        return f"{Path(os.path.relpath(self.input, root)).as_posix()}#{self.line}"


def pairs_csv(source: str | os.PathLike) -> Path:
    """The CSV of a source: ``<folder>/pairs.csv`` for a folder, else the path itself."""
    path = Path(source).expanduser().absolute()
    return path / PAIRS_FILE if path.is_dir() or not path.suffix else path


def _where(csv_path: Path, line: int, column: str) -> str:
    return f"{csv_path.name} line {line}, {column}"


def read_pairs(csv_path: Path, input_modality: str, output_modality: str) -> list[Pair]:
    """The rows of ``csv_path`` as Pairs, in file order, after checking the header, every
    file's suffix and that every file exists (all missing files named in one error)."""
    try:
        text = csv_path.read_text(encoding="utf-8-sig")
    except OSError as e:
        raise PairsError(csv_path, f"cannot read the pairs CSV ({e.strerror or e})") from e
    reader = csv.DictReader(io.StringIO(text))
    header = [name.strip() for name in reader.fieldnames or []]
    missing = [name for name in COLUMNS if name not in header]
    unknown = [name for name in header if name not in COLUMNS + OPTIONAL_COLUMNS]
    if missing or unknown:
        raise PairsError(
            csv_path,
            f"header has {header}; it needs {list(COLUMNS)} and may have {list(OPTIONAL_COLUMNS)}",
        )
    reader.fieldnames = header
    root = csv_path.parent
    pairs, absent = [], []
    for row in reader:
        line = reader.line_num
        values = {k: (v or "").strip() for k, v in row.items() if k is not None}
        paths = {}
        for column, modality in (("input", input_modality), ("output", output_modality)):
            if not values[column]:
                raise PairsError(csv_path, f"line {line}: the {column} column is empty")
            path = (root / values[column]).absolute()
            if path.suffix.lower() not in EXTENSIONS[modality]:
                raise PairsError(
                    path,
                    f"{modality} files end in {', '.join(EXTENSIONS[modality])} "
                    f"({_where(csv_path, line, column)})",
                )
            if not path.is_file():
                absent.append((path, _where(csv_path, line, column)))
            paths[column] = path
        part = values.get("part") or None
        if part is not None and "lmx" not in (input_modality, output_modality):
            raise PairsError(csv_path, f"line {line}: `part` applies to MusicXML sides only")
        split = values.get("split") or DEFAULT_SPLIT
        pairs.append(Pair(line, paths["input"], paths["output"], split, part))
    if absent:
        (first, where), *others = absent
        also = "".join(f"; also missing: {path} ({at})" for path, at in others)
        raise PairsError(first, f"no such file ({where}){also}")
    if not pairs:
        raise PairsError(csv_path, "lists no pairs")
    return pairs


def split_names(csv_path: Path) -> tuple[str, ...]:
    """The splits of a pairs CSV in order of first appearance (reads only the CSV)."""
    try:
        with open(csv_path, encoding="utf-8-sig", newline="") as f:
            reader = csv.DictReader(f)
            if "split" not in [name.strip() for name in reader.fieldnames or []]:
                return (DEFAULT_SPLIT,)
            reader.fieldnames = [name.strip() for name in reader.fieldnames]
            names = [(row.get("split") or "").strip() or DEFAULT_SPLIT for row in reader]
    except OSError as e:
        raise PairsError(csv_path, f"cannot read the pairs CSV ({e.strerror or e})") from e
    return tuple(dict.fromkeys(names)) or (DEFAULT_SPLIT,)


# ---------------------------------------------------------------- one side of a pair
def read_lmx(path: Path, part: str | None) -> str:
    """LMX tokens, space-joined, of a MusicXML file's part (or of an ``.lmx`` token file)."""
    from mt3_unified.vocab.lmx import musicxml_to_lmx

    if path.suffix.lower() == ".lmx":
        return " ".join(path.read_text(encoding="utf-8").split())
    try:
        return " ".join(musicxml_to_lmx(path, part))
    except InputFileError as e:
        if "choose one" in e.problem:  # several parts: say how to choose in the CSV
            raise PairsError(path, f"{e.problem}; name it in a `part` column") from e
        raise


def read_notes(path: Path) -> dict[str, np.ndarray]:
    """The performed notes of a MIDI file (sustain applied), as the corpus builders read them."""
    from mt3_unified.corpus.builders.common import notes_from_midi

    return notes_from_midi(path)


def read_image(path: Path, height: int) -> np.ndarray:
    """uint8 [height, W] gray (255 white): the image composited on white paper
    (`codecs.inputs.image_to_array`), then resized and padded as the corpus builders do
    (`corpus.builders.common.png_of_height`)."""
    from PIL import Image

    from mt3_unified.codecs.inputs import image_to_array
    from mt3_unified.corpus.builders.common import png_of_height

    gray = image_to_array(path)  # refuses unreadable or empty images, naming the file
    buffer = io.BytesIO()
    Image.fromarray(np.round(gray * 255.0).astype(np.uint8)).save(buffer, format="PNG")
    with Image.open(io.BytesIO(png_of_height(buffer, height))) as resized:
        return np.asarray(resized.convert("L"), np.uint8)


def read_samples(path: Path, sample_rate: int) -> np.ndarray:
    """Mono int16 samples at ``sample_rate`` (`corpus.builders.common.read_audio`)."""
    import soundfile as sf

    from mt3_unified.corpus.builders.common import read_audio

    try:
        samples = read_audio(path, sample_rate)
    except (sf.LibsndfileError, RuntimeError, OSError, ValueError) as e:
        raise PairsError(path, f"cannot read the audio: {e}") from e
    if samples.size == 0:
        raise PairsError(path, "audio holds no samples")
    return samples


def read_side(pair: Pair, column: str, modality: str, csv_path: Path, **settings):
    """What one side of a pair holds, read with the corpus's own readers: LMX text, note
    arrays, uint8 pixels or int16 samples. Errors name the file and its CSV line.

    ``settings``: ``image_height`` and ``sample_rate``.
    """
    path = getattr(pair, column)
    try:
        if modality == "lmx":
            return read_lmx(path, pair.part)
        if modality == "midi":
            return read_notes(path)
        if modality == "image":
            return read_image(path, settings["image_height"])
        return read_samples(path, settings["sample_rate"])
    except InputFileError as e:
        where = _where(csv_path, pair.line, column)
        raise PairsError(e.source, f"{e.problem} ({where})") from e
    except OSError as e:  # a file that vanished or cannot be opened since it was listed
        where = _where(csv_path, pair.line, column)
        raise PairsError(path, f"cannot read the file ({e.strerror or e}) ({where})") from e
