"""Training input: a dataset function's contract, examples stored as TFRecords, host batches.

A dataset function is called as `fn(batch_size=, seed=, shard_index=, num_shards=)` and
returns an endless tf.data.Dataset of this process's batches of MODEL_FEATURES (its share,
`batch_size`, of the global batch). Its iterator is checkpointed with the run, so the
pipeline must be deterministic given the seed (no py_function or from_generator after
anything that the checkpoint should restore).

The SeqIO input (`seqio_dataset`) checkpoints as it is: its Python steps (tokenizing,
image decoding) are `tf.numpy_function(stateful=False)`, which tf.data may save past,
and every random choice is seeded. The saved position holds tf.data's buffers: the
shuffle buffers and seqio's in-memory cache of a split under 10,000 examples (raw
examples, images and audio included), 11.7 MB for the tiny corpus's lmx <-> midi mixture.
tf.data's symbolic checkpointing would store positions only, but its cache op lacks it.
"""

from __future__ import annotations

import logging
from collections.abc import Iterable, Mapping

import gin
import jax
import numpy as np
import tensorflow as tf

from mt3_unified.model.features import MODEL_FEATURES


def write_example_records(path: str, examples: Iterable[Mapping[str, np.ndarray]]) -> int:
    """Writes examples (dicts of one example's MODEL_FEATURES arrays, no batch axis) as
    TFRecords; returns how many. Each feature is stored as a serialized tensor."""
    count = 0
    with tf.io.TFRecordWriter(path) as writer:
        for example in examples:
            feature = {
                name: tf.train.Feature(
                    bytes_list=tf.train.BytesList(
                        value=[tf.io.serialize_tensor(np.asarray(value)).numpy()]
                    )
                )
                for name, value in example.items()
            }
            writer.write(
                tf.train.Example(features=tf.train.Features(feature=feature)).SerializeToString()
            )
            count += 1
    return count


def _feature_names(path: str) -> list[str]:
    first = next(iter(tf.data.TFRecordDataset(path).take(1)))
    names = tf.train.Example.FromString(first.numpy()).features.feature.keys()
    return [name for name in MODEL_FEATURES if name in names]


@gin.configurable
def record_dataset(
    *,
    pattern: str = gin.REQUIRED,
    batch_size: int,
    seed: int,
    shard_index: int = 0,
    num_shards: int = 1,
    shuffle_buffer: int = 256,
) -> tf.data.Dataset:
    """Endless shuffled batches of the examples in the TFRecord files `pattern` matches (all
    of one shape, as `write_example_records` wrote them); each process reads every
    num_shards-th file, or every num_shards-th record when there are fewer files."""
    if pattern is gin.REQUIRED:
        raise ValueError("record_dataset: pattern not set; bind TRAIN_RECORDS in gin")
    files = sorted(tf.io.gfile.glob(pattern))
    if not files:
        raise FileNotFoundError(f"record_dataset: no files match {pattern}")
    names = _feature_names(files[0])
    dtypes = {name: tf.as_dtype(MODEL_FEATURES[name].dtype) for name in names}
    spec = {name: tf.io.FixedLenFeature([], tf.string) for name in names}

    def parse(record):
        fields = tf.io.parse_single_example(record, spec)
        return {name: tf.io.parse_tensor(fields[name], dtypes[name]) for name in names}

    if len(files) >= num_shards:
        records = tf.data.TFRecordDataset(files[shard_index::num_shards])
    else:
        records = tf.data.TFRecordDataset(files).shard(num_shards, shard_index)
    examples = records.map(parse)
    first = next(iter(examples.take(1)))
    shapes = {name: value.shape for name, value in first.items()}
    examples = examples.map(lambda ex: {n: tf.ensure_shape(v, shapes[n]) for n, v in ex.items()})
    examples = examples.shuffle(shuffle_buffer, seed=seed, reshuffle_each_iteration=True)
    return examples.repeat().batch(batch_size, drop_remainder=True)


def next_host_batch(iterator) -> dict:
    """The next numpy batch of a tf.data iterator made with `iter(dataset)` (which, unlike
    `as_numpy_iterator()`, a checkpoint can save)."""
    return {name: value.numpy() for name, value in next(iterator).items()}


def global_batch(local: dict, sharding) -> dict:
    """One process's batch -> the global batch, split over the mesh's data axis."""
    return {
        name: jax.make_array_from_process_local_data(sharding, value)
        for name, value in local.items()
    }


@gin.configurable
def seqio_dataset(
    *,
    mixture_or_task_name: str = gin.REQUIRED,
    task_feature_lengths: Mapping[str, int] = gin.REQUIRED,
    batch_size: int,
    seed: int,
    shard_index: int = 0,
    num_shards: int = 1,
    split: str = "train",
    use_cached: bool = False,
    continuous: bool | None = None,
    log_dropped: bool = False,
    memory_cache: bool = False,
) -> tf.data.Dataset:
    """Endless shuffled batches of a registered SeqIO task or mixture (mt3_unified.tasks),
    converted to MODEL_FEATURES by the project's feature converter; this process reads shard
    `shard_index` of `num_shards`. An unknown name fails here, listing the registered ones.
    `log_dropped`: first log, per task and reason, the examples the pipeline drops from the
    split (process 0; it reads the whole split once, minutes for a large corpus).
    `memory_cache`: let seqio cache a task of under 10,000 examples in memory after its
    pre-cache steps. Off by default: the checkpointed iterator would then hold the whole
    cache (557 MB a checkpoint for the demo corpus's eight tasks, against ~1 MB without).
    `continuous`: whether batches carry `encoder_continuous_inputs`; by default, whether the
    tasks' examples do (`ContinuousInputs.modalities` in gin asks for them)."""
    import seqio

    from mt3_unified.preprocessors.feature_converter import UnifiedFeatureConverter
    from mt3_unified.tasks import get_task_or_mixture
    from mt3_unified.vocab.layout import VocabularyLayout

    if gin.REQUIRED in (mixture_or_task_name, task_feature_lengths):
        raise ValueError("seqio_dataset: bind MIXTURE_OR_TASK_NAME and TASK_FEATURE_LENGTHS in gin")
    if log_dropped and shard_index == 0:
        log_dropped_counts(mixture_or_task_name, split, task_feature_lengths, seed)
    # seqio.get_dataset's steps, with seqio's in-memory cache under our control.
    lengths = dict(task_feature_lengths)
    ds = get_task_or_mixture(mixture_or_task_name).get_dataset(
        lengths,
        split=split,
        use_cached=use_cached,
        shuffle=True,
        seed=seed,
        shard_info=seqio.ShardInfo(index=shard_index, num_shards=num_shards),
        # Endless: seqio repeats after the cache point, and the training chains number
        # its passes (`variants.number_passes`) so that each draws variants and windows anew.
        num_epochs=None,
        try_in_mem_cache=memory_cache,
    )
    converter = UnifiedFeatureConverter.for_dataset(VocabularyLayout(), ds, continuous)
    return converter(ds, task_feature_lengths=lengths).batch(batch_size, drop_remainder=True)


def log_dropped_counts(mixture_or_task_name: str, split: str, lengths, seed: int) -> dict:
    """Logs (and returns) {task: {reason: examples}} the pipeline drops from `split`."""
    from mt3_unified.tasks.registry import dropped_counts

    counts = dropped_counts(mixture_or_task_name, split, dict(lengths), seed)
    for task, reasons in counts.items():
        dropped = {reason: n for reason, n in reasons.items() if reason != "valid" and n}
        logging.info("%s %s: %d examples kept, dropped %s", task, split,
                     reasons.get("valid", 0), dropped or "none")  # fmt: skip
    return counts
