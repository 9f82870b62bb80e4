"""Raw units of one's own files -> the tasks' evaluation chain -> batches -> decoded frames.

Inference runs the same preprocessor chain as a task's evaluation split
(`tasks.chain.preprocessors(training=False)`: tokenizing, MT3's audio windows with
their start times, continuous inputs where gin asks, frames with task and modality
indices) and the same feature converter, so a file is read exactly as the test split
is. Only the validation step is left out: a unit has no target to check, and units are
cut to fit the feature lengths before they get here (`infer.inputs`).
"""

from __future__ import annotations

import dataclasses
import time
from collections.abc import Iterator, Sequence

import jax
import numpy as np
import seqio
import tensorflow as tf

from mt3_unified.tasks.chain import continuous_run, is_validation_step, preprocessors
from mt3_unified.tasks.folder_source import parse_record, serialize_raw
from mt3_unified.tasks.registry import output_features
from mt3_unified.text import as_text
from mt3_unified.train import partitioning
from mt3_unified.train.evaluation import padded_batches

INFER_SPLIT = "infer"


@dataclasses.dataclass(frozen=True)
class Segment:
    """One decoded example: where it sits in its piece, and what the model wrote."""

    piece_id: str
    start_time: float
    example: dict  # the task-feature example (inputs, targets, piece_id, start_time, ...)
    frames: np.ndarray  # decoded id frames [L, K]
    score: float  # the model's log-likelihood of `frames`


def task_examples(
    units: Sequence[dict], input_modality: str, output_modality: str, lengths: dict
) -> tf.data.Dataset:
    """The units (raw examples in numpy, `folder_source.empty_raw_numpy`'s dtypes) through
    the evaluation chain of ``input_modality -> output_modality`` minus validation."""
    records = [serialize_raw(_with_code_widths(unit)) for unit in units]

    def read(split, shuffle_files, seed=None):
        del split, shuffle_files, seed
        return tf.data.Dataset.from_tensor_slices(tf.constant(records, tf.string)).map(parse_record)

    source = seqio.FunctionDataSource(read, splits=[INFER_SPLIT])
    steps = preprocessors(source, input_modality, output_modality, training=False)
    task = seqio.Task(
        f"infer_{input_modality}_to_{output_modality}",
        source,
        output_features=output_features(),
        preprocessors=[step for step in steps if not is_validation_step(step)],
    )
    return task.get_dataset(dict(lengths), split=INFER_SPLIT, shuffle=False, seed=0)


def _with_code_widths(unit: dict) -> dict:
    """Empty code arrays as [0, K] of the vocabulary's codebooks (a target placeholder of
    the right width: the chain adds per-codebook offsets to it)."""
    from mt3_unified.vocab.unified import unified_vocabulary

    vocabulary = unified_vocabulary()
    out = dict(unit)
    for modality in ("image", "audio"):
        codes = np.asarray(unit[f"{modality}_codes"])
        if codes.size == 0:
            out[f"{modality}_codes"] = np.zeros((0, vocabulary.num_codebooks(modality)), np.int32)
    return out


def model_rows(dataset: tf.data.Dataset, lengths: dict) -> list[dict]:
    """The model's features of each example (`UnifiedFeatureConverter`), in order."""
    from mt3_unified.preprocessors.feature_converter import UnifiedFeatureConverter
    from mt3_unified.vocab.layout import VocabularyLayout

    converter = UnifiedFeatureConverter(VocabularyLayout(), continuous=continuous_run())
    return list(converter(dataset, dict(lengths)).as_numpy_iterator())


def decode_units(
    run,
    units: Sequence[dict],
    input_modality: str,
    output_modality: str,
    *,
    batch_size: int = 8,
    settings: dict | None = None,
    seed: int = 0,
    clock: dict | None = None,
) -> Iterator[Segment]:
    """Decoded segments of the units, in order (`run`: an `infer.restore.RestoredRun`).

    ``settings`` are `model.decoding.DecodingSettings`' fields; ``max_length`` defaults
    to the targets' feature length. Every batch has ``batch_size`` rows (the last filled
    with copies) so that one compiled decoder serves them all. ``clock["model"]`` (when
    given) gains the seconds spent in the model, compilation included.
    """
    if not units:
        return
    lengths = run.task_feature_lengths
    dataset = task_examples(units, input_modality, output_modality, lengths)
    examples = list(dataset.as_numpy_iterator())
    rows = model_rows(dataset, lengths)
    settings = {"max_length": lengths["targets"], **(settings or {})}
    mesh = partitioning.make_mesh(-1, 1)
    rng = jax.random.key(seed)
    done = 0
    # A file with fewer segments than batch_size is padded only to the next power of two:
    # few shapes to compile, and little work spent on copies.
    batch_size = min(batch_size, 1 << max(len(rows) - 1, 0).bit_length())
    for batch in padded_batches(rows, batch_size):
        rng, key = jax.random.split(rng)
        begin = time.perf_counter()
        with partitioning.activation_rules(mesh):
            frames, aux = run.model.predict_batch_with_aux(run.params, batch, key, **settings)
        frames, scores = np.asarray(frames), np.asarray(aux["scores"])  # waits for the device
        if clock is not None:
            clock["model"] = clock.get("model", 0.0) + time.perf_counter() - begin
        for i in range(min(batch_size, len(examples) - done)):
            example = examples[done + i]
            yield Segment(
                piece_id=as_text(example["piece_id"]),
                start_time=float(example["start_time"]),
                example=example,
                frames=frames[i],
                score=float(scores[i]),
            )
        done += min(batch_size, len(examples) - done)
