"""Encodes a corpus's images and audio into RVQ codes (with shift variants) and writes them.

A baked example holds the source example's other features unchanged (nested
ones such as ``notes`` flattened to ``notes/onset``, ...) plus:
  ``variant``           int: 0 is the unshifted encoding, 1.. the shifted ones;
  ``image_codes``       int32 [T, K]: image frames in the RQ-VAE's column-major order;
  ``image_grid_rows``   int: rows of the code grid (H/16), to undo the flattening;
  ``image_width``       int: pixels across the encoded (resized, shifted) image;
  ``image_shift``       (dy, dx) pixels of white added above and left before encoding;
  ``audio_codes``       int32 [T, K]: audio frames, one per hop;
  ``audio_length``      int: samples of the encoded (resampled, shifted) audio;
  ``audio_shift``       samples of silence added before the audio.

An example whose image or audio cannot be encoded (unreadable PNG, NaN samples,
...) is left out with a message naming it; the others are kept.
"""

from __future__ import annotations

import dataclasses
import functools
import logging
import os
import sys
from collections.abc import Callable, Iterable, Iterator

import jax
import jax.numpy as jnp
import numpy as np

from mt3_unified.codecs import data as codec_data
from mt3_unified.codecs.audio import AudioCodec
from mt3_unified.codecs.inputs import CodecInputError, audio_to_array, image_to_array
from mt3_unified.codecs.rqvae import RQVAE, codes_to_frames, frames_to_codes
from mt3_unified.errors import Mt3UnifiedError

RAW_FEATURES = (codec_data.IMAGE_FEATURE, codec_data.AUDIO_FEATURE, codec_data.SAMPLE_RATE_FEATURE)
SHAPE_SUFFIX = "_shape"


class BakeError(Mt3UnifiedError, ValueError):
    """A bake that cannot start: no codec, no output, or outputs that do not fit the splits."""


@dataclasses.dataclass(frozen=True)
class BakeConfig:
    """Which shifted copies to encode; the first entry of each should be the unshifted one."""

    image_shifts: tuple[tuple[int, int], ...] = ((0, 0), (0, 4), (4, 0), (4, 8))
    audio_shifts: tuple[int, ...] = (0, 128, 256, 384)  # samples; < hop so frames differ
    # Widths/lengths are padded up to multiples of these before encoding so that
    # jit compiles once per bucket, not once per example.
    image_bucket: int = 128
    audio_bucket: int = 16384


def shift_image(image: np.ndarray, dy: int, dx: int) -> np.ndarray:
    """Moves [H, W] content down/right by adding white rows above and columns on the left."""
    return np.pad(image, ((dy, 0), (dx, 0)), constant_values=1.0)


def shift_audio(audio: np.ndarray, samples: int) -> np.ndarray:
    """Delays [T] audio by prepending silence."""
    return np.pad(audio, (samples, 0))


def bucket_size(n: int, unit: int) -> int:
    """The length that n is padded up to: a multiple of unit, at most 1/4 above n past 8 units.

    Sizes run unit x 1..8, then 4 steps an octave (8, 10, 12, 14, 16, 20, 24, ...),
    so that corpora of varied lengths compile a handful of shapes, not one per example.
    """
    q = max(-(-n // unit), 1)
    step = 1 << max(q.bit_length() - 3, 0)
    return -(-q // step) * step * unit


# Jitted once per module (the model is a static, hashable argument), so that every
# encoder of the same codec config shares compilations: a report or a second load
# of the same checkpoint costs no new compile.
@functools.partial(jax.jit, static_argnums=0)
def apply_encode(model, variables, x):
    return model.apply(variables, x, method=type(model).encode)


@functools.partial(jax.jit, static_argnums=0)
def apply_decode(model, variables, codes):
    return model.apply(variables, codes, method=type(model).decode)


class ImageEncoder:
    """Jitted RQ-VAE encoding of single [H, W] images into column-major frames, and back."""

    def __init__(self, model: RQVAE, variables, bucket: int = 128):
        self.model, self.variables, self.bucket = model, variables, bucket

    def prepare(self, image, name: str) -> np.ndarray:
        """A corpus image (PNG bytes, array, PIL image) as [height, W] in [0, 1]."""
        array = image_to_array(image, name)
        return codec_data.resize_to_height(array, self.model.config.height)

    def __call__(self, image: np.ndarray) -> tuple[np.ndarray, int]:
        """(frames [T, K] int32, grid rows) for an image already at the codec's height."""
        f = self.model.config.factor
        h, w = image.shape
        pad = bucket_size(w, self.bucket) - w
        padded = np.pad(image, ((0, 0), (0, pad)), constant_values=1.0)
        grid = apply_encode(self.model, self.variables, jnp.asarray(padded[None]))
        grid = grid[:, :, : -(-w // f)]
        return np.asarray(codes_to_frames(grid)[0]), grid.shape[1]

    def decode(self, frames: np.ndarray, rows: int, width: int | None = None) -> np.ndarray:
        """Frames [T, K] with ``rows`` grid rows -> image [rows * factor, width] in [0, 1]."""
        f = self.model.config.factor
        grid = frames_to_codes(jnp.asarray(frames)[None], rows)
        # Pad with copies of the last column up to a bucket, then crop the image back.
        cols = grid.shape[2]
        pad = bucket_size(cols, max(self.bucket // f, 1)) - cols
        grid = jnp.pad(grid, ((0, 0), (0, 0), (0, pad), (0, 0)), mode="edge")
        image = apply_decode(self.model, self.variables, grid)[0]
        return np.asarray(image[:, : cols * f if width is None else width])


class AudioEncoder:
    """Jitted encoding of single mono [T] signals into frames [ceil(T / hop), K], and back."""

    def __init__(self, model: AudioCodec, variables, bucket: int = 16384):
        self.model, self.variables, self.bucket = model, variables, bucket

    def prepare(self, audio, sample_rate: int | None, name: str) -> np.ndarray:
        """Corpus audio (int16 or float, mono or [T, C]) as mono float32 at the codec's rate."""
        rate = self.model.config.sample_rate
        return audio_to_array(audio, int(sample_rate or rate), rate, name)

    def __call__(self, audio: np.ndarray) -> np.ndarray:
        t = audio.shape[0]
        padded = np.pad(audio, (0, bucket_size(t, self.bucket) - t))
        codes = apply_encode(self.model, self.variables, jnp.asarray(padded[None]))
        return np.asarray(codes[0, : -(-t // self.model.config.hop)])

    def decode(self, codes: np.ndarray, length: int | None = None) -> np.ndarray:
        """Frames [T, K] -> mono audio [length or T * hop]."""
        hop, frames = self.model.config.hop, codes.shape[0]
        pad = bucket_size(frames, max(self.bucket // hop, 1)) - frames
        padded = np.pad(codes, ((0, pad), (0, 0)), mode="edge")
        audio = apply_decode(self.model, self.variables, jnp.asarray(padded[None]))[0]
        return np.asarray(audio[: frames * hop if length is None else length])


def example_name(example: dict, index: int) -> str:
    """How messages name a corpus example: ``piece#system``, its ``id``, or its position."""

    def text(value):
        return value.decode() if isinstance(value, bytes) else str(value)

    if "piece_id" in example:
        system = example.get("system_index")
        return text(example["piece_id"]) + ("" if system is None else f"#{int(system)}")
    if "id" in example:
        return text(example["id"])
    return f"example {index}"


def _report_skip(name: str, problem: str) -> None:
    print(f"bake: skipped {name}: {problem}", file=sys.stderr)


def bake_examples(
    examples: Iterable[dict],
    image_encoder: ImageEncoder | None = None,
    audio_encoder: AudioEncoder | None = None,
    config: BakeConfig = BakeConfig(),
    on_skip: Callable[[str, str], None] = _report_skip,
) -> Iterator[dict]:
    """Yields one baked example per (source example, variant); see the module docstring.

    An example that cannot be encoded is left out and ``on_skip(name, problem)``
    is called (by default a line on stderr).
    """
    # As many variants as the longer shift list of the codecs in use.
    variants = max(
        len(config.image_shifts) if image_encoder is not None else 1,
        len(config.audio_shifts) if audio_encoder is not None else 1,
    )
    for i, example in enumerate(examples):
        name = example_name(example, i)
        try:
            baked = list(_bake_one(example, name, image_encoder, audio_encoder, config, variants))
        except CodecInputError as error:
            on_skip(name, error.problem)
            continue
        yield from baked


def _bake_one(example, name, image_encoder, audio_encoder, config, variants):
    kept = {k: v for k, v in example.items() if k not in RAW_FEATURES}
    image = audio = None
    if image_encoder is not None and codec_data.IMAGE_FEATURE in example:
        image = image_encoder.prepare(example[codec_data.IMAGE_FEATURE], name)
    if audio_encoder is not None and codec_data.AUDIO_FEATURE in example:
        rate = example.get(codec_data.SAMPLE_RATE_FEATURE)
        audio = audio_encoder.prepare(example[codec_data.AUDIO_FEATURE], rate, name)
    for v in range(variants):
        baked = dict(kept, variant=v)
        if image is not None:
            dy, dx = config.image_shifts[v % len(config.image_shifts)]
            # Shifting down keeps the codec's height: the bottom rows drop off.
            shifted = shift_image(image, dy, dx)[: image.shape[0]]
            baked["image_codes"], baked["image_grid_rows"] = image_encoder(shifted)
            baked["image_width"] = shifted.shape[1]
            baked["image_shift"] = np.array([dy, dx], np.int32)
        if audio is not None:
            shift = config.audio_shifts[v % len(config.audio_shifts)]
            shifted = shift_audio(audio, shift)
            baked["audio_codes"] = audio_encoder(shifted)
            baked["audio_length"] = shifted.shape[0]
            baked["audio_shift"] = shift
        yield baked


def _flatten(features: dict, prefix: str = "") -> Iterator[tuple[str, object]]:
    for name, value in features.items():
        if isinstance(value, dict):
            yield from _flatten(value, f"{prefix}{name}/")
        else:
            yield f"{prefix}{name}", value


def to_tf_example(baked: dict):
    """A tf.train.Example. Nested dicts are flattened to ``outer/inner`` names; every
    array that is not a scalar is stored flat with a ``<name>_shape`` feature, so
    that `read_baked` gives the same shapes back."""
    import tensorflow as tf

    feature = {}
    for name, value in _flatten(baked):
        array = np.asarray(value)
        flat = array.ravel()
        if array.dtype.kind in "iub":
            values = flat.astype(np.int64)
            feature[name] = tf.train.Feature(int64_list=tf.train.Int64List(value=values))
        elif array.dtype.kind == "f":
            feature[name] = tf.train.Feature(float_list=tf.train.FloatList(value=flat))
        else:
            data = [x if isinstance(x, bytes) else str(x).encode() for x in flat]
            feature[name] = tf.train.Feature(bytes_list=tf.train.BytesList(value=data))
        if array.ndim:
            feature[name + SHAPE_SUFFIX] = tf.train.Feature(
                int64_list=tf.train.Int64List(value=array.shape)
            )
    return tf.train.Example(features=tf.train.Features(feature=feature))


def write_tfrecord(baked: Iterable[dict], path: str) -> int:
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

    for record in tf.data.TFRecordDataset(path).as_numpy_iterator():
        example = tf.train.Example.FromString(record)
        fields = example.features.feature
        out = {}
        for name, feature in fields.items():
            if name.endswith(SHAPE_SUFFIX) and name[: -len(SHAPE_SUFFIX)] in fields:
                continue
            kind = feature.WhichOneof("kind")
            values = list(getattr(feature, kind).value)
            if kind == "int64_list":
                array = np.asarray(values, np.int64)
            elif kind == "float_list":
                array = np.asarray(values, np.float32)
            else:
                array = np.asarray(values, object)
            shape_feature = fields.get(name + SHAPE_SUFFIX)
            if shape_feature is None:
                out[name] = array[0] if array.size else array
            else:
                out[name] = array.reshape(tuple(shape_feature.int64_list.value))
        for name in ("image_codes", "audio_codes"):
            if name in out:
                out[name] = out[name].astype(np.int32)
        yield out


def load_encoders(
    image_gin: str | None = None,
    image_workdir: str | None = None,
    audio_gin: str | None = None,
    audio_workdir: str | None = None,
) -> tuple[ImageEncoder | None, AudioEncoder | None]:
    """Encoders of the codecs trained in the workdirs (each with the gin file it trained with)."""
    import gin

    from mt3_unified.codecs.train import load_codec

    encoders = []
    for cls, gin_file, workdir in (
        (ImageEncoder, image_gin, image_workdir),
        (AudioEncoder, audio_gin, audio_workdir),
    ):
        if bool(gin_file) != bool(workdir):
            raise BakeError(f"{cls.__name__}: give both a gin file and a workdir, or neither")
        if not gin_file:
            encoders.append(None)
            continue
        gin.clear_config()
        gin.parse_config_file(gin_file)
        encoders.append(cls(*load_codec(workdir)))
        gin.clear_config()
    return encoders[0], encoders[1]


def corpus_examples(corpus: str, split: str, data_dir: str | None = None) -> Iterator[dict]:
    """A corpus split with images left as PNG bytes, so that a bad one is skipped, not fatal."""
    import tensorflow_datasets as tfds

    import mt3_unified.corpus  # noqa: F401  (registers the project's builders)

    builder = tfds.builder(corpus, data_dir=data_dir)
    decoders = None
    if codec_data.IMAGE_FEATURE in builder.info.features:
        decoders = {codec_data.IMAGE_FEATURE: tfds.decode.SkipDecoding()}
    yield from tfds.as_numpy(builder.as_dataset(split=split, decoders=decoders))


def split_names(corpus: str, data_dir: str | None = None) -> list[str]:
    """The splits of a built TFDS corpus."""
    import tensorflow_datasets as tfds

    import mt3_unified.corpus  # noqa: F401

    return sorted(tfds.builder(corpus, data_dir=data_dir).info.splits)


def bake_corpus(
    corpus: str,
    splits: list[str] | None,
    image_encoder: ImageEncoder | None,
    audio_encoder: AudioEncoder | None,
    *,
    data_dir: str | None = None,
    output_dir: str | None = None,
    output: str | None = None,
    config: BakeConfig = BakeConfig(),
) -> dict:
    """Bakes corpus splits (None: all) into ``output_dir/<split>.tfrecord`` (or ``output``
    for one split), with ``skipped.tsv`` beside them in ``output_dir``.

    Returns {split: {'file', 'examples', 'baked' (records, variants included), 'skipped'}}.
    """
    if bool(output) == bool(output_dir):
        raise BakeError("give exactly one of an output file (one split) and an output dir")
    splits = splits or split_names(corpus, data_dir)
    if output and len(splits) != 1:
        raise BakeError(f"an output file takes one split; use an output dir for {splits}")
    if image_encoder is None and audio_encoder is None:
        raise BakeError("nothing to bake: give an image codec, an audio codec or both")
    if output_dir:
        os.makedirs(output_dir, exist_ok=True)
    summary, skipped_rows = {}, []
    for split in splits:
        path = output or os.path.join(output_dir, f"{split}.tfrecord")
        skipped, seen = [], []

        def on_skip(name, problem, split=split, skipped=skipped):
            _report_skip(f"{split}/{name}", problem)
            skipped.append((name, problem))

        def counted(examples, seen=seen):
            for example in examples:
                seen.append(1)
                yield example

        examples = counted(corpus_examples(corpus, split, data_dir))
        baked = bake_examples(examples, image_encoder, audio_encoder, config, on_skip=on_skip)
        written = write_tfrecord(baked, path)
        summary[split] = {
            "file": path,
            "examples": len(seen),
            "baked": written,
            "skipped": len(skipped),
        }
        skipped_rows += [(split, name, problem) for name, problem in skipped]
        logging.info("bake %s: %s", split, summary[split])
    if output_dir:
        with open(os.path.join(output_dir, "skipped.tsv"), "w", encoding="utf-8") as f:
            f.write("split\texample\tproblem\n")
            f.writelines(f"{s}\t{n}\t{p}\n" for s, n, p in skipped_rows)
    return summary
