"""Choosing one baked shift variant per unit: seeded in training, the unshifted one in evaluation;
and the numbered passes over the data that training's choices are drawn anew in.

Choices are keyed hashes of the unit's identity (piece_id, unit_index), the pass
over the data (`EPOCH`) and the seed, never of the example's position in the
stream: in a pass the same unit gets the same choice whatever the sharding, order
or restart; the next pass draws again, so that over a long run a unit meets all
its baked variants (and its audio windows, `segments`); another seed gives
another mix. Pure TF: these run after the cache point.

Passes: seqio repeats a task's examples (`get_dataset(num_epochs=...)`, endless in
training) after the cache point and before the post-cache steps, but no step can
tell which pass an example belongs to. `number_passes`, the first post-cache step
of a training chain, takes that repeat apart and numbers its passes:
`one_pass.enumerate().repeat(count)` and a `scan` whose state, the pass number,
grows by one at each example numbered 0 (each pass enumerates from 0 again); as
many passes as seqio's repeat made (one, numbered 0, without a repeat). The pass
number is the repetition's, not a position in the stream: a shard's pass k holds
its units of the whole data's pass k, so shards together still give the examples
of one. The pipeline stays stateless tf.data with seqio's own repeat in place,
and its iterator saves and restores the pass number (the scan's state) with the
position in the pass. `EPOCH` is no model feature: `frames.to_frames` leaves it out.

Not a `range(passes).flat_map(epoch -> one_pass...)`: that replaces seqio's repeat by
an iterator of the captured source built inside the flat_map's for each pass; here the
source is iterated by seqio's own repeat, as without pass numbers.
"""

from __future__ import annotations

import tensorflow as tf
from tensorflow.python.data.ops import repeat_op

# Keyed hashes take a 64-bit key pair; the second half tells the choices apart.
_SALTS = {"variant": 0x5EED_0001, "segment": 0x5EED_0002}
# The feature holding an example's pass over the data (int64), from `number_passes`.
EPOCH = "epoch"


def _with_epoch(example: dict, epoch) -> dict:
    return {**example, EPOCH: tf.cast(epoch, tf.int64)}


def number_passes(dataset: tf.data.Dataset) -> tf.data.Dataset:
    """The examples with their pass number, `EPOCH` (module docstring): seqio's
    `one_pass.repeat(count)` becomes `count` numbered passes of `one_pass` (endless for
    count -1); any other dataset is one pass, numbered 0."""
    # seqio calls `ds.repeat(num_epochs)` (num_epochs != 1) and hands the result to the
    # first post-cache step: tf.data's repeat object keeps its input and its count.
    if isinstance(dataset, repeat_op._RepeatDataset):
        one_pass, count = dataset._input_dataset, dataset._count

        def next_pass(epoch, indexed):
            index, example = indexed
            epoch = tf.where(tf.equal(index, 0), epoch + 1, epoch)
            return epoch, _with_epoch(example, epoch)

        numbered = one_pass.enumerate().repeat(count)
        return numbered.scan(tf.constant(-1, tf.int64), next_pass)
    if tf.get_static_value(dataset.cardinality()) == tf.data.INFINITE_CARDINALITY:
        # An endless input that is not a repeat would stay in pass 0 forever.
        raise ValueError(
            f"number_passes: an endless {type(dataset).__name__} that is not a repeat; "
            "the first post-cache step expects seqio's `repeat(num_epochs)`"
        )
    return dataset.map(lambda ex: _with_epoch(ex, 0))


def unit_choice(example: dict, num_choices, *, seed: int, salt: str) -> tf.Tensor:
    """An int64 in [0, num_choices) fixed by (piece_id, unit_index, pass, seed, salt); the
    pass is the example's `EPOCH` (0 without one).

    `num_choices` may be a tensor (a unit's own count of segments); it must be >= 1.
    """
    epoch = example.get(EPOCH, tf.constant(0, tf.int64))
    key = tf.strings.join(
        [
            example["piece_id"],
            tf.strings.as_string(example["unit_index"]),
            tf.strings.as_string(epoch),
        ],
        "#",
    )
    # A large bucket count, reduced modulo n: n is at most a few thousand, so the bias is nil.
    bucket = tf.strings.to_hash_bucket_strong(
        key, 2**62, key=[int(seed) & (2**63 - 1), _SALTS[salt]]
    )
    return tf.math.floormod(bucket, tf.cast(num_choices, tf.int64))


def select_variant(
    dataset: tf.data.Dataset, *, training: bool, num_variants: int, seed: int | None = None
) -> tf.data.Dataset:
    """Keeps one record per unit: variant 0 in evaluation; in training the variant
    `unit_choice(seed)` picks among 0..num_variants-1, anew in each pass (`EPOCH`; every
    unit must have been baked with `num_variants` variants; None seed means 0)."""
    if num_variants < 1:
        raise ValueError(f"num_variants must be >= 1, got {num_variants}")
    if not training or num_variants == 1:
        return dataset.filter(lambda ex: tf.equal(ex["variant"], 0))
    seed = 0 if seed is None else seed

    def chosen(example):
        pick = unit_choice(example, num_variants, seed=seed, salt="variant")
        return tf.equal(tf.cast(example["variant"], tf.int64), pick)

    return dataset.filter(chosen)
