"""The features the model takes, declared once (a FeatureConverter-style spec), and their check.

Every sequence is a stack of frames [B, L, K]: K is the vocabulary's largest
codebook count; symbolic tokens fill slot 0 and leave PAD (0) in the other
slots, RVQ frames fill their codebooks; PAD frames are padding. The SeqIO
feature converter writes exactly MODEL_FEATURES, and the model checks each
batch against it before tracing (`check_features`).
"""

from __future__ import annotations

import dataclasses
from collections.abc import Mapping

import jax.numpy as jnp
import numpy as np

from mt3_unified.errors import Mt3UnifiedError
from mt3_unified.vocab.layout import MODALITIES, TASKS


class BatchError(Mt3UnifiedError, ValueError):
    """A batch whose features do not fit the model's config."""


@dataclasses.dataclass(frozen=True)
class FeatureSpec:
    """One feature: its dtype, its named axes (their number is its rank) and what it holds.

    An axis name stands for one size across the whole batch (every feature with
    a "target_length" axis has the same length); the model gives each name a
    fixed size or an upper bound (`check_features`). Any integer dtype passes
    for an integer spec and any float dtype for a float one.
    """

    dtype: type
    axes: tuple[str, ...]
    description: str
    # Only the loss and scores read it (not predict_batch).
    target: bool = False
    # The network reads it (False: the loss alone, e.g. per-task weights).
    network: bool = True
    # Values index these names.
    indexes: tuple[str, ...] = ()

    @property
    def rank(self) -> int:
        return len(self.axes)

    @property
    def kind(self) -> str:
        return "int" if np.issubdtype(self.dtype, np.integer) else "float"


FRAMES = ("batch", "input_length", "slot")
TARGET_FRAMES = ("batch", "target_length", "slot")
# Only when ModelConfig.continuous_input_dim is set.
CONTINUOUS_FEATURE = "encoder_continuous_inputs"

# In checking order: an axis's size is fixed by the first feature that has it.
MODEL_FEATURES: Mapping[str, FeatureSpec] = {
    "encoder_input_tokens": FeatureSpec(np.int32, FRAMES, "input frames"),
    CONTINUOUS_FEATURE: FeatureSpec(
        np.float32,
        ("batch", "input_length", "continuous"),
        "mel frames or image patches, projected where the input modality is continuous",
    ),
    "encoder_input_modality": FeatureSpec(
        np.int32, ("batch",), "the input's modality", indexes=MODALITIES
    ),
    "target_modality": FeatureSpec(
        np.int32, ("batch",), "the output's modality", indexes=MODALITIES
    ),
    "task": FeatureSpec(
        np.int32,
        ("batch",),
        "the example's task (per-task loss weights and metrics)",
        network=False,
        indexes=TASKS,
    ),
    "decoder_target_tokens": FeatureSpec(
        np.int32,
        TARGET_FRAMES,
        "output frames; the last real frame is the EOS frame [EOS, PAD, ...]",
        target=True,
    ),
    "decoder_input_tokens": FeatureSpec(
        np.int32,
        TARGET_FRAMES,
        "targets shifted right by one frame; the first is the BOS frame "
        "[<to:target>, PAD, ...] (VocabularyLayout.target_id)",
        target=True,
    ),
    "decoder_loss_weights": FeatureSpec(
        np.float32,
        TARGET_FRAMES,
        "1 on real target slots, 0 elsewhere",
        target=True,
        network=False,
    ),
}


def required_features(targets: bool, continuous: bool) -> list[str]:
    """The names a batch must hold: with or without targets, with or without continuous inputs."""
    return [
        name
        for name, spec in MODEL_FEATURES.items()
        if (targets or not spec.target) and (continuous or name != CONTINUOUS_FEATURE)
    ]


def check_features(
    batch: Mapping, names: list[str], sizes: Mapping[str, int], limits: Mapping[str, int]
) -> None:
    """Raises BatchError unless `batch` holds each of `names` with its spec's dtype and axes.

    `sizes` fixes an axis (e.g. the slots K), `limits` bounds one from above
    (e.g. the input length); any other axis (the batch) takes the size of
    the first feature that has it. A name outside MODEL_FEATURES is an
    error; a model feature that this call does not read may be present.
    Works on tracers: only shapes and dtypes are read.
    """
    unexpected = sorted(set(batch) - set(MODEL_FEATURES))
    if unexpected:
        raise BatchError(
            f"batch has unexpected features {unexpected}; the model takes {list(MODEL_FEATURES)}"
        )
    for name in names:
        if name not in batch:
            raise BatchError(f"batch lacks feature {name!r}; expected {names}")
    seen = dict(sizes)
    for name in names:
        spec = MODEL_FEATURES[name]
        value = batch[name]
        shape = tuple(getattr(value, "shape", ()))
        ok = len(shape) == spec.rank
        wanted = []
        for got, axis in zip(shape, spec.axes, strict=False):
            if axis in seen:
                ok &= got == seen[axis]
                wanted.append(f"{axis} {seen[axis]}")
            elif axis in limits:
                ok &= 0 < got <= limits[axis]
                wanted.append(f"{axis} <={limits[axis]}")
                seen[axis] = got
            else:
                wanted.append(f"{axis} {got}")
                seen[axis] = got
        wanted += [f"{axis} ?" for axis in spec.axes[len(shape) :]]
        if not ok:
            raise BatchError(f"feature {name!r} has shape {shape}; expected [{', '.join(wanted)}]")
        dtype = getattr(value, "dtype", None)
        family = jnp.integer if spec.kind == "int" else jnp.floating
        if dtype is None or not jnp.issubdtype(dtype, family):
            raise BatchError(f"feature {name!r} has dtype {dtype}; expected an {spec.kind} dtype")


def check_indices(batch: Mapping, names: list[str]) -> None:
    """Raises BatchError where a feature that indexes a list of names (modalities, tasks)
    holds a value outside it; concrete values only."""
    for name in names:
        choices = MODEL_FEATURES[name].indexes
        if not choices:
            continue
        values = np.asarray(batch[name])
        if values.size and (values.min() < 0 or values.max() >= len(choices)):
            raise BatchError(
                f"{name} must index {len(choices)} entries, got values {np.unique(values)}"
            )
