"""The baked-corpus format: one feature spec from which writing, reading and parsing derive.

A directory of baked records holds ``<split>.tfrecord`` files of tf.train.Examples,
and beside them ``features.json`` (the spec of every feature the records hold) and
``codecs.json`` (the codecs that made the codes; see `codec_description`).

Each record keeps the source example's other features (nested ones such as
``notes`` flattened to ``notes/onset``, ...) and adds the features of
`CODE_FEATURES` for the codecs in use: one record a (source example, variant),
variant 0 being the unshifted encoding. Storage: integers (and booleans) as
int64 lists, floats as float32 lists, anything else as bytes; an array of rank
> 0 is stored flat beside an int64 ``<name>_shape`` feature holding its shape.
"""

from __future__ import annotations

import dataclasses
import json
import os
from collections.abc import Iterable, Iterator, Mapping

import numpy as np

from mt3_unified.codecs.audio import AudioCodecConfig
from mt3_unified.codecs.rqvae import RQVAEConfig

SHAPE_SUFFIX = "_shape"
FEATURES_FILE = "features.json"
CODECS_FILE = "codecs.json"
_STORAGE = {"int32": "int64", "int64": "int64", "float32": "float32", "bytes": "bytes"}


@dataclasses.dataclass(frozen=True)
class BakedFeature:
    """How one feature of a baked record is stored and what it means."""

    dtype: str  # what readers give back: int32, int64, float32 or bytes
    rank: int  # 0: a scalar; more: stored flat beside ``<name>_shape``
    meaning: str = ""

    @property
    def storage(self) -> str:
        """The tf.train list that holds the values: int64, float32 or bytes."""
        return _STORAGE[self.dtype]


CODE_FEATURES: dict[str, BakedFeature] = {
    "variant": BakedFeature("int64", 0, "0: the unshifted encoding; 1..: the shifted copies"),
    "image_codes": BakedFeature(
        "int32", 2, "[T, K] image frames in the RQ-VAE's column-major order (columns x rows)"
    ),
    "image_grid_rows": BakedFeature(
        "int64", 0, "rows of the code grid (height / downsampling), to undo the flattening"
    ),
    "image_width": BakedFeature("int64", 0, "pixels across the encoded (resized, shifted) image"),
    "image_shift": BakedFeature(
        "int64", 1, "[2]: (dy, dx) pixels of white added above and left before encoding"
    ),
    "audio_codes": BakedFeature("int32", 2, "[T, K] audio frames, one per hop"),
    "audio_length": BakedFeature("int64", 0, "samples of the encoded (resampled, shifted) audio"),
    "audio_shift": BakedFeature("int64", 0, "samples of silence added before the audio"),
}
IMAGE_CODE_FEATURES = tuple(name for name in CODE_FEATURES if name.startswith("image_"))
AUDIO_CODE_FEATURES = tuple(name for name in CODE_FEATURES if name.startswith("audio_"))


def feature_of(name: str, value) -> BakedFeature:
    """The spec entry of a feature: `CODE_FEATURES`' own, or one read off a passed-on value."""
    if name in CODE_FEATURES:
        return CODE_FEATURES[name]
    array = np.asarray(value)
    dtype = {"i": "int64", "u": "int64", "b": "int64", "f": "float32"}.get(array.dtype.kind)
    return BakedFeature(dtype or "bytes", array.ndim, "passed on from the corpus")


def flatten(features: Mapping, prefix: str = "") -> Iterator[tuple[str, object]]:
    """(``outer/inner`` name, value) pairs of a nested feature dict."""
    for name, value in features.items():
        if isinstance(value, Mapping):
            yield from flatten(value, f"{prefix}{name}/")
        else:
            yield f"{prefix}{name}", value


def spec_of(baked: Mapping) -> dict[str, BakedFeature]:
    """The spec of every feature of one baked example (all records of a bake share it)."""
    return {name: feature_of(name, value) for name, value in flatten(baked)}


def to_tf_example(baked: Mapping):
    """A tf.train.Example of a baked example, stored as the module docstring says."""
    import tensorflow as tf

    feature = {}
    for name, value in flatten(baked):
        spec = feature_of(name, value)
        array = np.asarray(value)
        if array.ndim != spec.rank:
            raise ValueError(f"baked feature {name} has rank {array.ndim}, the spec {spec.rank}")
        flat = array.ravel()
        if spec.storage == "int64":
            ints = tf.train.Int64List(value=flat.astype(np.int64))
            feature[name] = tf.train.Feature(int64_list=ints)
        elif spec.storage == "float32":
            feature[name] = tf.train.Feature(float_list=tf.train.FloatList(value=flat))
        else:
            data = [x if isinstance(x, bytes) else str(x).encode() for x in flat]
            feature[name] = tf.train.Feature(bytes_list=tf.train.BytesList(value=data))
        if spec.rank:
            shape = tf.train.Int64List(value=array.shape)
            feature[name + SHAPE_SUFFIX] = tf.train.Feature(int64_list=shape)
    return tf.train.Example(features=tf.train.Features(feature=feature))


def write_tfrecord(baked: Iterable[Mapping], path: str) -> int:
    """Writes baked examples to one TFRecord file; returns how many were written."""
    import tensorflow as tf

    count = 0
    with tf.io.TFRecordWriter(path) as writer:
        for example in baked:
            writer.write(to_tf_example(example).SerializeToString())
            count += 1
    return count


def read_baked(path: str) -> Iterator[dict]:
    """The examples of a baked TFRecord file as flat numpy dicts (codes int32 [T, K])."""
    import tensorflow as tf

    numpy_dtypes = {"int64": np.int64, "int32": np.int32, "float32": np.float32}
    for record in tf.data.TFRecordDataset(path).as_numpy_iterator():
        fields = tf.train.Example.FromString(record).features.feature
        out = {}
        for name, feature in fields.items():
            if name.endswith(SHAPE_SUFFIX) and name[: -len(SHAPE_SUFFIX)] in fields:
                continue
            kind = feature.WhichOneof("kind")
            storage = {"int64_list": "int64", "float_list": "float32"}.get(kind, "bytes")
            dtype = CODE_FEATURES[name].dtype if name in CODE_FEATURES else storage
            array = np.asarray(getattr(feature, kind).value, numpy_dtypes.get(dtype, object))
            shape_feature = fields.get(name + SHAPE_SUFFIX)
            if shape_feature is None:
                out[name] = array[0] if array.size else array
            else:
                out[name] = array.reshape(tuple(shape_feature.int64_list.value))
        yield out


def parse_baked(serialized, spec: Mapping[str, BakedFeature]) -> dict:
    """A serialized baked record as {name: tf.Tensor} of each spec'd dtype and rank.

    For tf.data: ``dataset.map(lambda s: parse_baked(s, read_feature_spec(baked_dir)))``.
    Features of the record that the spec leaves out are not parsed.
    """
    import tensorflow as tf

    tf_dtypes = {"int64": tf.int64, "int32": tf.int32, "float32": tf.float32, "bytes": tf.string}
    parsing = {}
    for name, feature in spec.items():
        stored = tf_dtypes[feature.storage]
        if feature.rank:
            parsing[name] = tf.io.VarLenFeature(stored)
            parsing[name + SHAPE_SUFFIX] = tf.io.FixedLenFeature([feature.rank], tf.int64)
        else:
            parsing[name] = tf.io.FixedLenFeature([], stored)
    parsed = tf.io.parse_single_example(serialized, parsing)
    out = {}
    for name, feature in spec.items():
        value = parsed[name]
        if feature.rank:
            value = tf.reshape(tf.sparse.to_dense(value), parsed[name + SHAPE_SUFFIX])
        out[name] = tf.cast(value, tf_dtypes[feature.dtype]) if feature.dtype == "int32" else value
    return out


def write_feature_spec(baked_dir: str, spec: Mapping[str, BakedFeature]) -> str:
    """Writes ``features.json`` ({name: {dtype, rank, meaning}}); returns its path."""
    path = os.path.join(baked_dir, FEATURES_FILE)
    entries = {name: dataclasses.asdict(feature) for name, feature in sorted(spec.items())}
    with open(path, "w", encoding="utf-8") as f:
        json.dump(entries, f, indent=2)
    return path


def read_feature_spec(baked_dir: str) -> dict[str, BakedFeature]:
    """The spec that ``features.json`` in a baked directory holds."""
    with open(os.path.join(baked_dir, FEATURES_FILE), encoding="utf-8") as f:
        return {name: BakedFeature(**entry) for name, entry in json.load(f).items()}


def codec_description(config, source: Mapping | None = None) -> dict:
    """What ``codecs.json`` says of one codec: its kind, codebooks, frame rate or downsampling,
    and ``source`` (the workdir and step of its checkpoint) when it was loaded from one."""
    entry = {
        "num_codebooks": config.rvq.num_codebooks,
        "codebook_size": config.rvq.codebook_size,
    }
    if isinstance(config, RQVAEConfig):
        entry.update(kind="image", height=config.height, downsampling=config.factor)
    elif isinstance(config, AudioCodecConfig):
        frame_rate = config.sample_rate / config.hop
        entry.update(kind="audio", sample_rate=config.sample_rate, hop=config.hop)
        entry.update(frame_rate=frame_rate)
    else:
        raise TypeError(f"not a codec config: {type(config).__name__}")
    return dict(entry, **(source or {}))


def write_codec_descriptions(baked_dir: str, codecs: Mapping[str, dict]) -> str:
    """Writes ``codecs.json`` ({modality: `codec_description`}); returns its path."""
    path = os.path.join(baked_dir, CODECS_FILE)
    with open(path, "w", encoding="utf-8") as f:
        json.dump(dict(codecs), f, indent=2)
    return path


def read_codec_descriptions(baked_dir: str) -> dict[str, dict]:
    """{modality: description} of the codecs that baked a directory (``codecs.json``)."""
    with open(os.path.join(baked_dir, CODECS_FILE), encoding="utf-8") as f:
        return json.load(f)
