"""Host-side codec calls: one image or audio clip at a time in, frames of K codes out, and back.

Inputs are padded up to a few bucket sizes, so that jit compiles once per bucket
and not once per example; outputs are cropped back to the input's own size.
"""

from __future__ import annotations

import functools

import jax
import jax.numpy as jnp
import numpy as np

from mt3_unified.codecs import data as codec_data
from mt3_unified.codecs.audio import AudioCodec
from mt3_unified.codecs.inputs import audio_to_array, image_to_array
from mt3_unified.codecs.rqvae import RQVAE, codes_to_frames, frames_to_codes


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
    """``model.encode(x)`` for a codec module and its variables."""
    return model.apply(variables, x, method=type(model).encode)


@functools.partial(jax.jit, static_argnums=0)
def apply_decode(model, variables, codes):
    """``model.decode(codes)`` for a codec module and its variables."""
    return model.apply(variables, codes, method=type(model).decode)


class ImageCodeEncoder:
    """Jitted RQ-VAE encoding of single [H, W] images into column-major frames, and back."""

    def __init__(self, model: RQVAE, variables, bucket: int = 128, source: dict | None = None):
        self.model, self.variables, self.bucket = model, variables, bucket
        self.source = source  # {'workdir', 'step'} of the checkpoint, when loaded from one

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


class AudioCodeEncoder:
    """Jitted encoding of single mono [T] signals into frames [ceil(T / hop), K], and back."""

    def __init__(
        self, model: AudioCodec, variables, bucket: int = 16384, source: dict | None = None
    ):
        self.model, self.variables, self.bucket = model, variables, bucket
        self.source = source  # {'workdir', 'step'} of the checkpoint, when loaded from one

    def prepare(self, audio, sample_rate: int | None, name: str) -> np.ndarray:
        """Corpus audio (int16 or float, mono or [T, C]) as mono float32 at the codec's rate."""
        rate = self.model.config.sample_rate
        return audio_to_array(audio, int(sample_rate or rate), rate, name)

    def __call__(self, audio: np.ndarray) -> np.ndarray:
        """Frames [ceil(T / hop), K] int32 of mono audio [T] at the codec's rate."""
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
