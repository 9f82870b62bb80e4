"""Baking: encodes a corpus's images and audio into RVQ codes, with shift variants, and writes them.

The records' features, and the ``features.json`` and ``codecs.json`` written
beside them, are described in `mt3_unified.codecs.baked`. An example whose image
or audio cannot be encoded (unreadable PNG, NaN samples, ...) is left out with a
message naming it; the others are kept.
"""

from __future__ import annotations

import dataclasses
import logging
import os
import sys
from collections.abc import Callable, Iterable, Iterator

import numpy as np

from mt3_unified.codecs import baked as baked_format
from mt3_unified.codecs import data as codec_data
from mt3_unified.codecs.host_encoders import AudioCodeEncoder, ImageCodeEncoder
from mt3_unified.codecs.inputs import CodecInputError
from mt3_unified.errors import Mt3UnifiedError

RAW_FEATURES = (codec_data.IMAGE_FEATURE, codec_data.AUDIO_FEATURE, codec_data.SAMPLE_RATE_FEATURE)


class BakeError(Mt3UnifiedError, ValueError):
    """A bake that cannot start: no codec, no output, or outputs that do not fit the splits."""


@dataclasses.dataclass(frozen=True)
class BakeConfig:
    """Which shifted copies to encode; the first entry of each should be the unshifted one."""

    image_shifts: tuple[tuple[int, int], ...] = ((0, 0), (0, 4), (4, 0), (4, 8))
    audio_shifts: tuple[int, ...] = (0, 128, 256, 384)  # samples; < hop so frames differ


def shift_image(image: np.ndarray, dy: int, dx: int) -> np.ndarray:
    """Moves [H, W] content down/right by adding white rows above and columns on the left."""
    return np.pad(image, ((dy, 0), (dx, 0)), constant_values=1.0)


def shift_audio(audio: np.ndarray, samples: int) -> np.ndarray:
    """Delays [T] audio by prepending silence."""
    return np.pad(audio, (samples, 0))


def _report_skip(name: str, problem: str) -> None:
    print(f"bake: skipped {name}: {problem}", file=sys.stderr)


def bake_examples(
    examples: Iterable[dict],
    image_encoder: ImageCodeEncoder | None = None,
    audio_encoder: AudioCodeEncoder | None = None,
    config: BakeConfig = BakeConfig(),
    on_skip: Callable[[str, str], None] = _report_skip,
) -> Iterator[dict]:
    """Yields one baked example per (source example, variant); see `codecs.baked`.

    An example that cannot be encoded is left out and ``on_skip(name, problem)``
    is called (by default a line on stderr).
    """
    # As many variants as the longer shift list of the codecs in use.
    variants = max(
        len(config.image_shifts) if image_encoder is not None else 1,
        len(config.audio_shifts) if audio_encoder is not None else 1,
    )
    for i, example in enumerate(examples):
        name = codec_data.example_name(example, i)
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


def bake_corpus(
    corpus: str,
    splits: list[str] | None,
    image_encoder: ImageCodeEncoder | None,
    audio_encoder: AudioCodeEncoder | None,
    *,
    data_dir: str | None = None,
    output_dir: str | None = None,
    output: str | None = None,
    config: BakeConfig = BakeConfig(),
) -> dict:
    """Bakes corpus splits (None: all) into ``output_dir/<split>.tfrecord`` (or ``output``
    for one split), with ``skipped.tsv`` beside them in ``output_dir`` and
    ``features.json`` and ``codecs.json`` beside the records in either case.

    Returns {split: {'file', 'examples', 'baked' (records, variants included), 'skipped'}}.
    """
    if bool(output) == bool(output_dir):
        raise BakeError("give exactly one of an output file (one split) and an output dir")
    splits = splits or codec_data.split_names(corpus, data_dir)
    if output and len(splits) != 1:
        raise BakeError(f"an output file takes one split; use an output dir for {splits}")
    if image_encoder is None and audio_encoder is None:
        raise BakeError("nothing to bake: give an image codec, an audio codec or both")
    records_dir = output_dir or os.path.dirname(os.path.abspath(output))
    os.makedirs(records_dir, exist_ok=True)
    summary, skipped_rows, spec = {}, [], {}
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

        def noting_spec(baked):
            for example in baked:
                spec.update(baked_format.spec_of(example))
                yield example

        examples = counted(codec_data.load_corpus(corpus, split, data_dir, image_bytes=True))
        baked = bake_examples(examples, image_encoder, audio_encoder, config, on_skip=on_skip)
        written = baked_format.write_tfrecord(noting_spec(baked), path)
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
    baked_format.write_feature_spec(records_dir, spec)
    codecs = {
        modality: baked_format.codec_description(encoder.model.config, encoder.source)
        for modality, encoder in (("image", image_encoder), ("audio", audio_encoder))
        if encoder is not None
    }
    baked_format.write_codec_descriptions(records_dir, codecs)
    return summary
