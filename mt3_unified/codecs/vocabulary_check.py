"""Ties the vocabulary's code ranges to the codecs that made the codes: derive, or check."""

from __future__ import annotations

import dataclasses
import os
from collections.abc import Mapping

from mt3_unified.codecs.baked import read_codec_descriptions
from mt3_unified.errors import CodebookMismatchError
from mt3_unified.vocab.layout import VocabularyConfig


def codec_codebooks(codecs) -> dict[str, tuple[int, int, str]]:
    """{modality: (codebooks, codebook size, where the codec is)} of the codecs given.

    ``codecs`` is a baked directory (its ``codecs.json``) or a mapping
    {'image': RQVAEConfig, 'audio': AudioCodecConfig} (either may be left out).
    """
    if isinstance(codecs, (str, os.PathLike)):
        return {
            modality: (
                entry["num_codebooks"],
                entry["codebook_size"],
                entry.get("workdir") or os.path.join(os.fspath(codecs), "codecs.json"),
            )
            for modality, entry in read_codec_descriptions(os.fspath(codecs)).items()
        }
    return {
        modality: (
            config.rvq.num_codebooks,
            config.rvq.codebook_size,
            f"the given {type(config).__name__}",
        )
        for modality, config in codecs.items()
        if config is not None
    }


def check_vocabulary(vocab_config: VocabularyConfig, codecs) -> None:
    """Raises CodebookMismatchError, naming both sides, where the vocabulary's codebooks
    differ from those of the codecs (a baked directory or codec configs, as in
    `codec_codebooks`)."""
    for modality, (books, size, where) in sorted(codec_codebooks(codecs).items()):
        vocab_books, vocab_size = vocab_config.codebooks(modality)
        if (vocab_books, vocab_size) != (books, size):
            raise CodebookMismatchError(
                f"vocabulary has {vocab_books} {modality} codebooks of {vocab_size} codes "
                f"(VocabularyConfig) but the {modality} codec in {where} has {books} of {size}"
            )


def check_image_rows(rows: int, codecs: Mapping, baked_dir: str) -> None:
    """Raises CodebookMismatchError where a model embeds `rows` rows of the image code grid
    (ModelConfig.image_rows; 0: none) but the image codec that baked `baked_dir` writes
    another number (its height / downsampling in `codecs`, that folder's ``codecs.json``
    as read_codec_descriptions reads it)."""
    image = codecs.get("image")
    if not rows or not image or "downsampling" not in image:
        return
    codec_rows = image["height"] // image["downsampling"]
    if rows != codec_rows:
        where = image.get("workdir") or os.path.join(baked_dir, "codecs.json")
        raise CodebookMismatchError(
            f"the model embeds {rows} image rows (ModelConfig.image_rows) but the image codec "
            f"in {where} writes {codec_rows} ({image['height']} px / {image['downsampling']})"
        )


def vocabulary_config_for(
    codecs: Mapping | str | os.PathLike, base: VocabularyConfig | None = None
) -> VocabularyConfig:
    """``base`` (default: VocabularyConfig()) with the codebooks of the codecs given."""
    sizes = {}
    for modality, (books, size, _) in codec_codebooks(codecs).items():
        sizes[f"{modality}_codebooks"], sizes[f"{modality}_codebook_size"] = books, size
    return dataclasses.replace(base or VocabularyConfig(), **sizes)
