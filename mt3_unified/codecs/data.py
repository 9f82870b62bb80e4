"""Batches of fixed-size image and audio crops for codec training, from arrays or the corpus.

Corpus examples are dicts with an ``image`` feature (PNG bytes, a PIL image or
an array) and/or an ``audio`` feature (int16 PCM or float samples, mono or
[T, C]) with its rate in ``sample_rate`` (missing: the codec's own rate), as the
`synthetic_scores` TFDS builder writes them.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator

import numpy as np

from mt3_unified.codecs.inputs import audio_to_array, image_to_array
from mt3_unified.text import as_text

IMAGE_FEATURE = "image"
AUDIO_FEATURE = "audio"
SAMPLE_RATE_FEATURE = "sample_rate"


def resize_to_height(image: np.ndarray, height: int) -> np.ndarray:
    """Scales a [H, W] image in [0, 1] to the given height, keeping its aspect ratio."""
    from PIL import Image

    if image.shape[0] == height:
        return image
    width = max(1, round(image.shape[1] * height / image.shape[0]))
    pil = Image.fromarray(np.round(image * 255).astype(np.uint8))
    return np.asarray(pil.resize((width, height), Image.Resampling.LANCZOS), np.float32) / 255.0


def crop_or_pad(x: np.ndarray, length: int, start: int, fill: float) -> np.ndarray:
    """x[..., start:start+length] along the last axis, padded with ``fill`` where x is short."""
    piece = x[..., start : start + length]
    short = length - piece.shape[-1]
    if short:
        pad = [(0, 0)] * (x.ndim - 1) + [(0, short)]
        piece = np.pad(piece, pad, constant_values=fill)
    return piece


def image_examples(examples: Iterable[dict], height: int) -> list[np.ndarray]:
    """The examples' images as [height, W] arrays in [0, 1]."""
    out = []
    for i, ex in enumerate(examples):
        out.append(resize_to_height(image_to_array(ex[IMAGE_FEATURE], f"example {i}"), height))
    return out


def audio_examples(examples: Iterable[dict], sample_rate: int) -> list[np.ndarray]:
    """The examples' audio as mono float32 arrays at ``sample_rate``."""
    out = []
    for i, ex in enumerate(examples):
        rate = int(ex.get(SAMPLE_RATE_FEATURE, sample_rate))
        out.append(audio_to_array(ex[AUDIO_FEATURE], rate, sample_rate, f"example {i}"))
    return out


def random_crops(
    items: list[np.ndarray], batch_size: int, length: int, fill: float, seed: int = 0
) -> Iterator[np.ndarray]:
    """Endless batches [B, ..., length] of random crops along the last axis."""
    rng = np.random.default_rng(seed)
    while True:
        batch = []
        for i in rng.integers(0, len(items), batch_size):
            x = items[i]
            start = int(rng.integers(0, max(1, x.shape[-1] - length + 1)))
            batch.append(crop_or_pad(x, length, start, fill))
        yield np.stack(batch)


def fixed_crops(
    items: list[np.ndarray], batch_size: int, length: int, fill: float
) -> list[np.ndarray]:
    """Deterministic batches of consecutive crops covering each item (for validation)."""
    crops = [
        crop_or_pad(x, length, start, fill)
        for x in items
        for start in range(0, max(1, x.shape[-1] - length // 2), length)
    ]
    return [np.stack(crops[i : i + batch_size]) for i in range(0, len(crops), batch_size)]


def load_corpus(
    name: str, split: str, data_dir: str | None = None, *, image_bytes: bool = False
) -> Iterator[dict]:
    """Examples of a built TFDS corpus split as numpy dicts (e.g. ``synthetic_scores/tiny``).

    With ``image_bytes`` the images stay PNG bytes, so that a caller can skip one
    that does not decode instead of failing the whole split.
    """
    import tensorflow_datasets as tfds

    import mt3_unified.corpus  # noqa: F401  (registers the project's builders)

    builder = tfds.builder(name, data_dir=data_dir)
    decoders = None
    if image_bytes and IMAGE_FEATURE in builder.info.features:
        decoders = {IMAGE_FEATURE: tfds.decode.SkipDecoding()}
    yield from tfds.as_numpy(builder.as_dataset(split=split, decoders=decoders))


def split_names(name: str, data_dir: str | None = None) -> list[str]:
    """The splits of a built TFDS corpus."""
    import tensorflow_datasets as tfds

    import mt3_unified.corpus  # noqa: F401  (registers the project's builders)

    return sorted(tfds.builder(name, data_dir=data_dir).info.splits)


def example_name(example: dict, index: int) -> str:
    """How messages name a corpus example: ``piece#system``, its ``id``, or its position."""

    if "piece_id" in example:
        system = example.get("system_index")
        return as_text(example["piece_id"]) + ("" if system is None else f"#{int(system)}")
    if "id" in example:
        return as_text(example["id"])
    return f"example {index}"
