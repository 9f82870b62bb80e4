"""Choosing one baked shift variant per unit: seeded in training, the unshifted one in evaluation.

Choices are keyed hashes of the unit's identity (piece_id, unit_index) and the
seed, never of the example's position in the stream: the same unit gets the
same choice whatever the sharding, order or restart, and another seed gives
another mix. Pure TF: these run after the cache point.
"""

from __future__ import annotations

import tensorflow as tf

# Keyed hashes take a 64-bit key pair; the second half tells the choices apart.
_SALTS = {"variant": 0x5EED_0001, "segment": 0x5EED_0002}


def unit_choice(example: dict, num_choices, *, seed: int, salt: str) -> tf.Tensor:
    """An int64 in [0, num_choices) fixed by (piece_id, unit_index, seed, salt).

    `num_choices` may be a tensor (a unit's own count of segments); it must be >= 1.
    """
    key = tf.strings.join([example["piece_id"], tf.strings.as_string(example["unit_index"])], "#")
    # A large bucket count, reduced modulo n: n is at most a few thousand, so the bias is nil.
    bucket = tf.strings.to_hash_bucket_strong(
        key, 2**62, key=[int(seed) & (2**63 - 1), _SALTS[salt]]
    )
    return tf.math.floormod(bucket, tf.cast(num_choices, tf.int64))


def select_variant(
    dataset: tf.data.Dataset, *, training: bool, num_variants: int, seed: int | None = None
) -> tf.data.Dataset:
    """Keeps one record per unit: variant 0 in evaluation; in training the variant
    `unit_choice(seed)` picks among 0..num_variants-1 (every unit must have been baked
    with `num_variants` variants; None seed means 0)."""
    if num_variants < 1:
        raise ValueError(f"num_variants must be >= 1, got {num_variants}")
    if not training or num_variants == 1:
        return dataset.filter(lambda ex: tf.equal(ex["variant"], 0))
    seed = 0 if seed is None else seed

    def chosen(example):
        pick = unit_choice(example, num_variants, seed=seed, salt="variant")
        return tf.equal(tf.cast(example["variant"], tf.int64), pick)

    return dataset.filter(chosen)
