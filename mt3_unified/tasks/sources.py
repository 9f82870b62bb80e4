"""Where tasks read their examples: a TFDS corpus or a baked one, both yielding raw examples.

Every source yields `preprocessors.raw.RAW_FEATURES` and nothing else, so one
preprocessor chain serves them all. A TFDS source fills what its corpus holds
(pixels, samples, LMX, notes); a baked source fills codes and what the bake
passed on (LMX, notes, piece ids). Paths come from gin (`DataPaths`) and are
read when a dataset is made, never at import, so registering a task needs no data.
"""

from __future__ import annotations

import dataclasses
import functools
import os
from collections.abc import Mapping, Sequence

import gin
import numpy as np
import seqio
import tensorflow as tf

from mt3_unified.codecs import baked as baked_format
from mt3_unified.codecs.inputs import CodecInputError, image_to_array
from mt3_unified.codecs.vocabulary_check import check_image_rows, check_vocabulary
from mt3_unified.corpus.notes import NOTE_DTYPES
from mt3_unified.errors import Mt3UnifiedError
from mt3_unified.model.config import ModelConfig
from mt3_unified.preprocessors.raw import NOTE_PREFIX, RAW_FEATURES, empty_raw_example
from mt3_unified.vocab.unified import CODE_MODALITIES, VocabularyConfig

DEFAULT_SPLITS = ("train", "validation", "test")
# Corpus features that name the unit's piece or recording, in order of preference.
PIECE_ID_FEATURES = ("piece_id", "id", "video_id", "sample_id")
# The features, in a TFDS example or a baked record alike, that name a unit.
_KEY_FEATURES = frozenset({*PIECE_ID_FEATURES, "system_index", "start_time"})
# The project's TFDS builders; importing a module registers its builder with TFDS.
BUILDER_MODULES = ("synthetic_scores", "olimpic", "maestro", "musicnet_em", "bpsd", "ytsv")


class SourceError(Mt3UnifiedError, ValueError):
    """A source that cannot be read: a missing baked directory, an unknown split."""


@gin.configurable
@dataclasses.dataclass(frozen=True)
class DataPaths:
    """Where built TFDS corpora (``data_dir``) and baked code records (``baked_dir``) live.

    A baked corpus named ``synthetic_scores/tiny`` is read from
    ``<baked_dir>/synthetic_scores/tiny/<split>.tfrecord``.
    """

    data_dir: str = "data"
    baked_dir: str = "data/baked"


@dataclasses.dataclass(frozen=True)
class Corpus:
    """A corpus tasks read: its TFDS name, its splits, and the name of its bake."""

    tfds_name: str  # "synthetic_scores/tiny", "maestro_v3/16k", ...
    splits: tuple[str, ...] = DEFAULT_SPLITS
    baked_name: str | None = None  # default: the TFDS name

    @property
    def bake(self) -> str:
        return self.baked_name or self.tfds_name


def baked_dir_of(corpus: Corpus, paths: DataPaths | None = None) -> str:
    """The folder holding a corpus's baked records (``<baked_dir>/<bake name>``)."""
    paths = paths or DataPaths()
    return os.path.join(paths.baked_dir, corpus.bake)


def _register_builders() -> None:
    import importlib

    for name in BUILDER_MODULES:
        importlib.import_module(f"mt3_unified.corpus.builders.{name}")


class RawSource(seqio.DataSource):
    """A seqio DataSource of raw examples; the corpus is opened only when a dataset is made."""

    def __init__(self, corpus: Corpus):
        super().__init__(splits=corpus.splits)
        self.corpus = corpus
        self._counts: dict[tuple[str, str], int] = {}

    @property
    def supports_arbitrary_sharding(self) -> bool:
        return True

    def list_shards(self, split: str) -> Sequence[str]:
        return [split]

    @property
    def output_features(self) -> Mapping[str, tf.TensorSpec]:
        return RAW_FEATURES

    def num_input_examples(self, split: str) -> int:
        """Examples of a split (for mixing rates by example count); counted once per place."""
        key = (self._where(), split)
        if key not in self._counts:
            self._counts[key] = self._count(split)
        return self._counts[key]

    def _where(self) -> str:
        """Where the corpus is read from under the current gin config (keys the counts)."""
        raise NotImplementedError

    def get_dataset(
        self,
        split: str = "train",
        shuffle: bool = True,
        seed: int | None = None,
        shard_info: seqio.ShardInfo | None = None,
        *,
        sequence_length=None,
        use_cached: bool = False,
        num_epochs: int | None = 1,
    ) -> tf.data.Dataset:
        del sequence_length, use_cached  # segments are cut by the preprocessors
        if split not in self.splits:
            raise SourceError(
                f"{self.corpus.tfds_name} has no split {split!r}; it has {self.splits}"
            )
        ds = self._read(split, shuffle, seed, shard_info)
        return ds.repeat(num_epochs) if num_epochs != 1 else ds

    def _read(self, split, shuffle, seed, shard_info) -> tf.data.Dataset:
        raise NotImplementedError

    def _count(self, split: str) -> int:
        raise NotImplementedError


# ---------------------------------------------------------------- TFDS corpora
class TfdsRawSource(RawSource):
    """A built TFDS corpus (``DataPaths.data_dir``) as raw examples: pixels, samples, LMX, notes."""

    def _builder(self):
        import tensorflow_datasets as tfds

        _register_builders()
        return tfds.builder(self.corpus.tfds_name, data_dir=DataPaths().data_dir)

    def _where(self) -> str:
        return os.path.join(DataPaths().data_dir, self.corpus.tfds_name)

    def _count(self, split: str) -> int:
        return int(self._builder().info.splits[split].num_examples)

    def _as_dataset(self, builder, split, shuffle: bool, seed=None) -> tf.data.Dataset:
        """The split's examples as TFDS decodes them, but images left as their PNG/JPEG
        bytes: TFDS's own decoder raises on bytes that do not decode, which would end the
        pipeline, where `decode_image_or_empty` yields [0, 0]."""
        import tensorflow_datasets as tfds

        decoders = (
            {"image": tfds.decode.SkipDecoding()} if "image" in builder.info.features else None
        )
        return builder.as_dataset(
            split=split,
            shuffle_files=shuffle,
            read_config=tfds.ReadConfig(shuffle_seed=seed),
            decoders=decoders,
        )

    def _read(self, split, shuffle, seed, shard_info) -> tf.data.Dataset:
        import tensorflow_datasets as tfds

        builder = self._builder()
        if shard_info is not None and shard_info.num_shards > 1:
            # Even record ranges: shards together hold every example once, whatever
            # the number of files (a tiny corpus has one file a split).
            split = tfds.even_splits(split, shard_info.num_shards)[shard_info.index]
        ds = self._as_dataset(builder, split, shuffle, seed)
        return ds.map(tfds_to_raw, num_parallel_calls=tf.data.AUTOTUNE)

    def unit_inputs(self, split: str, modality: str) -> dict[str, object]:
        """{`unit_key`: input} of a split's every unit: an image's PNG/JPEG bytes, or audio's
        (int16 samples, sample rate); `JoinedRawSource` attaches them to baked records."""
        builder = self._builder()
        if modality not in builder.info.features:
            raise SourceError(f"{self.corpus.tfds_name} holds no {modality}")

        def keyed(example):
            if modality == "image":
                return record_key(example), example["image"], tf.zeros([], tf.int32)
            rate = tf.cast(example["sample_rate"], tf.int32)
            return record_key(example), tf.cast(example["audio"], tf.int16), rate

        found = {}
        ds = self._as_dataset(builder, split, shuffle=False)
        for key, data, rate in ds.map(keyed).as_numpy_iterator():
            found[key.decode()] = data if modality == "image" else (data, np.int32(rate))
        return found


def unit_fields(features: Mapping[str, tf.Tensor]) -> dict[str, tf.Tensor]:
    """The raw fields that name a unit (piece id, unit index, start time), from a TFDS
    example's or a parsed baked record's features; those it lacks are left out."""
    fields = {}
    piece = next((name for name in PIECE_ID_FEATURES if name in features), None)
    if piece is not None:
        fields["piece_id"] = features[piece]
    if "system_index" in features:
        fields["unit_index"] = tf.cast(features["system_index"], tf.int32)
    if "start_time" in features:
        fields["start_time"] = tf.cast(features["start_time"], tf.float32)
    return fields


def tfds_to_raw(example: Mapping[str, tf.Tensor]) -> dict[str, tf.Tensor]:
    """A decoded corpus example as a raw example: what the corpus has, the rest left empty."""
    raw = {**empty_raw_example(), **unit_fields(example)}
    if "lmx" in example:
        raw["lmx"] = example["lmx"]
    for field in NOTE_DTYPES:
        notes = example.get("notes", {})
        if field in notes:
            raw[NOTE_PREFIX + field] = tf.cast(
                notes[field], RAW_FEATURES[NOTE_PREFIX + field].dtype
            )
    if "image" in example:
        if example["image"].dtype == tf.string:
            raw["image"] = decode_image_or_empty(example["image"])
        else:  # decoded by TFDS: uint8 [H, W, 1] with 255 white
            raw["image"] = tf.cast(example["image"][..., 0], tf.float32) / 255.0
    if "audio" in example:
        # int16 PCM, scaled as codecs.inputs.audio_to_array does.
        raw["audio"] = tf.cast(example["audio"], tf.float32) / 32768.0
        raw["sample_rate"] = tf.cast(example["sample_rate"], tf.int32)
    return raw


def _gray_or_empty(data: bytes) -> np.ndarray:
    try:
        return image_to_array(bytes(data))
    except CodecInputError:
        return np.zeros((0, 0), np.float32)


def decode_image_or_empty(data: tf.Tensor) -> tf.Tensor:
    """PNG/JPEG bytes as gray float32 [H, W] in [0, 1] (1 white), read as the codecs read
    images (`codecs.inputs.image_to_array`); bytes that do not decode give an empty [0, 0]
    image, which validation drops as "image_empty" instead of the pipeline raising.

    Pre-cache only: it calls Python (tf.numpy_function), as tokenizing does.
    """
    image = tf.numpy_function(_gray_or_empty, [data], tf.float32, stateful=False)
    return tf.ensure_shape(image, [None, None])


# ---------------------------------------------------------------- baked corpora
class BakedRawSource(RawSource):
    """A baked corpus (``<baked_dir>/<name>/<split>.tfrecord``) as raw examples holding codes.

    Before any record is read the codebooks of the codecs that baked it
    (``codecs.json``) are checked against the vocabulary's (``VocabularyConfig()``
    as gin binds it), and so are the image grid's rows where the model embeds them
    (``ModelConfig.image_rows``): a mismatch is a CodebookMismatchError naming both.
    """

    def _where(self) -> str:
        return baked_dir_of(self.corpus)

    def _dir(self) -> str:
        folder = baked_dir_of(self.corpus)
        if not os.path.isfile(os.path.join(folder, baked_format.CODECS_FILE)):
            raise SourceError(
                f"no baked corpus at {folder} (no {baked_format.CODECS_FILE}); bake "
                f"{self.corpus.tfds_name} with `mt3u bake --output-dir {folder}` or set "
                "DataPaths.baked_dir"
            )
        return folder

    def _file(self, split: str) -> str:
        path = os.path.join(self._dir(), f"{split}.tfrecord")
        if not os.path.isfile(path):
            raise SourceError(f"baked corpus {self._dir()} has no {split}.tfrecord")
        return path

    def _count(self, split: str) -> int:
        # One record a (unit, variant): count the units by their unshifted records.
        spec = {"variant": baked_format.CODE_FEATURES["variant"]}
        ds = tf.data.TFRecordDataset(self._file(split))
        variants = ds.map(lambda s: baked_format.parse_baked(s, spec)["variant"])
        return int(variants.reduce(np.int64(0), lambda n, v: n + tf.cast(v == 0, tf.int64)))

    def num_variants(self) -> int:
        """Shift variants a unit has: those of the first unit of the first split present (the
        bake writes a unit's variants 0, 1, ... in a row, as many for every unit)."""
        folder = self._dir()
        files = [os.path.join(folder, f"{s}.tfrecord") for s in self.splits]
        present = [f for f in files if os.path.isfile(f)]
        if not present:
            raise SourceError(
                f"baked corpus {folder} has none of {[*map(os.path.basename, files)]}"
            )
        spec = {"variant": baked_format.CODE_FEATURES["variant"]}
        ds = tf.data.TFRecordDataset(present[0]).take(64)
        found = [int(baked_format.parse_baked(s, spec)["variant"]) for s in ds]
        if not found:
            raise SourceError(f"{present[0]} holds no records")
        count = 1
        while count < len(found) and found[count] == count:
            count += 1
        return count

    def _read(self, split, shuffle, seed, shard_info) -> tf.data.Dataset:
        del shuffle, seed  # one file a split: the Task's shuffle buffer mixes the records
        folder = self._dir()
        check_vocabulary(VocabularyConfig(), folder)
        codecs = baked_format.read_codec_descriptions(folder)
        check_image_rows(ModelConfig().image_rows, codecs, folder)
        frame_rate = float(codecs.get("audio", {}).get("frame_rate", 0.0))
        spec = baked_format.read_feature_spec(folder)
        wanted = {name: feature for name, feature in spec.items() if name in _BAKED_READ}
        ds = tf.data.TFRecordDataset(self._file(split))
        if shard_info is not None and shard_info.num_shards > 1:
            # By unit, not by record: a unit's variants lie in a row and must stay together,
            # or a shard could hold no unshifted record of a unit.
            variants = self.num_variants()
            shards, index = shard_info.num_shards, shard_info.index
            ds = ds.enumerate().filter(lambda i, _: (i // variants) % shards == index)
            ds = ds.map(lambda _, record: record)
        parse = functools.partial(_baked_to_raw, spec=wanted, audio_frame_rate=frame_rate)
        return ds.map(parse, num_parallel_calls=tf.data.AUTOTUNE)


# What a raw example takes from a baked record; the bake's other features are not parsed.
_BAKED_READ = frozenset(
    {*PIECE_ID_FEATURES, "system_index", "start_time", "lmx", "variant"}
    | {f"{m}_codes" for m in CODE_MODALITIES}
    | {NOTE_PREFIX + field for field in NOTE_DTYPES}
)


def _baked_to_raw(serialized, spec, audio_frame_rate: float) -> dict[str, tf.Tensor]:
    parsed = baked_format.parse_baked(serialized, spec)
    raw = {**empty_raw_example(), **unit_fields(parsed)}
    for name, value in parsed.items():
        if name in raw and name not in _KEY_FEATURES:
            raw[name] = tf.cast(value, RAW_FEATURES[name].dtype)
    if "audio_codes" in parsed:
        raw["audio_frame_rate"] = tf.constant(audio_frame_rate, tf.float32)
    return raw


# ---------------------------------------------------------------- joined corpora
def unit_key(raw: Mapping[str, tf.Tensor]) -> tf.Tensor:
    """A raw example's unit as one string (piece, unit index, start time): what a bake keeps
    of its TFDS example, so that a baked record finds the example it was baked from."""
    return tf.strings.join(
        [
            raw["piece_id"],
            tf.strings.as_string(raw["unit_index"]),
            tf.strings.as_string(raw["start_time"], precision=4),
        ],
        separator="|",
    )


def record_key(features: Mapping[str, tf.Tensor]) -> tf.Tensor:
    """The `unit_key` of a TFDS example or a parsed baked record, from the features that name
    its unit alone (read as `tfds_to_raw` and `_baked_to_raw` read them; absent: empty)."""
    return unit_key({**empty_raw_example(), **unit_fields(features)})


class JoinedRawSource(RawSource):
    """Baked records with their unit's raw input from the TFDS corpus: the output's codes
    from the bake, the input's pixels or samples (which the bake drops) from TFDS.

    It serves tasks whose input is read as continuous frames and whose output is codes
    (audio -> image on log-mel, image -> audio on pixel patches). The split's inputs are
    held in memory, as PNG bytes or int16 samples, and found by `unit_key`; a baked unit
    missing from the TFDS corpus (a corpus rebuilt since the bake) is an error naming it.
    """

    def __init__(
        self,
        corpus: Corpus,
        input_modality: str,
        baked: BakedRawSource | None = None,
        tfds: TfdsRawSource | None = None,
    ):
        if input_modality not in CODE_MODALITIES:
            raise SourceError(f"only image or audio inputs are joined, not {input_modality}")
        super().__init__(corpus)
        self.input_modality = input_modality
        # A task's own two sources when it has them: one count cache each, not two.
        self._baked = baked or BakedRawSource(corpus)
        self._tfds = tfds or TfdsRawSource(corpus)
        self._baked_keys: dict[tuple[str, float], frozenset[str]] = {}

    def _where(self) -> str:
        return self._baked._where()

    def _count(self, split: str) -> int:
        return self._baked._count(split)

    def num_variants(self) -> int:
        return self._baked.num_variants()

    def _read(self, split, shuffle, seed, shard_info) -> tf.data.Dataset:
        inputs = self._tfds.unit_inputs(split, self.input_modality)
        self._check_units(split, inputs)
        attach = functools.partial(_attach_input, inputs=inputs, modality=self.input_modality)
        baked = self._baked._read(split, shuffle, seed, shard_info)
        return baked.map(attach, num_parallel_calls=tf.data.AUTOTUNE)

    def _units_baked(self, path: str) -> frozenset[str]:
        """The unit keys of a baked split's file, read once per file as it is on disk."""
        where = (path, os.path.getmtime(path))
        if where not in self._baked_keys:
            spec = baked_format.read_feature_spec(self._baked._dir())
            wanted = {name: feature for name, feature in spec.items() if name in _KEY_FEATURES}
            records = tf.data.TFRecordDataset(path)
            keys = records.map(lambda s: record_key(baked_format.parse_baked(s, wanted)))
            self._baked_keys[where] = frozenset(k.decode() for k in keys.as_numpy_iterator())
        return self._baked_keys[where]

    def _check_units(self, split: str, inputs: Mapping[str, object]) -> None:
        missing = sorted(self._units_baked(self._baked._file(split)) - set(inputs))
        if missing:
            raise SourceError(
                f"{len(missing)} units of the bake {self._baked._file(split)} are not in the "
                f"TFDS corpus {self._tfds._where()} (first: {missing[0]!r}); the corpus was "
                "rebuilt since the bake: bake it again"
            )


def _attach_input(raw, *, inputs, modality: str) -> dict[str, tf.Tensor]:
    """``raw`` with its unit's image or audio from ``inputs`` ({unit_key: input})."""
    raw = dict(raw)
    key = unit_key(raw)
    if modality == "image":
        data = tf.numpy_function(lambda k: inputs[k.decode()], [key], tf.string, stateful=False)
        raw["image"] = decode_image_or_empty(tf.ensure_shape(data, []))
        return raw
    samples, rate = tf.numpy_function(
        lambda k: inputs[k.decode()], [key], [tf.int16, tf.int32], stateful=False
    )
    raw["audio"] = tf.cast(tf.ensure_shape(samples, [None]), tf.float32) / 32768.0
    raw["sample_rate"] = tf.ensure_shape(rate, [])
    return raw


# ---------------------------------------------------------------- one task's source
def source_kind(input_modality: str, output_modality: str, continuous_input: bool) -> str:
    """Which corpus a task reads: "baked" when its output is image or audio codes, or its
    input is and is not read as continuous frames; "joined" (`JoinedRawSource`) when its
    output is codes and its input image or audio read as continuous frames; else (symbolic
    pairs, continuous inputs to symbolic outputs) "tfds"."""
    continuous_code_input = continuous_input and input_modality in CODE_MODALITIES
    if output_modality in CODE_MODALITIES:
        return "joined" if continuous_code_input else "baked"
    return "baked" if input_modality in CODE_MODALITIES and not continuous_input else "tfds"


class TaskSource(RawSource):
    """The source of one (corpus, input, output) task: the baked corpus, the TFDS one or
    the two joined, chosen when a dataset is made (``continuous_input(modality)`` reads
    the gin switch)."""

    def __init__(self, corpus: Corpus, input_modality: str, output_modality: str, continuous_input):
        super().__init__(corpus)
        self.input_modality, self.output_modality = input_modality, output_modality
        self._continuous_input = continuous_input
        self._sources = {
            "baked": BakedRawSource(corpus),
            "tfds": TfdsRawSource(corpus),
        }
        if input_modality in CODE_MODALITIES and output_modality in CODE_MODALITIES:
            self._sources["joined"] = JoinedRawSource(corpus, input_modality, **self._sources)

    @property
    def kind(self) -> str:
        """The corpus the task reads under the current gin config (`source_kind`)."""
        continuous = bool(self._continuous_input(self.input_modality))
        return source_kind(self.input_modality, self.output_modality, continuous)

    @property
    def active(self) -> RawSource:
        return self._sources[self.kind]

    def num_variants(self) -> int:
        """Shift variants a unit has: those of the baked corpus; 1 for a TFDS corpus."""
        return 1 if self.kind == "tfds" else self._sources["baked"].num_variants()

    def _where(self) -> str:
        return self.active._where()

    def num_input_examples(self, split: str) -> int:
        return self.active.num_input_examples(split)

    def _read(self, split, shuffle, seed, shard_info) -> tf.data.Dataset:
        return self.active._read(split, shuffle, seed, shard_info)
