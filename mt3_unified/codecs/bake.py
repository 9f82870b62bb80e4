"""Encodes a corpus's images and audio into RVQ codes (with shift variants) and writes them.

A baked example holds the source example's other features unchanged plus:
  ``variant``           int: 0 is the unshifted encoding, 1.. the shifted ones;
  ``image_codes``       int32 [T, K]: image frames in the RQ-VAE's column-major order;
  ``image_grid_rows``   int: rows of the code grid (H/16), to undo the flattening;
  ``image_shift``       (dy, dx) pixels of white added above and left before encoding;
  ``audio_codes``       int32 [T, K]: audio frames, one per hop;
  ``audio_shift``       samples of silence added before the audio.
"""

from __future__ import annotations

import argparse
import dataclasses
from collections.abc import Iterable, Iterator

import jax
import jax.numpy as jnp
import numpy as np

from mt3_unified.codecs import data as codec_data
from mt3_unified.codecs.audio import AudioCodec
from mt3_unified.codecs.inputs import audio_to_array, image_to_array
from mt3_unified.codecs.rqvae import RQVAE, codes_to_frames

RAW_FEATURES = (codec_data.IMAGE_FEATURE, codec_data.AUDIO_FEATURE, codec_data.SAMPLE_RATE_FEATURE)


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


class ImageEncoder:
    """Jitted RQ-VAE encoding of single [H, W] images into column-major frames."""

    def __init__(self, model: RQVAE, variables, bucket: int = 128):
        self.model, self.variables, self.bucket = model, variables, bucket
        self._encode = jax.jit(lambda v, x: model.apply(v, x, method=RQVAE.encode))

    def __call__(self, image: np.ndarray) -> tuple[np.ndarray, int]:
        """(frames [T, K] int32, grid rows) for an image already at the codec's height."""
        f = self.model.config.factor
        h, w = image.shape
        padded = np.pad(image, ((0, 0), (0, -w % self.bucket)), constant_values=1.0)
        grid = self._encode(self.variables, jnp.asarray(padded[None]))
        grid = grid[:, :, : -(-w // f)]
        return np.asarray(codes_to_frames(grid)[0]), grid.shape[1]


class AudioEncoder:
    """Jitted encoding of single mono [T] signals into frames [ceil(T / hop), K]."""

    def __init__(self, model: AudioCodec, variables, bucket: int = 16384):
        self.model, self.variables, self.bucket = model, variables, bucket
        self._encode = jax.jit(lambda v, x: model.apply(v, x, method=AudioCodec.encode))

    def __call__(self, audio: np.ndarray) -> np.ndarray:
        t = audio.shape[0]
        padded = np.pad(audio, (0, -t % self.bucket))
        codes = self._encode(self.variables, jnp.asarray(padded[None]))
        return np.asarray(codes[0, : -(-t // self.model.config.hop)])


def bake_examples(
    examples: Iterable[dict],
    image_encoder: ImageEncoder | None = None,
    audio_encoder: AudioEncoder | None = None,
    config: BakeConfig = BakeConfig(),
) -> Iterator[dict]:
    """Yields one baked example per (source example, variant); see the module docstring."""
    variants = max(len(config.image_shifts), len(config.audio_shifts))
    for i, example in enumerate(examples):
        name = str(example.get("id", f"example {i}"))
        kept = {k: v for k, v in example.items() if k not in RAW_FEATURES}
        image = audio = None
        if image_encoder is not None and codec_data.IMAGE_FEATURE in example:
            image = image_to_array(example[codec_data.IMAGE_FEATURE], name)
            image = codec_data.resize_to_height(image, image_encoder.model.config.height)
        if audio_encoder is not None and codec_data.AUDIO_FEATURE in example:
            rate = audio_encoder.model.config.sample_rate
            audio = audio_to_array(
                example[codec_data.AUDIO_FEATURE],
                int(example.get(codec_data.SAMPLE_RATE_FEATURE, rate)),
                rate,
                name,
            )
        for v in range(variants):
            baked = dict(kept, variant=v)
            if image is not None:
                dy, dx = config.image_shifts[v % len(config.image_shifts)]
                # Shifting down keeps the codec's height: the bottom rows drop off.
                shifted = shift_image(image, dy, dx)[: image.shape[0]]
                baked["image_codes"], baked["image_grid_rows"] = image_encoder(shifted)
                baked["image_shift"] = np.array([dy, dx], np.int32)
            if audio is not None:
                shift = config.audio_shifts[v % len(config.audio_shifts)]
                baked["audio_codes"] = audio_encoder(shift_audio(audio, shift))
                baked["audio_shift"] = shift
            yield baked


def to_tf_example(baked: dict):
    """A tf.train.Example; code arrays are stored flat with a ``<name>_shape`` feature."""
    import tensorflow as tf

    feature = {}
    for name, value in baked.items():
        array = np.asarray(value)
        if array.dtype.kind in "iub":
            feature[name] = tf.train.Feature(int64_list=tf.train.Int64List(value=array.ravel()))
        elif array.dtype.kind == "f":
            feature[name] = tf.train.Feature(float_list=tf.train.FloatList(value=array.ravel()))
        else:
            data = [x if isinstance(x, bytes) else str(x).encode() for x in array.ravel()]
            feature[name] = tf.train.Feature(bytes_list=tf.train.BytesList(value=data))
        if array.ndim > 1:
            feature[f"{name}_shape"] = tf.train.Feature(
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


def main(argv: list[str] | None = None) -> None:
    """`mt3u bake`: encode a TFDS corpus split with trained codecs into a TFRecord file."""
    import gin

    from mt3_unified.codecs.train import load_codec

    parser = argparse.ArgumentParser(description=main.__doc__)
    parser.add_argument("--corpus", default="synthetic_scores")
    parser.add_argument("--split", default="train")
    parser.add_argument("--data_dir", default=None)
    parser.add_argument("--image_gin", help="gin file of the image codec (e.g. rqvae_tiny.gin)")
    parser.add_argument("--image_workdir", help="the image codec's training workdir")
    parser.add_argument("--audio_gin")
    parser.add_argument("--audio_workdir")
    parser.add_argument("--output", required=True, help="TFRecord file to write")
    args = parser.parse_args(argv)
    encoders = {}
    for kind, gin_file, workdir in (
        ("image", args.image_gin, args.image_workdir),
        ("audio", args.audio_gin, args.audio_workdir),
    ):
        if gin_file and workdir:
            gin.clear_config()
            gin.parse_config_file(gin_file)
            model, variables = load_codec(workdir)
            cls = ImageEncoder if kind == "image" else AudioEncoder
            encoders[kind] = cls(model, variables)
    examples = codec_data.load_corpus(args.corpus, args.split, args.data_dir)
    baked = bake_examples(examples, encoders.get("image"), encoders.get("audio"))
    print(f"wrote {write_tfrecord(baked, args.output)} baked examples to {args.output}")


if __name__ == "__main__":
    main()
