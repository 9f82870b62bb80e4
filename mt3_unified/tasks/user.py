"""One call turns a researcher's own data, a TFDS dataset or a folder, into train and eval tasks.

    register_translation_task("my_omr", "scans/", "image", "lmx", image_codec="runs/rqvae")

registers ``my_omr_image_to_lmx_train`` and ``my_omr_image_to_lmx_eval`` through
`registry.add_translation_task`, with the same preprocessor chain, features and
metrics as every built-in task. A folder (or a CSV file) is read by
`folder_source.FolderSource` when a dataset is first made; a TFDS name is read as
the built-in datasets are (the TFDS corpus, or its bake from `mt3u bake`).
"""

from __future__ import annotations

import importlib
import os
import re

from mt3_unified.errors import Mt3UnifiedError
from mt3_unified.tasks.chain import continuous_input
from mt3_unified.tasks.folder_source import FolderSource
from mt3_unified.tasks.pairs import pairs_csv
from mt3_unified.tasks.registry import add_translation_task, task_name
from mt3_unified.tasks.sources import BUILDER_MODULES, DEFAULT_SPLITS, Corpus
from mt3_unified.vocab.layout import CODE_MODALITIES

# `name` or `name/config` (with an optional `:version`), as TFDS spells a dataset.
_TFDS_NAME = re.compile(r"^[a-z][a-z0-9_]*(/[A-Za-z0-9_.\-]+)?(:[0-9.]+)?$")


class UserTaskError(Mt3UnifiedError, ValueError):
    """A registration that cannot work: an unknown source, or codecs that do not fit it."""


def is_folder_source(source: str | os.PathLike) -> bool:
    """Whether ``source`` names a folder of pairs or a pairs CSV (it exists, is a Path, or
    ends in .csv) rather than a TFDS dataset name."""
    return (
        isinstance(source, os.PathLike)
        or os.path.exists(source)
        or str(source).lower().endswith(".csv")
        or not _TFDS_NAME.match(str(source))
    )


def register_translation_task(
    name: str,
    source: str | os.PathLike,
    input_modality: str,
    output_modality: str,
    *,
    image_codec: str | os.PathLike | None = None,
    audio_codec: str | os.PathLike | None = None,
    splits: tuple[str, ...] | None = None,
    metric_fns=None,
    postprocess_fn=None,
    shuffle_buffer_size: int = 1000,
) -> tuple[str, str]:
    """Registers ``<name>_<input>_to_<output>_train`` and ``..._eval``; returns their names.

    ``source``: a folder holding ``pairs.csv`` (or the CSV itself; `tasks.pairs` says
    what it lists), or a TFDS dataset name such as ``synthetic_scores/tiny``
    (``splits``: the splits it has; default train, validation, test). A folder needs
    ``image_codec`` / ``audio_codec`` (codec workdirs from `mt3u train-codec`) for the
    sides it reads as codes: an image or audio output always, an input unless gin's
    ``ContinuousInputs.modalities`` lists it. A TFDS source reads codes from its bake.
    Nothing is read here: the folder is read, and cached, when a dataset is first made.
    """
    task_name(name, input_modality, output_modality)  # checks the modalities
    codecs = {"image": image_codec, "audio": audio_codec}
    sides = (input_modality, output_modality)
    for modality, workdir in codecs.items():
        if workdir is not None and modality not in sides:
            raise UserTaskError(
                f"{modality}_codec given, but {input_modality} -> {output_modality} has no "
                f"{modality} side"
            )
    if is_folder_source(source):
        if output_modality in CODE_MODALITIES and codecs[output_modality] is None:
            raise UserTaskError(
                f"{name}: {output_modality} outputs are codes; pass "
                f"{output_modality}_codec=<codec workdir> (from `mt3u train-codec`)"
            )
        if splits is not None:
            raise UserTaskError(f"{name}: a folder's splits come from its CSV's `split` column")
        task_source = FolderSource(
            pairs_csv(source),
            input_modality,
            output_modality,
            {m: os.fspath(w) for m, w in codecs.items() if w is not None},
            continuous_input,
        )
    else:
        if image_codec is not None or audio_codec is not None:
            raise UserTaskError(
                f"{name}: a TFDS dataset reads its codes from its bake (`mt3u bake`, "
                f"DataPaths.baked_dir); codecs are for folders of files"
            )
        check_tfds_name(str(source))
        task_source = Corpus(str(source), splits=tuple(splits or DEFAULT_SPLITS))
    return add_translation_task(
        name,
        input_modality,
        output_modality,
        source=task_source,
        metric_fns=metric_fns,
        postprocess_fn=postprocess_fn,
        shuffle_buffer_size=shuffle_buffer_size,
    )


def check_tfds_name(source: str) -> None:
    """Raises UserTaskError unless TFDS (with the project's builders) knows the dataset; the
    message says that a folder was looked for too."""
    import tensorflow_datasets as tfds

    for module in BUILDER_MODULES:
        importlib.import_module(f"mt3_unified.corpus.builders.{module}")
    builder = re.split(r"[/:]", source)[0]
    try:
        tfds.builder_cls(builder)
    except tfds.core.registered.DatasetNotFoundError as e:
        raise UserTaskError(
            f"{source}: no such folder or CSV, and TFDS has no dataset {builder!r}"
        ) from e
