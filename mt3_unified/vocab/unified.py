"""UnifiedVocabulary: the unified id layout (`layout.py`) as a seqio.Vocabulary.

The id layout, its ranges, masks and symbolic codecs live in `layout.py`; this
module adds what seqio needs (string encode/decode in Python and in TF graphs)
and the cached factory a run uses (its sizes come from gin, through
VocabularyConfig). Its names are re-exported so that data pipelines import one module.
"""

from __future__ import annotations

import functools
from collections.abc import Iterable

import seqio
import tensorflow as tf

from mt3_unified.vocab.layout import (
    CODE_MODALITIES,
    EOS_ID,
    MODALITIES,
    PAD_ID,
    SEP_ID,
    SPECIAL_TOKENS,
    SYMBOLIC_MODALITIES,
    TASK_ALIASES,
    TASKS,
    UNK_ID,
    VOCAB_MULTIPLE,
    VocabularyConfig,
    VocabularyLayout,
    describe_layout,
)

__all__ = [
    "CODE_MODALITIES",
    "EOS_ID",
    "MODALITIES",
    "PAD_ID",
    "SEP_ID",
    "SPECIAL_TOKENS",
    "SYMBOLIC_MODALITIES",
    "TASK_ALIASES",
    "TASKS",
    "UNK_ID",
    "VOCAB_MULTIPLE",
    "UnifiedVocabulary",
    "VocabularyConfig",
    "VocabularyLayout",
    "describe_layout",
    "unified_vocabulary",
]


class UnifiedVocabulary(VocabularyLayout, seqio.Vocabulary):
    """The unified id layout with seqio's Vocabulary API (for SeqIO tasks and T5X)."""

    def __init__(self, config: VocabularyConfig | None = None):
        seqio.Vocabulary.__init__(self, extra_ids=0)
        VocabularyLayout.__init__(self, config)

    # -------------------------------------------------- seqio.Vocabulary API
    @property
    def eos_id(self) -> int:
        return EOS_ID

    @property
    def unk_id(self) -> int:
        return UNK_ID

    @property
    def _base_vocab_size(self) -> int:
        return len(self._names)

    def _encode(self, s: str) -> list[int]:
        return [self._ids.get(t, UNK_ID) for t in s.split()]

    def _decode(self, ids: Iterable[int]) -> str:
        return " ".join(self._names[i] for i in ids if i not in (PAD_ID, EOS_ID))

    @functools.cached_property
    def _tf_tables(self):
        # Made eagerly even when first asked for inside a traced function (a
        # dataset.map): a table made in that graph would be cached here and fail
        # in every later pipeline.
        with tf.init_scope():
            keys = tf.constant(self._names)
            values = tf.range(len(self._names), dtype=tf.int32)
            init = tf.lookup.KeyValueTensorInitializer(keys, values)
            return tf.lookup.StaticHashTable(init, default_value=UNK_ID), keys

    def _encode_tf(self, s: tf.Tensor) -> tf.Tensor:
        table, _ = self._tf_tables
        return table.lookup(tf.strings.split(s))

    def _decode_tf(self, ids: tf.Tensor) -> tf.Tensor:
        _, names = self._tf_tables
        words = tf.where(ids > EOS_ID, tf.gather(names, ids), "")
        joined = tf.strings.reduce_join(words, axis=-1, separator=" ")
        # Dropped pads and EOS leave runs of separators; squeeze them out.
        return tf.strings.strip(tf.strings.regex_replace(joined, " +", " "))


def unified_vocabulary(config: VocabularyConfig | None = None) -> UnifiedVocabulary:
    """The vocabulary of a config, one shared instance per config.

    None means ``VocabularyConfig()``: the sizes gin binds, read at the call so that a
    run's gin files decide (unbound, the paper's DEFAULT_CODEBOOKS x DEFAULT_CODEBOOK_SIZE).
    """
    return _cached_vocabulary(config or VocabularyConfig())


@functools.cache
def _cached_vocabulary(config: VocabularyConfig) -> UnifiedVocabulary:
    return UnifiedVocabulary(config)
