"""A folder of a researcher's paired files as a task source: read once into a TFRecord cache.

When a dataset is first made, every pair that ``pairs.csv`` lists (`tasks.pairs`)
is read with the corpus's readers, its image and audio encoded with the codecs
given (as `mt3u bake` encodes a corpus: the unshifted variant only), and written
as raw examples (`preprocessors.raw.RAW_FEATURES`) to one TFRecord a split under
``<cache root>/<csv name>-<fingerprint>/``. The cache root is the folder's
``.mt3u_cache/`` unless gin binds ``FolderSettings.cache_dir``. The fingerprint
covers the CSV, every listed file's size and modification time, the modalities,
the settings below and the codecs' configs and checkpoints: changing any of them
makes a new cache entry (old entries stay until deleted). Datasets read the
cache with pure TF ops, so nothing stateful runs in the training pipeline.

Without a ``split`` column every pair is in ``train``, and ``validation`` names the
same pairs (in CSV order), so that an evaluation has something to read.
"""

from __future__ import annotations

import dataclasses
import hashlib
import json
import logging
import os
import tempfile
from collections.abc import Callable
from pathlib import Path

import gin
import numpy as np
import tensorflow as tf

from mt3_unified.codecs import baked as baked_format
from mt3_unified.codecs.inputs import CodecInputError
from mt3_unified.codecs.vocabulary_check import check_vocabulary
from mt3_unified.preprocessors.raw import NOTE_PREFIX, RAW_FEATURES
from mt3_unified.tasks.chain import ContinuousInputs
from mt3_unified.tasks.pairs import (
    DEFAULT_SPLIT,
    Pair,
    PairsError,
    read_pairs,
    read_side,
    split_names,
)
from mt3_unified.tasks.sources import Corpus, RawSource, SourceError
from mt3_unified.vocab.layout import CODE_MODALITIES, VocabularyConfig

CACHE_DIR = ".mt3u_cache"
MANIFEST = "manifest.json"  # written last: an entry without it is incomplete
# The split that names every pair's copy when the CSV has no split column.
EVAL_ALIAS = "validation"
# Bumped whenever what a cache record holds changes, so that old entries are not read.
CACHE_FORMAT = 1
# Pixels and samples are stored as the corpus stores them (8-bit gray, 16-bit PCM) and
# scaled on reading as `sources.tfds_to_raw` scales the corpus's.
_STORED_DTYPES = {
    **{name: spec.dtype for name, spec in RAW_FEATURES.items()},
    "image": tf.uint8,
    "audio": tf.int16,
}


@gin.configurable
@dataclasses.dataclass(frozen=True)
class FolderSettings:
    """How a folder is read: ``cache_dir`` (None: ``<folder>/.mt3u_cache``) and the height
    that score images are resized to (the corpus's 128 px; codes are taken at the image
    codec's own height). Audio is read at ``ContinuousInputs.sample_rate``."""

    cache_dir: str | None = None
    image_height: int = 128


@dataclasses.dataclass(frozen=True)
class CacheEntry:
    """A materialized folder: its directory and the examples of each split."""

    folder: Path
    counts: dict[str, int]

    def file(self, split: str) -> str:
        return str(self.folder / f"{split}.tfrecord")


def _codec_identity(workdir: str) -> dict:
    """What decides a codec's codes: its saved config and the checkpoints present."""
    from mt3_unified.codecs.loading import CONFIG_FILE
    from mt3_unified.runtime.checkpoints import checkpoint_dir

    config = Path(workdir, CONFIG_FILE)
    steps = (
        sorted(os.listdir(checkpoint_dir(workdir)))
        if os.path.isdir(checkpoint_dir(workdir))
        else []
    )
    return {
        "workdir": os.path.abspath(workdir),
        "config": config.read_text(encoding="utf-8") if config.is_file() else None,
        "checkpoints": steps,
    }


def _stat(path: Path) -> list:
    info = path.stat()
    return [str(path), info.st_size, info.st_mtime_ns]


class FolderSource(RawSource):
    """Raw examples of the pairs a CSV lists (module docstring); one variant a unit.

    ``codecs`` maps "image"/"audio" to codec workdirs; ``continuous_input(modality)``
    says (from gin, when a dataset is made) whether an input is read as continuous
    frames, which needs no codec.
    """

    def __init__(
        self,
        csv_path: Path,
        input_modality: str,
        output_modality: str,
        codecs: dict[str, str],
        continuous_input: Callable[[str], bool],
    ):
        super().__init__(Corpus(str(csv_path), splits=()))
        self.csv_path = Path(csv_path)
        self.input_modality, self.output_modality = input_modality, output_modality
        self.codecs = {m: os.path.abspath(w) for m, w in codecs.items() if w}
        self._continuous_input = continuous_input
        self._entries: dict[str, CacheEntry] = {}

    # ------------------------------------------------------------ what the chain asks
    @property
    def splits(self) -> tuple[str, ...]:
        names = split_names(self.csv_path)
        return (DEFAULT_SPLIT, EVAL_ALIAS) if names == (DEFAULT_SPLIT,) else names

    def num_variants(self) -> int:
        return 1

    def _where(self) -> str:
        return str(self._entry_dir(self._fingerprint(self._pairs())))

    def _count(self, split: str) -> int:
        return self.materialize().counts[self._stored_split(split)]

    def _read(self, split, shuffle, seed, shard_info) -> tf.data.Dataset:
        del shuffle, seed  # one file a split: the Task's shuffle buffer mixes the records
        self._check_codecs()
        entry = self.materialize()
        if self.codecs:
            check_vocabulary(VocabularyConfig(), str(entry.folder))
        ds = tf.data.TFRecordDataset(entry.file(self._stored_split(split)))
        if shard_info is not None and shard_info.num_shards > 1:
            ds = ds.shard(shard_info.num_shards, shard_info.index)
        return ds.map(parse_record, num_parallel_calls=tf.data.AUTOTUNE)

    def _stored_split(self, split: str) -> str:
        """The cache file a split reads: ``validation`` is ``train`` without a split column."""
        unsplit = split_names(self.csv_path) == (DEFAULT_SPLIT,)
        return DEFAULT_SPLIT if split == EVAL_ALIAS and unsplit else split

    def needs_codec(self, modality: str) -> bool:
        """Whether the task reads ``modality`` as codes under the current gin config: an
        image or audio output always, an input unless it is continuous."""
        if modality not in CODE_MODALITIES:
            return False
        if modality == self.output_modality:
            return True
        return modality == self.input_modality and not self._continuous_input(modality)

    def _check_codecs(self) -> None:
        for modality in (self.input_modality, self.output_modality):
            if self.needs_codec(modality) and modality not in self.codecs:
                alternative = (
                    f", or list {modality!r} in ContinuousInputs.modalities (gin)"
                    if modality == self.input_modality
                    else ""
                )
                raise SourceError(
                    f"{self.csv_path}: {self.input_modality} -> {self.output_modality} reads "
                    f"{modality} codes, but no {modality} codec was given: pass "
                    f"{modality}_codec=<codec workdir> to register_translation_task{alternative}"
                )

    # ------------------------------------------------------------ the cache
    def _pairs(self) -> list[Pair]:
        return read_pairs(self.csv_path, self.input_modality, self.output_modality)

    def _settings(self) -> dict:
        return {
            "image_height": FolderSettings().image_height,
            "sample_rate": ContinuousInputs().sample_rate,
        }

    def _fingerprint(self, pairs: list[Pair]) -> str:
        described = {
            "format": CACHE_FORMAT,
            "csv": _stat(self.csv_path),
            "csv_sha256": hashlib.sha256(self.csv_path.read_bytes()).hexdigest(),
            "files": [_stat(path) for pair in pairs for path in (pair.input, pair.output)],
            "modalities": [self.input_modality, self.output_modality],
            "settings": self._settings(),
            "codecs": {m: _codec_identity(w) for m, w in sorted(self.codecs.items())},
        }
        text = json.dumps(described, sort_keys=True)
        return hashlib.sha256(text.encode("utf-8")).hexdigest()[:16]

    def _entry_dir(self, fingerprint: str) -> Path:
        root = FolderSettings().cache_dir
        root = Path(root) if root else self.csv_path.parent / CACHE_DIR
        return root / f"{self.csv_path.stem}-{fingerprint}"

    def materialize(self) -> CacheEntry:
        """The cache entry of the folder as it is now, written first if it is missing."""
        pairs = self._pairs()
        folder = self._entry_dir(self._fingerprint(pairs))
        if str(folder) in self._entries:
            return self._entries[str(folder)]
        manifest = folder / MANIFEST
        if not manifest.is_file():
            self._write(folder, pairs)
        counts = json.loads(manifest.read_text(encoding="utf-8"))["counts"]
        self._entries[str(folder)] = CacheEntry(folder, counts)
        return self._entries[str(folder)]

    def _write(self, folder: Path, pairs: list[Pair]) -> None:
        from mt3_unified.codecs.loading import load_code_encoder

        logging.info("reading %d pairs of %s into %s", len(pairs), self.csv_path, folder)
        folder.mkdir(parents=True, exist_ok=True)
        sides = (self.input_modality, self.output_modality)
        encoders = {m: load_code_encoder(w) for m, w in self.codecs.items() if m in sides}
        counts = {}
        for split in dict.fromkeys(pair.split for pair in pairs):
            records = (
                serialize_raw(self._raw_example(pair, encoders))
                for pair in pairs
                if pair.split == split
            )
            counts[split] = _write_atomic(folder / f"{split}.tfrecord", records)
        if encoders:
            baked_format.write_codec_descriptions(
                str(folder),
                {
                    m: baked_format.codec_description(e.model.config, e.source)
                    for m, e in encoders.items()
                },
            )
        manifest = {"csv": str(self.csv_path), "modalities": list(sides), "counts": counts}
        _write_atomic_text(folder / MANIFEST, json.dumps(manifest, indent=2))

    def _raw_example(self, pair: Pair, encoders: dict) -> dict[str, np.ndarray]:
        """One pair as a raw example (numpy; pixels uint8, samples int16, as stored)."""
        raw = empty_raw_numpy()
        raw["piece_id"] = np.asarray(pair.piece_id(self.csv_path.parent).encode("utf-8"))
        settings = self._settings()
        for column, modality in (("input", self.input_modality), ("output", self.output_modality)):
            value = read_side(pair, column, modality, self.csv_path, **settings)
            if modality == "lmx":
                raw["lmx"] = np.asarray(value.encode("utf-8"))
            elif modality == "midi":
                for field, array in value.items():
                    raw[NOTE_PREFIX + field] = array.astype(
                        _STORED_DTYPES[NOTE_PREFIX + field].as_numpy_dtype
                    )
            elif modality == "image":
                raw["image"] = value
            else:
                raw["audio"] = value
                raw["sample_rate"] = np.int32(settings["sample_rate"])
            if modality in encoders:
                self._encode(raw, modality, encoders[modality], pair, column)
        return raw

    def _encode(self, raw: dict, modality: str, encoder, pair: Pair, column: str) -> None:
        """Codes of the side as `mt3u bake` makes them (its unshifted variant)."""
        path = getattr(pair, column)
        try:
            if modality == "image":
                raw["image_codes"] = encoder(encoder.prepare(raw["image"], str(path)))[0]
            else:
                prepared = encoder.prepare(raw["audio"], int(raw["sample_rate"]), str(path))
                raw["audio_codes"] = encoder(prepared)
                config = encoder.model.config
                raw["audio_frame_rate"] = np.float32(config.sample_rate / config.hop)
        except CodecInputError as e:
            where = f"{self.csv_path.name} line {pair.line}, {column}"
            raise PairsError(path, f"{e.problem} ({where})") from e


# ---------------------------------------------------------------- records
def empty_raw_numpy() -> dict[str, np.ndarray]:
    """A raw example holding nothing, in numpy and in the dtypes the cache stores."""
    out = {}
    for name, spec in RAW_FEATURES.items():
        dtype = _STORED_DTYPES[name]
        shape = [0 if d is None else d for d in spec.shape]
        out[name] = np.asarray(b"") if dtype == tf.string else np.zeros(shape, dtype.as_numpy_dtype)
    return out


def serialize_raw(raw: dict[str, np.ndarray]) -> bytes:
    """A tf.train.Example holding each feature as a serialized TensorProto."""
    feature = {
        name: tf.train.Feature(
            bytes_list=tf.train.BytesList(
                value=[tf.make_tensor_proto(np.asarray(raw[name])).SerializeToString()]
            )
        )
        for name in RAW_FEATURES
    }
    return tf.train.Example(features=tf.train.Features(feature=feature)).SerializeToString()


_RECORD_SPEC = {name: tf.io.FixedLenFeature([], tf.string) for name in RAW_FEATURES}


def parse_record(serialized: tf.Tensor) -> dict[str, tf.Tensor]:
    """A cache record as a raw example: pixels to [0, 1], samples to [-1, 1] (pure TF)."""
    fields = tf.io.parse_single_example(serialized, _RECORD_SPEC)
    raw = {name: tf.io.parse_tensor(fields[name], _STORED_DTYPES[name]) for name in RAW_FEATURES}
    raw["image"] = tf.cast(raw["image"], tf.float32) / 255.0
    raw["audio"] = tf.cast(raw["audio"], tf.float32) / 32768.0
    return {name: tf.ensure_shape(raw[name], spec.shape) for name, spec in RAW_FEATURES.items()}


def _write_atomic(path: Path, records) -> int:
    """Writes records to a temporary file beside ``path``, then renames it into place, so
    that a reader (another process) never sees half a file; returns how many."""
    handle, temporary = tempfile.mkstemp(dir=path.parent, prefix=path.name, suffix=".tmp")
    os.close(handle)
    count = 0
    try:
        with tf.io.TFRecordWriter(temporary) as writer:
            for record in records:
                writer.write(record)
                count += 1
        os.replace(temporary, path)
    finally:
        if os.path.exists(temporary):
            os.remove(temporary)
    return count


def _write_atomic_text(path: Path, text: str) -> None:
    handle, temporary = tempfile.mkstemp(dir=path.parent, prefix=path.name, suffix=".tmp")
    with os.fdopen(handle, "w", encoding="utf-8") as f:
        f.write(text)
    os.replace(temporary, path)
