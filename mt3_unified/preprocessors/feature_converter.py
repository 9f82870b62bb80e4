"""The SeqIO feature converter: task frames -> exactly the batch the model validates.

Task features: `inputs` and `targets` frames int32 [L, K] (EOS frame last),
and the scalars `input_modality`, `target_modality`, `task`; with
`continuous=True` also `continuous_inputs` float32 [L, D] (its length is the inputs',
unless the task feature lengths name one). Model features:
`mt3_unified.model.features.MODEL_FEATURES`, padded to the lengths. No
packing: the model has no segment ids, so one example is one row.
"""

from __future__ import annotations

from collections.abc import Mapping

import seqio
import tensorflow as tf

from mt3_unified.model.features import CONTINUOUS_FEATURE, MODEL_FEATURES
from mt3_unified.preprocessors.frames import CONTINUOUS
from mt3_unified.vocab.layout import MODALITIES, PAD_ID

Spec = seqio.FeatureConverter.FeatureSpec
# The example's scalars: seqio's length checks know only sequences, so these are checked here.
TASK_SCALARS = ("input_modality", "target_modality", "task")
# Model features whose sequence comes from the targets (the rest from the inputs).
_TARGET_SIDE = tuple(name for name, spec in MODEL_FEATURES.items() if spec.target)


def _seqio_spec(name: str) -> Spec:
    """A model feature's spec as seqio states it: rank without the batch axis."""
    spec = MODEL_FEATURES[name]
    return Spec(dtype=tf.as_dtype(spec.dtype), rank=spec.rank - 1)


class UnifiedFeatureConverter(seqio.FeatureConverter):
    """Writes MODEL_FEATURES: decoder inputs are the targets shifted right one frame behind the
    BOS frame [<to:target>, PAD, ...]; loss weights are 1 on every non-PAD target slot (all
    codebooks of an RVQ frame, slot 0 of a symbolic one and of the EOS frame)."""

    TASK_FEATURES = {
        "inputs": Spec(dtype=tf.int32, rank=2),
        "targets": Spec(dtype=tf.int32, rank=2),
    }
    MODEL_FEATURES = {
        name: _seqio_spec(name) for name in MODEL_FEATURES if name != CONTINUOUS_FEATURE
    }
    PACKING_FEATURE_DTYPES = None

    def __init__(self, vocabulary, continuous: bool = False, pack: bool = False, **kwargs):
        if pack:
            raise ValueError("UnifiedFeatureConverter does not pack: the model has no segment ids")
        self.continuous = continuous
        if continuous:  # instance attributes: the class's stay those of code inputs
            self.TASK_FEATURES = {
                **type(self).TASK_FEATURES,
                CONTINUOUS: Spec(dtype=tf.float32, rank=2),
            }
            self.MODEL_FEATURES = {
                **type(self).MODEL_FEATURES,
                CONTINUOUS_FEATURE: _seqio_spec(CONTINUOUS_FEATURE),
            }
        self._bos_ids = tf.constant([vocabulary.target_id(m) for m in MODALITIES], tf.int32)
        super().__init__(pack=False, **kwargs)

    @classmethod
    def for_dataset(cls, vocabulary, ds: tf.data.Dataset, continuous: bool | None = None):
        """A converter for `ds`: with continuous inputs where `continuous` says, or (None)
        where its examples carry them (`ContinuousInputs.modalities` in gin asks for them)."""
        if continuous is None:
            continuous = CONTINUOUS in ds.element_spec
        return cls(vocabulary, continuous=continuous)

    def __call__(self, ds: tf.data.Dataset, task_feature_lengths: Mapping[str, int]):
        lengths = dict(task_feature_lengths)
        if self.continuous:  # one frame a code frame would have: the inputs' length
            lengths.setdefault(CONTINUOUS, lengths["inputs"])
        return super().__call__(ds, lengths)

    def _convert_features(
        self, ds: tf.data.Dataset, task_feature_lengths: Mapping[str, int]
    ) -> tf.data.Dataset:
        missing = [name for name in TASK_SCALARS if name not in ds.element_spec]
        if missing:
            raise ValueError(
                f"dataset lacks the task features {missing}; it has {list(ds.element_spec)}"
            )
        in_len, out_len = task_feature_lengths["inputs"], task_feature_lengths["targets"]

        def convert(example):
            targets = _pad(example["targets"], out_len)
            bos = tf.one_hot(
                [0],
                tf.shape(targets)[1],
                on_value=self._bos_ids[example["target_modality"]],
                off_value=PAD_ID,
                dtype=tf.int32,
            )
            out = {
                "encoder_input_tokens": _pad(example["inputs"], in_len),
                "encoder_input_modality": tf.cast(example["input_modality"], tf.int32),
                "target_modality": tf.cast(example["target_modality"], tf.int32),
                "task": tf.cast(example["task"], tf.int32),
                "decoder_target_tokens": targets,
                "decoder_input_tokens": tf.concat([bos, targets[:-1]], axis=0),
                "decoder_loss_weights": tf.cast(targets != PAD_ID, tf.float32),
            }
            if self.continuous:
                out[CONTINUOUS_FEATURE] = _pad(example[CONTINUOUS], in_len)
            return out

        return ds.map(convert, num_parallel_calls=tf.data.AUTOTUNE)

    def get_model_feature_lengths(self, task_feature_lengths: Mapping[str, int]) -> dict:
        """Input-side features take the inputs' length, target-side ones the targets'
        (scalars too: seqio skips rank-0 lengths)."""
        return {
            name: task_feature_lengths["targets" if name in _TARGET_SIDE else "inputs"]
            for name in self.MODEL_FEATURES
        }


def _pad(frames: tf.Tensor, length: int) -> tf.Tensor:
    """[T, ...] -> [length, ...] with zeros (PAD) after; seqio has checked T <= length."""
    frames = frames[:length]
    padded = tf.pad(frames, [[0, length - tf.shape(frames)[0]], [0, 0]])
    return tf.ensure_shape(padded, [length, frames.shape[1]])
