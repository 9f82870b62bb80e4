"""Turns user images and audio into the arrays the codecs expect, or refuses them clearly."""

from __future__ import annotations

import io
import os

import numpy as np

from mt3_unified.errors import InputFileError


class CodecInputError(InputFileError):
    """An image or a sound a codec cannot encode (empty, NaN, unreadable)."""


def image_to_array(image, source=None) -> np.ndarray:
    """A grayscale image as float32 [height, width] in [0, 1] (0 black ink, 1 white paper).

    Accepts a PIL image of any mode, PNG/JPEG bytes, a path, or an array shaped
    [H, W], [H, W, 1], [H, W, 3] or [H, W, 4] (uint8 0..255 or float 0..1).
    Colour is converted to luminance and transparency is composited on white,
    because a score's transparent background is paper.
    """
    from PIL import Image

    if source is None and isinstance(image, (str, os.PathLike)):
        source = image
    if isinstance(image, (bytes, bytearray)):
        image = _open_image(io.BytesIO(image), source or image)
    elif isinstance(image, (str, os.PathLike)):
        image = _open_image(image, source)
    if isinstance(image, Image.Image):
        if image.width == 0 or image.height == 0:
            raise CodecInputError(source, f"image has zero size {image.width}x{image.height}")
        if image.mode in ("RGBA", "LA", "PA") or "transparency" in image.info:
            rgba = image.convert("RGBA")
            paper = Image.new("RGBA", rgba.size, (255, 255, 255, 255))
            image = Image.alpha_composite(paper, rgba)
        array = np.asarray(image.convert("L"), dtype=np.float32) / 255.0
        return array
    array = np.asarray(image)
    if array.ndim == 3 and array.shape[-1] in (1, 3, 4):
        if array.dtype == np.uint8:
            return image_to_array(
                Image.fromarray(array.squeeze(-1) if array.shape[-1] == 1 else array), source
            )
        array = array.astype(np.float32)
        if array.shape[-1] == 4:
            alpha = array[..., 3:]
            array = array[..., :3] * alpha + (1.0 - alpha)
        array = array.mean(-1) if array.shape[-1] == 3 else array[..., 0]
    if array.ndim != 2:
        raise CodecInputError(
            source, f"expected an image [H, W] or [H, W, C], got shape {array.shape}"
        )
    if array.shape[0] == 0 or array.shape[1] == 0:
        raise CodecInputError(source, f"image has zero size {array.shape[1]}x{array.shape[0]}")
    if array.dtype == np.uint8:
        return array.astype(np.float32) / 255.0
    array = array.astype(np.float32)
    if not np.all(np.isfinite(array)):
        raise CodecInputError(source, "image holds NaN or infinite pixels")
    return np.clip(array, 0.0, 1.0)


def _open_image(file, source):
    from PIL import Image, UnidentifiedImageError

    try:
        image = Image.open(file)
        image.load()
    except (UnidentifiedImageError, OSError) as e:
        raise CodecInputError(source, f"cannot read the image: {e}") from e
    return image


def audio_to_array(samples, sample_rate: int | None, target_rate: int, source=None) -> np.ndarray:
    """Mono float32 samples at ``target_rate``: stereo is mixed down, other rates resampled.

    ``samples`` is an array [T] or [T, channels] (soundfile's layout), or a path or
    bytes of an audio file (then ``sample_rate`` may be None: the file's own is used).
    NaN or infinite samples are refused: no resampler can say what they meant.
    """
    import soundfile as sf

    if isinstance(samples, (bytes, bytearray, str, os.PathLike)):
        file = io.BytesIO(samples) if isinstance(samples, (bytes, bytearray)) else samples
        source = source if source is not None else samples
        try:
            samples, file_rate = sf.read(file, dtype="float32", always_2d=True)
        except (sf.LibsndfileError, RuntimeError, TypeError) as e:
            raise CodecInputError(source, f"cannot read the audio: {e}") from e
        sample_rate = sample_rate or file_rate
    if sample_rate is None or sample_rate <= 0:
        raise CodecInputError(source, f"audio needs a positive sample rate, got {sample_rate}")
    array = np.asarray(samples)
    if np.issubdtype(array.dtype, np.integer):
        # PCM integers (the corpus stores int16) become floats in [-1, 1).
        array = array.astype(np.float32) / float(-np.iinfo(array.dtype).min)
    array = array.astype(np.float32, copy=False)
    if array.ndim == 2:
        # [T, C]; a [C, T] array with few channels is recognised by its short first axis.
        if array.shape[0] <= 8 < array.shape[1]:
            array = array.T
        array = array.mean(axis=1)
    if array.ndim != 1:
        raise CodecInputError(
            source, f"expected audio [T] or [T, channels], got shape {array.shape}"
        )
    if array.size == 0:
        raise CodecInputError(source, "audio holds no samples")
    bad = ~np.isfinite(array)
    if bad.any():
        first = int(np.argmax(bad))
        raise CodecInputError(
            source,
            f"audio holds {int(bad.sum())} NaN or infinite samples (first at sample {first})",
        )
    if sample_rate != target_rate:
        import librosa

        array = librosa.resample(array, orig_sr=sample_rate, target_sr=target_rate)
    return np.clip(array, -1.0, 1.0).astype(np.float32)
